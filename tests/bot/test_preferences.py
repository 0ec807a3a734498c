"""Customer preferences: the store (SQLite and PostgreSQL), quiet-hours maths, reading them
from the customer's words (bot/support/preferences.py) and the replies that say what was kept."""

from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import insert

from bot.db.migrate import migrate
from bot.db.schema import journey_customers
from bot.preferences import InvalidPreference, Preferences, PreferenceStore, checked
from bot.support import preferences as words
from bot.support.preferences import from_button, understand

T0 = datetime(2025, 3, 12, 10, 0)


@pytest.fixture
def store(journey_engine):
    with journey_engine.begin() as conn:
        for customer in ("C001", "anon-rest-visitor"):
            conn.execute(insert(journey_customers).values(id=customer, created_at=T0))
    return PreferenceStore(journey_engine, now=lambda: T0)


# -- the store -----------------------------------------------------------------------------


def test_nothing_stated_reads_as_all_defaults(store):
    assert store.get("C001") == Preferences()
    assert store.get(None) == Preferences()
    assert store.get("C999") == Preferences()
    assert not store.get("C001").stated


def test_updates_add_up_and_none_clears_one(store):
    store.update("C001", name="Sam")
    store.update("C001", quiet_from="21:00", quiet_until="08:00")
    assert store.get("C001") == Preferences(name="Sam", quiet_from="21:00", quiet_until="08:00")
    kept = store.update("C001", name=None, channel="slack")
    assert kept == store.get("C001")
    assert store.get("C001").as_dict() == {
        "channel": "slack",
        "quiet_from": "21:00",
        "quiet_until": "08:00",
    }
    assert store.get("anon-rest-visitor") == Preferences()  # kept per customer


def test_an_anonymous_visitor_keeps_preferences_on_their_journey_id(store):
    store.update("anon-rest-visitor", name="Sam")
    assert store.get("anon-rest-visitor").name == "Sam"


def test_forget_clears_everything_and_is_idempotent(store):
    store.update("C001", name="Sam", formality="first_name")
    store.forget("C001")
    store.forget("C001")
    assert store.get("C001") == Preferences()


@pytest.mark.parametrize(
    "changes, problem",
    [
        ({"channel": "carrier pigeon"}, "channel must be one of"),
        ({"formality": "posh"}, "formality must be one of"),
        ({"quiet_from": "9pm", "quiet_until": "08:00"}, "quiet_from must be a time"),
        ({"quiet_from": "21:00"}, "need both a start and an end"),
        ({"name": " "}, "a name must be"),
        ({"nickname": "Sam"}, "no preference named nickname"),
    ],
)
def test_values_we_cannot_keep_are_refused_with_the_reason(store, changes, problem):
    with pytest.raises(InvalidPreference, match=problem):
        store.update("C001", **changes)
    assert store.get("C001") == Preferences()  # nothing half-written


def test_only_customers_in_the_journey_have_preferences(store):
    with pytest.raises(InvalidPreference, match="no customer 'C999'"):
        store.update("C999", name="Sam")


# -- quiet hours and how to address the customer -------------------------------------------


@pytest.mark.parametrize(
    "window, clock, quiet",
    [
        (("21:00", "08:00"), "20:59", False),
        (("21:00", "08:00"), "21:00", True),
        (("21:00", "08:00"), "23:59", True),
        (("21:00", "08:00"), "00:00", True),
        (("21:00", "08:00"), "07:59", True),
        (("21:00", "08:00"), "08:00", False),
        (("12:00", "14:00"), "13:00", True),  # a window inside one day
        (("12:00", "14:00"), "14:00", False),
        (("12:00", "14:00"), "11:59", False),
        (("09:00", "09:00"), "09:00", False),  # an empty window is never quiet
        ((None, None), "03:00", False),
    ],
)
def test_quiet_hours_including_windows_that_wrap_past_midnight(window, clock, quiet):
    prefs = Preferences(quiet_from=window[0], quiet_until=window[1])
    hours, minutes = map(int, clock.split(":"))
    assert prefs.quiet_at(datetime(2025, 3, 12, hours, minutes)) is quiet


def test_quiet_hours_end_the_same_morning_or_the_next():
    prefs = Preferences(quiet_from="21:00", quiet_until="08:00")
    assert prefs.quiet_ends(datetime(2025, 3, 12, 23, 30)) == datetime(2025, 3, 13, 8, 0)
    assert prefs.quiet_ends(datetime(2025, 3, 13, 2, 0)) == datetime(2025, 3, 13, 8, 0)
    assert prefs.quiet_ends(datetime(2025, 3, 12, 12, 0)) == datetime(2025, 3, 12, 12, 0)


