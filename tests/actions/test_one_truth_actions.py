"""News told the moment we know who it is (issue 21), under the trust rule: an email typed on
its own starts verification (a one-time code); the code passed, waiting news comes first."""

from __future__ import annotations

from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.conversation import ActionGreet
from actions.needs import ActionServeNeed, ActionTakeDetail
from tests.actions.conftest import make_tracker


def waiting_delay(desk, order_id="ORD-10004", customer="C002", new_date="2025-03-20"):
    body = {"id": f"d-{order_id}", "type": "shipment.delayed", "order_id": order_id,
            "new_date": new_date, "reason": "a storm at the hub"}  # fmt: skip
    desk.proactive.take_in(desk.events.check("delivery", body), customer)
    [claimed] = desk.proactive.claim_due()
    desk.proactive.wait_for_contact(claimed.id, "no live channel")
    return claimed


def responses(dispatcher):
    return [m["response"] for m in dispatcher.messages]


def test_an_email_typed_on_its_own_sends_a_code_and_the_code_tells_the_news_once(
    use_test_desk,
):
    event = waiting_delay(use_test_desk)
    hello = make_tracker(
        "greet",
        "hi, this is omar@example.com",
        entities=[{"entity": "email", "value": "omar@example.com"}],
        sender="omar-rest",
    )
    dispatcher = CollectingDispatcher()
    events = ActionGreet().run(dispatcher, hello, {})
    assert responses(dispatcher) == ["utter_greet", "utter_code_sent"]
    # Not verified yet: no name, no news, nothing about the order.
    assert SlotSet("customer_id", "C002") not in events
    assert use_test_desk.proactive.get(event.id).state == "waiting"
    code = use_test_desk.verifier.mailer.last_code("omar@example.com")
    typed = make_tracker("inform", code, sender="omar-rest", slots={"email": "omar@example.com"})
    dispatcher = CollectingDispatcher()
    events = ActionTakeDetail().run(dispatcher, typed, {})
    assert responses(dispatcher) == ["utter_verified", "utter_proactive_shipment_delayed"]
    assert dispatcher.messages[0]["name"] == "Omar"
    assert SlotSet("customer_id", "C002") in events
    told = use_test_desk.proactive.get(event.id)
    assert (told.state, told.conversation_id) == ("told", "omar-rest")
    # The answer about the same order carries the new date, not the news again.
    asking = make_tracker(
        "order_status",
        "where is ORD-10004?",
        sender="omar-rest",
        slots={
            "customer_id": "C002",
            "verified_by": "one_time_code",
            "customer_name": "Omar",
            "need": "order_status",
            "order_id": "ORD-10004",
        },  # fmt: skip
    )
    dispatcher = CollectingDispatcher()
    ActionServeNeed().run(dispatcher, asking, {})
    assert responses(dispatcher) == ["utter_order_preparing"]
    assert dispatcher.messages[0]["expected"] == "Thursday 20 March"


def test_a_wrong_code_tells_nothing(use_test_desk):
    event = waiting_delay(use_test_desk)
    asked = make_tracker(
        "inform",
        "omar@example.com",
        entities=[{"entity": "email", "value": "omar@example.com"}],
        sender="guess",
    )
    ActionTakeDetail().run(CollectingDispatcher(), asked, {})
    code = use_test_desk.verifier.mailer.last_code("omar@example.com")
    wrong = "000000" if code != "000000" else "111111"
    dispatcher = CollectingDispatcher()
    events = ActionTakeDetail().run(dispatcher, make_tracker("inform", wrong, sender="guess"), {})
    assert responses(dispatcher) == ["utter_code_wrong"]
    assert not [e for e in events if e.get("name") == "customer_id" and e.get("value")]
    assert use_test_desk.proactive.get(event.id).state == "waiting"