def test_the_customer_is_addressed_as_they_asked():
    assert Preferences(name="Sam").address("Samantha Jones") == "Sam"
    assert Preferences().address("Samantha Jones") == "Samantha"
    assert Preferences(formality="formal").address("Samantha Jones") == "Samantha Jones"
    assert Preferences(name="Sam").address(None) == "Sam"
    assert Preferences().address(None) == ""


def test_checked_accepts_a_complete_set():
    prefs = Preferences("Ms Okafor", "formal", "socketio", "22:00", "07:30")
    assert checked(prefs) is prefs


# -- reading preferences from the customer's words -----------------------------------------


@pytest.mark.parametrize(
    "text, changes",
    [
        # names
        ("call me Sam", {"name": "Sam"}),
        ("just call me sam please", {"name": "Sam"}),
        ("you can call me Alex from now on", {"name": "Alex"}),
        ("call me captain from now on", {"name": "Captain"}),
        ("I'd prefer to be called Chris", {"name": "Chris"}),
        ("I go by Liz", {"name": "Liz"}),
        ("call me DJ", {"name": "DJ"}),  # capitals are theirs to choose
        ("Call me Sam. Thanks!", {"name": "Sam"}),
        ("please call me Ms Okafor", {"name": "Ms Okafor", "formality": "formal"}),
        ("address me as Dr. Jones please", {"name": "Dr. Jones", "formality": "formal"}),
        ("don't call me Samuel, call me Sam", {"name": "Sam"}),
        ("stop calling me Sam", {"name": None}),
        # formality
        ("you can use my first name", {"formality": "first_name"}),
        ("call me by my first name", {"formality": "first_name"}),
        ("first name is fine", {"formality": "first_name"}),
        ("first names are fine with me", {"formality": "first_name"}),
        ("no need to be so formal", {"formality": "first_name"}),
        ("stop calling me by my full name", {"formality": "first_name"}),
        ("please be formal", {"formality": "formal"}),
        ("please address me formally", {"formality": "formal"}),
        ("use my surname please", {"formality": "formal"}),
        # channels
        ("I prefer Slack", {"channel": "slack"}),
        ("message me on Slack", {"channel": "slack"}),
        ("can you send updates to my slack instead", {"channel": "slack"}),
        ("contact me here on the website chat", {"channel": "socketio"}),
        ("I'd rather you messaged me here in the chat", {"channel": "socketio"}),
        ("i'm not on slack, use the website chat", {"channel": "socketio"}),
        # quiet hours
        ("don't message me after 9pm", {"quiet_from": "21:00", "quiet_until": "08:00"}),
        ("not after 9", {"quiet_from": "21:00", "quiet_until": "08:00"}),
        ("no messages after 10:30", {"quiet_from": "22:30", "quiet_until": "08:00"}),
        ("no messages between 22:00 and 7:30", {"quiet_from": "22:00", "quiet_until": "07:30"}),
        ("don't message me between 10pm and 7am", {"quiet_from": "22:00", "quiet_until": "07:00"}),
        ("quiet hours 10pm to 7am", {"quiet_from": "22:00", "quiet_until": "07:00"}),
        ("not before 8am", {"quiet_from": "21:00", "quiet_until": "08:00"}),
        (
            "please don't contact me before 9 or after 6",
            {"quiet_from": "18:00", "quiet_until": "09:00"},
        ),
        ("best time to reach me is 9 to 5", {"quiet_from": "17:00", "quiet_until": "09:00"}),
        ("only contact me between 8am and 6pm", {"quiet_from": "18:00", "quiet_until": "08:00"}),
        ("during working hours only please", {"quiet_from": "17:00", "quiet_until": "09:00"}),
        ("don't send me anything at night", {"quiet_from": "21:00", "quiet_until": "08:00"}),
        ("pls dont text me late at night", {"quiet_from": "21:00", "quiet_until": "08:00"}),
        ("no messages after midnight", {"quiet_from": "00:00", "quiet_until": "08:00"}),
        ("you can message me any time", {"quiet_from": None, "quiet_until": None}),
        ("remove my quiet hours", {"quiet_from": None, "quiet_until": None}),
        ("set my quiet hours to 22:00-07:00", {"quiet_from": "22:00", "quiet_until": "07:00"}),
        ("no texts after 8", {"quiet_from": "20:00", "quiet_until": "08:00"}),
        ("keep messaging me here on the website", {"channel": "socketio"}),
        # several at once
        (
            "call me Sam and no messages after 9pm",
            {"name": "Sam", "quiet_from": "21:00", "quiet_until": "08:00"},
        ),
        (
            "contact me on slack but not before 9",
            {"channel": "slack", "quiet_from": "21:00", "quiet_until": "09:00"},
        ),
    ],
)
def test_preferences_are_read_from_many_phrasings(text, changes):
    understood = understand(text)
    assert understood.changes == changes
    assert not understood.forget and understood.other_channel is None


@pytest.mark.parametrize(
    "text",
    [
        "call me a taxi",
        "call me an uber",
        "call me back",
        "can someone call me back tomorrow",
        "call me after 9pm",
        "call me 555-0199",
        "call me maybe",
        "what is your name",
        "what time do you open",
        "where is my order",
        "I want to change how you contact me",
        "update my preferences",
        "I ordered 1 to 2 chairs",
        "",
    ],
)
def test_sentences_that_state_no_preference_change_nothing(text):
    assert not understand(text).anything


@pytest.mark.parametrize("text", ["forget my preferences", "reset", "clear my settings"])
def test_forgetting_preferences(text):
    assert understand(text).forget


@pytest.mark.parametrize(
    "text, channel",
    [
        ("can you email me instead", "email"),
        ("please contact me by phone", "phone"),
        ("I'd prefer a text message", "text message"),
        ("whatsapp me", "WhatsApp"),
    ],
)
def test_channels_we_cannot_message_on_are_recognised(text, channel):
    assert understand(text).other_channel == channel


def test_one_end_of_quiet_hours_keeps_the_other_already_stated():
    current = Preferences(quiet_from="22:30", quiet_until="06:00")
    assert understand("not before 7", current).changes == {
        "quiet_from": "22:30",
        "quiet_until": "07:00",
    }
    assert understand("no messages after 8pm", current).changes == {
        "quiet_from": "20:00",
        "quiet_until": "06:00",
    }


def test_a_new_formality_replaces_a_stated_name_that_contradicts_it():
    assert understand("please be formal", Preferences(name="Sam")).changes == {
        "formality": "formal",
        "name": None,
    }
    assert understand("use my first name", Preferences(name="Ms Okafor")).changes == {
        "formality": "first_name",
        "name": None,
    }
    assert understand("please be formal", Preferences(name="Dr Jones")).changes == {
        "formality": "formal"
    }


def test_button_payloads():
    assert from_button("channel:slack").changes == {"channel": "slack"}
    assert from_button("quiet:none").changes == {"quiet_from": None, "quiet_until": None}
    assert from_button("forget").forget
    assert from_button("colour:blue") is None and from_button(None) is None


# -- what the customer hears ---------------------------------------------------------------


def test_a_kept_preference_is_said_back_by_name(store):
    store.update("C001", name="Sam")
    reply = words.change(store, "C001", "don't message me after 9pm", full_name="Samantha Jones")
    [message] = reply.messages
    assert message.response == "utter_preference_kept_by_name"
    assert message.params == {"name": "Sam", "kept": "no messages from 21:00 to 08:00"}
    assert message.buttons == [{"title": "See my preferences", "payload": "/show_preferences"}]
    assert reply.slots == {}  # the name did not change
    assert store.get("C001").quiet_hours_text() == "21:00-08:00"


def test_a_new_name_is_greeted_and_set_as_the_slot(store):
    reply = words.change(store, "anon-rest-visitor", "call me Sam")
    assert reply.responses == ["utter_preference_name_kept"]
    assert reply.messages[0].params == {"name": "Sam"}
    assert reply.slots == {"customer_name": "Sam"}
    reply = words.change(store, "C001", "please be formal", full_name="Samantha Jones")
    assert reply.slots == {"customer_name": "Samantha Jones"}
    assert reply.messages[0].params["kept"] == "I'll address you formally"


def test_an_anonymous_visitor_hears_what_was_kept_without_a_name(store):
    reply = words.change(store, "anon-rest-visitor", "I prefer Slack")
    assert reply.responses == ["utter_preference_kept"]
    assert reply.messages[0].params == {"kept": "when there's news, I'll message you on Slack"}


def test_several_changes_are_said_in_one_sentence(store):
    reply = words.change(store, "C001", "message me on slack, not after 10pm", full_name="Jane Doe")
    assert reply.messages[0].params["kept"] == (
        "when there's news, I'll message you on Slack and no messages from 22:00 to 08:00"
    )


def test_unclear_requests_ask_what_to_change_with_examples(store):
    reply = words.change(store, "C001", "I want to change how you contact me")
    assert reply.responses == ["utter_preference_ask"]
    assert [b["payload"] for b in reply.messages[0].buttons] == [
        "/show_preferences",
        '/set_preference{"preference":"channel:slack"}',
        '/set_preference{"preference":"channel:socketio"}',
    ]
    assert store.get("C001") == Preferences()