def test_verified_with_no_news_hears_what_we_can_do(use_test_desk):
    asked = make_tracker(
        "inform",
        "jane.doe@example.com",
        entities=[{"entity": "email", "value": "jane.doe@example.com"}],
        sender="jane-rest",
    )
    ActionTakeDetail().run(CollectingDispatcher(), asked, {})
    code = use_test_desk.verifier.mailer.last_code("jane.doe@example.com")
    dispatcher = CollectingDispatcher()
    ActionTakeDetail().run(dispatcher, make_tracker("inform", code, sender="jane-rest"), {})
    assert responses(dispatcher) == ["utter_verified", "utter_what_can_i_do"]


def test_news_waiting_comes_before_the_answer_when_the_form_just_verified(use_test_desk):
    event = waiting_delay(use_test_desk)
    serving = make_tracker(
        "order_status",
        "it's 123456",
        sender="form-verified",
        slots={
            "customer_id": "C002",
            "verified_by": "one_time_code",
            "customer_name": "Omar",
            "need": "order_status",
            "order_id": "ORD-10004",
        },  # fmt: skip
    )
    dispatcher = CollectingDispatcher()
    ActionServeNeed().run(dispatcher, serving, {})
    assert responses(dispatcher) == ["utter_proactive_shipment_delayed", "utter_order_preparing"]
    assert use_test_desk.proactive.get(event.id).state == "told"


def test_a_contact_that_joined_open_work_is_a_repeat_contact_not_a_new_handoff(use_test_desk):
    from datetime import timedelta

    from sqlalchemy import select

    from bot.analytics.metrics import handoffs_per_department, repeat_contact_rate
    from bot.db.schema import handoff_contacts
    from tests.conftest import NOW

    desk = use_test_desk
    jane = {"customer_id": "C001", "verified_by": "website", "customer_name": "Jane",
            "need": "order_late", "order_id": "ORD-10002"}  # fmt: skip
    first = CollectingDispatcher()
    ActionServeNeed().run(
        first, make_tracker("order_late", "it's late", slots=jane, sender="a"), {}
    )
    assert "utter_handed_off" in responses(first)
    desk.journey._now = lambda: NOW + timedelta(hours=3)  # the second chat, later that day
    second = CollectingDispatcher()
    ActionServeNeed().run(
        second, make_tracker("order_late", "still late", slots=jane, sender="b"), {}
    )
    assert responses(second)[-1] == "utter_handoff_already_open"
    engine = desk.handoffs.engine
    assert handoffs_per_department(engine) == {"delivery": 1}
    assert repeat_contact_rate(engine) == 0.5  # the first chat was followed by the second
    with engine.connect() as conn:
        [contact] = conn.execute(select(handoff_contacts)).all()
    assert contact.conversation_id == "b" and contact.touchpoint_id is not None
    # CX review: the second conversation shows the open work it joined.
    from bot.analytics.conversation import conversation
    from bot.hub.templating import environment

    view = conversation(engine, contact.touchpoint_id)
    [joined] = view.joined_handoffs
    assert (joined["id"], joined["conversation_id"], joined["status"]) == (
        contact.handoff_id,
        "a",
        "open",
    )
    assert view.handoffs == []  # no handoff of its own
    page = environment().get_template("review/_joined_handoffs.html").render(view=view)
    assert f"Joined open handoff <strong>H-{contact.handoff_id}</strong>" in page
    assert "a repeat contact, not a new handoff" in page


# -- adding information to open work ----------------------------------------------------
def add_form_domain():
    import yaml

    from bot.settings import ROOT

    return yaml.safe_load((ROOT / "domain.yml").read_text())


JANE = {"customer_id": "C001", "verified_by": "website", "customer_name": "Jane",
        "need": "order_late", "order_id": "ORD-10002"}  # fmt: skip


def jane_joined(desk):
    """Jane's late order handed off in chat "a", joined by chat "b": the handoff id."""
    ActionServeNeed().run(
        CollectingDispatcher(), make_tracker("order_late", "it's late", slots=JANE, sender="a"), {}
    )
    joined = CollectingDispatcher()
    ActionServeNeed().run(joined, make_tracker("order_late", "still", slots=JANE, sender="b"), {})
    [message] = [m for m in joined.messages if m["response"] == "utter_handoff_already_open"]
    assert [b["title"] for b in message["buttons"]] == [
        "Add something for them",
        "That's all, thanks",
    ]
    return desk.handoffs.open_work_of("b", "C001").id


def validate(tracker):
    import asyncio

    from actions.handoff_additions import ValidateAddInformationForm

    dispatcher = CollectingDispatcher()
    events = asyncio.run(ValidateAddInformationForm().run(dispatcher, tracker, add_form_domain()))
    return {e["name"]: e["value"] for e in events if e.get("event") == "slot"}


def adding(intent, text, sender="b", requested=None, slots=JANE):
    tracker = make_tracker(intent, text, slots=slots, sender=sender)
    tracker.slots["requested_slot"] = requested
    tracker.slots["handoff_addition"] = None
    tracker.active_loop = {"name": "add_information_form"}
    return tracker


def test_the_addition_form_takes_what_the_request_carries_or_asks_for_it(use_test_desk):
    jane_joined(use_test_desk)
    # "tell them X" fills it at once: no question.
    said = validate(adding("add_information", "tell them the parcel was left at number 12"))
    assert said == {"handoff_addition": "the parcel was left at number 12"}
    # "I want to add something": nothing to pass on yet, so the form asks for it.
    assert "handoff_addition" not in validate(adding("add_information", "I want to add something"))
    # The answer to the question is taken whole, whatever NLU made of it.
    answer = adding("report_damaged_item", "the box was soaking wet", requested="handoff_addition")
    assert validate(answer)["handoff_addition"] == "the box was soaking wet"
    # A no, or a person instead, is not something to pass on.
    for intent, text in (("deny", "never mind"), ("request_human", "let me talk to a person")):
        assert "handoff_addition" not in validate(
            adding(intent, text, requested="handoff_addition")
        )
    # Nothing open in this chat for this customer: no question (the form ends at once).
    assert validate(adding("add_information", "I want to add something", sender="z")) == {
        "requested_slot": None
    }


def test_the_question_names_the_team_and_the_addition_is_passed_on_once(use_test_desk):
    from sqlalchemy import select

    from actions.handoff_additions import ActionAskHandoffAddition, ActionPassOnAddition
    from bot.db.schema import outbox

    handoff_id = jane_joined(use_test_desk)
    asked = CollectingDispatcher()
    ActionAskHandoffAddition().run(asked, adding("add_information", "add something"), {})
    assert asked.messages[0]["response"] == "utter_ask_handoff_addition"
    assert asked.messages[0]["reference"] == f"H-{handoff_id}"
    tracker = adding("inform", "the box was soaking wet")
    tracker.slots["handoff_addition"] = "the box was soaking wet"
    for _ in range(2):  # the action run twice for one message (a retry): one update
        dispatcher = CollectingDispatcher()
        events = ActionPassOnAddition().run(dispatcher, tracker, {})
        assert responses(dispatcher) == ["utter_addition_passed_on"]
        assert dispatcher.messages[0]["reference"] == f"H-{handoff_id}"
        assert SlotSet("handoff_addition", None) in events
    with use_test_desk.handoffs.engine.connect() as conn:
        keys = conn.execute(
            select(outbox.c.idempotency_key).where(outbox.c.idempotency_key.like("add-%"))
        ).all()
    assert len(keys) == 1
    # Another customer in that same chat (a different verified identity) adds nothing.
    li = {**JANE, "customer_id": "C003", "customer_name": "Li"}
    stranger = adding("inform", "send it to me", slots=li)
    stranger.slots["handoff_addition"] = "send it to me"
    dispatcher = CollectingDispatcher()
    ActionPassOnAddition().run(dispatcher, stranger, {})
    assert responses(dispatcher) == ["utter_no_open_work_to_add_to"]