@pytest.mark.parametrize("text", ["my contact preferences", "what are my preferences?"])
def test_a_question_about_what_we_keep_is_answered_with_the_view(store, text):
    # The classifier may take a question for a change: nothing changes, the view answers.
    assert words.change(store, "C001", text).responses == ["utter_preferences_none"]


def test_another_channel_is_answered_with_the_ones_we_have(store):
    reply = words.change(store, "C001", "can you email me instead")
    assert reply.responses == ["utter_preference_channel_elsewhere"]
    assert reply.messages[0].params == {"asked": "email"}
    assert len(reply.messages[0].buttons) == 2
    assert store.get("C001") == Preferences()


def test_a_button_overrules_the_text(store):
    words.change(store, "C001", "/set_preference", button_value="channel:socketio")
    assert store.get("C001").channel == "socketio"


def test_forgetting_goes_back_to_the_name_on_the_account(store):
    store.update("C001", name="Sam", channel="slack")
    reply = words.change(store, "C001", "forget my preferences", full_name="Samantha Jones")
    assert reply.responses == ["utter_preferences_forgotten"]
    assert reply.slots == {"customer_name": "Samantha"}
    assert store.get("C001") == Preferences()


def test_the_view_of_all_preferences(store):
    assert words.show(store, "C001").responses == ["utter_preferences_none"]
    store.update(
        "C001",
        name="Sam",
        formality="first_name",
        channel="socketio",
        quiet_from="21:00",
        quiet_until="08:00",
    )
    reply = words.show(store, "C001")
    [message] = reply.messages
    assert message.response == "utter_preferences_summary"
    assert message.params["summary"] == (
        "- Name: Sam\n- Address: first name\n- Channel: the website chat\n"
        "- Quiet hours: no messages from 21:00 to 08:00"
    )
    assert [b["title"] for b in message.buttons] == [
        "Message me any time",
        "Forget my preferences",
    ]


# -- an anonymous visitor who identifies -----------------------------------------------------


def test_an_anonymous_visitors_preferences_move_to_the_customer_they_turn_out_to_be(engine):
    from bot.preferences import move_preferences

    migrate(engine)
    with engine.begin() as conn:
        for customer in ("C001", "C002", "anon-1", "anon-2"):
            conn.execute(insert(journey_customers).values(id=customer, created_at=T0))
    early = PreferenceStore(engine, now=lambda: T0)
    late = PreferenceStore(engine, now=lambda: datetime(2025, 3, 12, 11, 0))
    early.update("C001", name="Jane", channel="slack", quiet_from="22:00", quiet_until="07:00")
    late.update("anon-1", name="Sam")
    early.update("anon-2", formality="formal")

    with engine.begin() as conn:
        move_preferences(conn, "anon-1", "C001")  # stated later: the new name wins
    assert early.get("C001") == Preferences(
        name="Sam", channel="slack", quiet_from="22:00", quiet_until="07:00"
    )
    assert early.get("anon-1") == Preferences()

    with engine.begin() as conn:
        move_preferences(conn, "anon-2", "C002")  # no row yet: the row moves
    assert early.get("C002") == Preferences(formality="formal")
    with engine.begin() as conn:
        move_preferences(conn, "anon-unknown", "C001")  # nothing to move
    assert early.get("C001").name == "Sam"


def test_here_is_the_channel_of_this_conversation():
    assert understand("please contact me here", here="slack").changes == {"channel": "slack"}
    assert understand("please contact me here", here="socketio").changes == {"channel": "socketio"}
    # A REST integration can't be messaged later: "here" falls back to the website chat.
    assert understand("message me in this chat", here="rest").changes == {"channel": "socketio"}
    # Naming the website wins over where they write from.
    assert understand("contact me on the website chat", here="slack").changes == {
        "channel": "socketio"
    }


def test_a_visitor_who_signs_in_keeps_what_they_said_before(engine):
    from bot.journey.store import JourneyStore, Turn

    migrate(engine)
    journey = JourneyStore(engine, lambda: T0)
    anonymous = journey.record(Turn("web-9", "socketio", T0))
    prefs = PreferenceStore(engine, now=lambda: T0)
    prefs.update(anonymous.customer_id, name="Sam", quiet_from="21:00", quiet_until="08:00")
    journey.record(Turn("web-9", "socketio", T0, customer_id="C001", customer_name="Jane Doe"))
    kept = prefs.get("C001")
    assert (kept.name, kept.quiet_hours_text()) == ("Sam", "21:00-08:00")
    assert prefs.get(anonymous.customer_id) == Preferences()
