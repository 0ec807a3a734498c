"""AgentDesk on a real journey database (SQLite, and PostgreSQL when TEST_POSTGRES_URL is set),
talking to a fake Rasa HTTP API and a fake Slack Web API over real sockets."""

from __future__ import annotations

import json
import threading

import pytest
from sqlalchemy import func, select

from bot.agents import AlreadyTaken, CannotReach, Invalid, NotFound, NotHolding, RelayFailed
from bot.agents.announcements import HANDED_BACK, JOINED, RESOLVED
from bot.db.schema import agent_notes, handoffs, outbox, takeovers, touchpoints
from bot.rasa.channels.slack_api import SlackWebApi
from tests.bot.agents.conftest import LEASE


def bot_texts(rasa, conversation_id) -> list[str]:
    return [e.get("text") for e in rasa.events(conversation_id) if e["event"] == "bot"]


def handoff_row(engine, handoff_id):
    with engine.connect() as conn:
        return conn.execute(select(handoffs).where(handoffs.c.id == handoff_id)).one()


def touchpoint_outcome(engine, conversation_id) -> str:
    with engine.connect() as conn:
        return conn.execute(
            select(touchpoints.c.outcome).where(touchpoints.c.conversation_id == conversation_id)
        ).scalar_one()


def takeover_rows(engine, conversation_id):
    with engine.connect() as conn:
        return conn.execute(
            select(takeovers)
            .where(takeovers.c.conversation_id == conversation_id)
            .order_by(takeovers.c.id)
        ).all()


# -- the queue ---------------------------------------------------------------------------------
def test_the_queue_orders_by_frustration_then_tier_then_waiting_against_the_sla(setting):
    clock = setting.clock
    setting.escalate("oldest-standard", customer="C004", name="Sam", tier="standard")
    clock.advance(minutes=10)
    setting.escalate("calm-gold", customer="C001", name="Jane", tier="gold")
    clock.advance(minutes=10)
    setting.escalate("anonymous", frustration=0)
    clock.advance(minutes=10)
    setting.escalate("newer-standard", customer="C002", name="Omar", tier="standard")
    clock.advance(minutes=10)
    setting.escalate(
        "angry-standard", customer="C005", name="Maria", tier="standard", frustration=3
    )
    clock.advance(minutes=5)

    queue = setting.desk.queue()
    assert [e.conversation_id for e in queue] == [
        "angry-standard",  # frustration first, even newest and standard tier
        "calm-gold",  # then the gold customer
        "oldest-standard",  # then the longest wait against the 1 h service level
        "newer-standard",
        "anonymous",  # an unknown tier ranks below every known one
    ]
    first = queue[0].as_json()
    assert first["why"] == "frustration 3 · standard tier · waiting 5 min of the 1 h promise"
    assert (first["waiting_seconds"], first["sla_seconds"], first["overdue"]) == (300, 3600, False)
    clock.advance(minutes=30)  # Sam has now waited 75 minutes
    sam = next(e for e in setting.desk.queue() if e.conversation_id == "oldest-standard")
    assert sam.overdue and "past the 1 h promise" in sam.why()


def test_taken_conversations_come_after_waiting_ones_and_say_who_has_them(setting):
    ana = setting.agent("ana", "Ana")
    setting.escalate("angry", frustration=5)
    setting.escalate("calm")
    setting.desk.take("angry", ana)
    queue = setting.desk.queue()
    assert [(e.conversation_id, e.taken_by and e.taken_by.display_name) for e in queue] == [
        ("calm", None),
        ("angry", "Ana"),
    ]
    assert queue[1].as_json(ana.id)["mine"] and not queue[1].as_json(ana.id + 1)["mine"]


def test_resolved_escalations_leave_the_queue_and_other_departments_never_enter_it(setting):
    ana = setting.agent("ana", "Ana")
    setting.escalate("done")
    setting.desk.take("done", ana)
    setting.desk.resolve("done", ana, "Sorted out the login problem")
    setting.escalate("billing-only", need="charged_twice")
    with setting.engine.begin() as conn:
        conn.execute(handoffs.update().values(department="billing"))
    assert setting.desk.queue() == []


# -- taking over -------------------------------------------------------------------------------
def test_taking_over_pauses_the_assistant_and_tells_the_web_customer(setting):
    ana = setting.agent("ana", "Ana")
    handoff_id = setting.escalate("web-1")
    held = setting.desk.take("web-1", ana)

    assert (held.agent.display_name, held.status, held.channel) == ("Ana", "active", "socketio")
    assert held.lease_expires_at == setting.clock() + LEASE
    assert setting.rasa.paused("web-1")
    joined = JOINED.format(agent="Ana")
    assert [(s.channel, s.text) for s in setting.rasa.sent_to("web-1")][-1] == ("socketio", joined)
    assert handoff_row(setting.engine, handoff_id).status == "acknowledged"

    setting.rasa.customer_says("web-1", "hello? are you there?")
    assert bot_texts(setting.rasa, "web-1")[-1] == joined  # the assistant kept quiet


def test_customers_see_who_joined_and_left_by_name_never_by_role(setting):
    alex = setting.agent("alex", "Alex (admin)")
    setting.escalate("web-1")
    setting.desk.take("web-1", alex)
    joined = setting.rasa.sent_to("web-1")[-1]
    assert joined.text == JOINED.format(agent="Alex")
    assert joined.custom == {"text": joined.text, "system": "joined", "by": "Alex"}
    setting.desk.say("web-1", alex, "Hello, Alex here")
    assert setting.rasa.sent_to("web-1")[-1].custom == {"text": "Hello, Alex here", "agent": "Alex"}
    setting.desk.hand_back("web-1", alex)
    back = setting.rasa.sent_to("web-1")[-1]
    assert back.custom == {
        "text": HANDED_BACK.format(agent="Alex"),
        "system": "handed_back",
        "by": "Alex",
    }
    assert "admin" not in json.dumps([s.event for s in setting.rasa.sent_to("web-1")])
    # Staff still see the name as it is written.
    assert (
        setting.desk.conversation("web-1")["takeovers"][0]["agent"]["display_name"]
        == "Alex (admin)"
    )


def test_two_agents_cannot_take_the_same_conversation(setting):
    ana, ben = setting.agent("ana", "Ana"), setting.agent("ben", "Ben")
    setting.escalate("web-1")
    setting.desk.take("web-1", ana)
    with pytest.raises(AlreadyTaken, match="Ana has already taken") as taken:
        setting.desk.take("web-1", ben)
    assert taken.value.holder.username == "ana"
    with pytest.raises(NotHolding, match="Ana has this conversation"):
        setting.desk.say("web-1", ben, "Hi, Ben here")
    again = setting.desk.take("web-1", ana)  # the holder taking again only renews
    assert len(takeover_rows(setting.engine, "web-1")) == 1 and again.status == "active"


def test_of_many_agents_taking_at_once_exactly_one_wins(setting):
    agents = [setting.agent(f"agent{i}", f"Agent {i}") for i in range(6)]
    setting.escalate("web-1")
    start = threading.Barrier(len(agents))
    results: list = []

    def take(agent):
        start.wait()
        try:
            results.append(setting.desk.take("web-1", agent))
        except AlreadyTaken as e:
            results.append(e)

    threads = [threading.Thread(target=take, args=(a,)) for a in agents]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    won = [r for r in results if not isinstance(r, AlreadyTaken)]
    assert len(won) == 1 and len(results) == len(agents)
    assert len(takeover_rows(setting.engine, "web-1")) == 1
    pauses = [e for e in setting.rasa.events("web-1") if e["event"] == "pause"]
    assert len(pauses) == 1


def test_a_lease_renewed_by_heartbeats_lasts_and_an_abandoned_one_returns_to_the_queue(setting):
    ana, ben = setting.agent("ana", "Ana"), setting.agent("ben", "Ben")
    setting.escalate("web-1")
    setting.desk.take("web-1", ana)
    for _ in range(5):  # five minutes, renewed every minute
        setting.clock.advance(seconds=60)
        setting.desk.heartbeat("web-1", ana)
    assert setting.desk.queue()[0].taken_by.username == "ana"

    setting.clock.advance(seconds=LEASE.total_seconds() + 1)  # the tab was closed
    queue = setting.desk.queue()
    assert queue[0].conversation_id == "web-1" and queue[0].taken_by is None
    assert [r.status for r in takeover_rows(setting.engine, "web-1")] == ["abandoned"]
    # Meanwhile the assistant answers again, and the customer knows why.
    assert not setting.rasa.paused("web-1")
    assert "Ana has been disconnected" in setting.rasa.sent_to("web-1")[-1].text
    with pytest.raises(NotHolding, match="went back to the queue|not taken"):
        setting.desk.say("web-1", ana, "sorry, I'm back")

    setting.desk.take("web-1", ben)
    assert setting.rasa.paused("web-1")
    assert setting.rasa.sent_to("web-1")[-1].text == JOINED.format(agent="Ben")


def test_a_heartbeat_after_the_lease_ran_out_does_not_revive_it(setting):
    ana = setting.agent("ana", "Ana")
    setting.escalate("web-1")
    setting.desk.take("web-1", ana)
    setting.clock.advance(seconds=LEASE.total_seconds() + 1)
    with pytest.raises(NotHolding, match="lapsed"):
        setting.desk.heartbeat("web-1", ana)
    assert [r.status for r in takeover_rows(setting.engine, "web-1")] == ["abandoned"]


def test_only_an_escalated_conversation_on_a_reachable_channel_can_be_taken(setting):
    ana = setting.agent("ana", "Ana")
    with pytest.raises(NotFound):
        setting.desk.take("nobody-asked", ana)
    setting.escalate("rest-1", channel="rest")
    with pytest.raises(CannotReach, match="'rest' channel"):
        setting.desk.take("rest-1", ana)
    assert takeover_rows(setting.engine, "rest-1") == []
    assert not setting.rasa.paused("rest-1")


# -- talking -----------------------------------------------------------------------------------
def test_the_agents_web_message_is_sent_through_rasa_with_their_name(setting):
    ana = setting.agent("ana", "Ana")
    setting.escalate("web-1")
    setting.desk.take("web-1", ana)
    setting.desk.say("web-1", ana, "  Hi, I'm Ana. <b>How</b> can I help?  ")
    sent = setting.rasa.sent_to("web-1")[-1]
    assert sent.channel == "socketio"
    assert sent.custom == {"text": "Hi, I'm Ana. <b>How</b> can I help?", "agent": "Ana"}
    with pytest.raises(Invalid, match="empty"):
        setting.desk.say("web-1", ana, "   ")
    with pytest.raises(Invalid, match="longer than 5000"):
        setting.desk.say("web-1", ana, "x" * 5001)


def test_on_slack_the_agent_posts_into_the_customers_thread_and_rasa_only_records_it(setting):
    ana = setting.agent("ana", "Ana")
    conversation = "U0JANE_C0SUPPORT_1741773600.000100"
    setting.escalate(conversation, channel="slack", customer="C001", name="Jane", tier="gold")
    setting.desk.take(conversation, ana)
    setting.desk.say(conversation, ana, "Hi Jane, Ana here. <!channel> & co")

    posts = setting.slack.posts(channel="C0SUPPORT", thread_ts="1741773600.000100")
    assert [p.text for p in posts] == [
        JOINED.format(agent="Ana"),
        "*Ana* (support team): Hi Jane, Ana here. &lt;!channel&gt; &amp; co",
    ]
    # Recorded in the transcript, never sent by Rasa (its Slack output would miss the thread).
    assert [s.text for s in setting.rasa.sent_to(conversation)] == [
        "The assistant answers: I want to talk to a person"  # before the takeover
    ]
    agent_events = [e for e in setting.rasa.events(conversation) if e["event"] == "bot"]
    assert agent_events[-1]["data"]["custom"] == {
        "text": "Hi Jane, Ana here. <!channel> & co",
        "agent": "Ana",
    }
    assert setting.rasa.paused(conversation)


def test_internal_notes_are_kept_for_colleagues_and_never_reach_the_customer(setting):
    ana, ben = setting.agent("ana", "Ana"), setting.agent("ben", "Ben")
    setting.escalate("web-1")
    setting.desk.take("web-1", ana)
    setting.desk.note("web-1", ben, "Careful: she was double charged last month too")
    setting.desk.hand_back("web-1", ana, "Refund promised, assistant can handle the rest")
    view = setting.desk.conversation("web-1")
    assert [(n["author"], n["text"]) for n in view["notes"]] == [
        ("Ben", "Careful: she was double charged last month too")
    ]
    assert view["takeovers"][0]["note"] == "Refund promised, assistant can handle the rest"
    everything = json.dumps(setting.rasa.events("web-1"))
    assert "double charged" not in everything and "Refund promised" not in everything
    with pytest.raises(NotFound):
        setting.desk.note("no-such-chat", ana, "hello")
    with setting.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(agent_notes)).scalar_one() == 1


# -- ending ------------------------------------------------------------------------------------
def test_handing_back_resumes_the_assistant_and_answers_the_escalation_only(setting):
    ana = setting.agent("ana", "Ana")
    handoff_id = setting.escalate("web-1")
    setting.desk.take("web-1", ana)
    setting.rasa.customer_says("web-1", "thanks, that's all I needed")
    assert bot_texts(setting.rasa, "web-1")[-1] == JOINED.format(agent="Ana")

    ended = setting.desk.hand_back("web-1", ana, "Explained the delivery window")
    assert (ended.status, ended.note) == ("handed_back", "Explained the delivery window")
    assert not setting.rasa.paused("web-1")
    assert setting.rasa.sent_to("web-1")[-1].text == HANDED_BACK.format(agent="Ana")
    handoff = handoff_row(setting.engine, handoff_id)
    assert handoff.status == "resolved"
    assert (
        handoff.resolution == "Handed back to the assistant by Ana: Explained the delivery window"
    )
    assert touchpoint_outcome(setting.engine, "web-1") == "escalated"  # the chat goes on
    assert setting.desk.queue() == []

    setting.rasa.customer_says("web-1", "one more thing")
    assert bot_texts(setting.rasa, "web-1")[-1] == "The assistant answers: one more thing"
    with pytest.raises(NotHolding):
        setting.desk.hand_back("web-1", ana)


def test_resolving_closes_the_touchpoint_with_the_agents_summary(setting):
    ana = setting.agent("ana", "Ana")
    handoff_id = setting.escalate("web-1")
    setting.desk.take("web-1", ana)
    with pytest.raises(Invalid, match="summary is empty"):
        setting.desk.resolve("web-1", ana, " ")
    ended = setting.desk.resolve("web-1", ana, "Reset the password together")
    assert (ended.status, ended.note) == ("resolved", "Reset the password together")
    handoff = handoff_row(setting.engine, handoff_id)
    assert (handoff.status, handoff.resolution) == (
        "resolved",
        "Resolved by Ana: Reset the password together",
    )
    assert touchpoint_outcome(setting.engine, "web-1") == "resolved"
    assert not setting.rasa.paused("web-1")
    assert setting.rasa.sent_to("web-1")[-1].text == RESOLVED.format(agent="Ana")


def test_transferring_hands_the_packet_and_note_to_the_department_and_tells_the_customer(setting):
    ana = setting.agent("ana", "Ana")
    support_id = setting.escalate(
        "web-1", customer="C002", name="Omar", tier="standard", priority="high"
    )
    setting.desk.take("web-1", ana)
    setting.rasa.customer_says("web-1", "I was charged twice for INV-50004")
    setting.desk.say("web-1", ana, "I'll pass that to billing right away")
    with pytest.raises(Invalid, match="transfer to one of"):
        setting.desk.transfer("web-1", ana, "support", "loop")
    with pytest.raises(Invalid, match="note for the department is empty"):
        setting.desk.transfer("web-1", ana, "billing", "")

    new = setting.desk.transfer("web-1", ana, "billing", "Double charge on INV-50004, refund one")
    assert (new["department"], new["reference"]) == ("billing", f"H-{new['id']}")
    row = handoff_row(setting.engine, new["id"])
    packet = json.loads(row.context)
    assert (row.department, row.need, row.status, row.priority, row.customer_id) == (
        "billing",
        "transfer_to_billing",
        "open",
        "high",
        "C002",
    )
    assert row.summary == "Transferred by Ana (support): Double charge on INV-50004, refund one"
    assert packet["customer"]["name"] == "Omar" and packet["customer_said"]  # the original packet
    assert packet["agent_note"] == "Double charge on INV-50004, refund one"
    assert "customer: I was charged twice for INV-50004" in packet["agent_chat"]
    assert "Ana (agent): I'll pass that to billing right away" in packet["agent_chat"]
    with setting.engine.connect() as conn:
        assert (
            conn.execute(
                select(outbox.c.department).where(outbox.c.handoff_id == new["id"])
            ).scalar_one()
            == "billing"
        )

    told = setting.rasa.sent_to("web-1")[-1].text
    assert "our billing team" in told and "by email" in told and new["promise"] in told
    assert f"H-{new['id']}" in told
    assert not setting.rasa.paused("web-1")
    support = handoff_row(setting.engine, support_id)
    assert (support.status, support.resolution) == ("resolved", "Transferred to billing by Ana")
    assert touchpoint_outcome(setting.engine, "web-1") == "escalated"  # billing still owes
    with setting.engine.connect() as conn:
        departments = conn.execute(
            select(touchpoints.c.departments).where(touchpoints.c.conversation_id == "web-1")
        ).scalar_one()
    assert "billing" in json.loads(departments)
    assert takeover_rows(setting.engine, "web-1")[0].status == "transferred"


# -- failures leave everything consistent -----------------------------------------------------
def test_when_rasa_fails_to_pause_nothing_is_taken(setting):
    ana = setting.agent("ana", "Ana")
    handoff_id = setting.escalate("web-1")
    setting.rasa.fail(500, method="POST")
    with pytest.raises(RelayFailed, match="could not take over; the assistant goes on"):
        setting.desk.take("web-1", ana)
    assert takeover_rows(setting.engine, "web-1") == []
    assert not setting.rasa.paused("web-1")
    assert handoff_row(setting.engine, handoff_id).status == "open"
    assert setting.desk.queue()[0].taken_by is None
    setting.desk.take("web-1", ana)  # and it can be taken once Rasa is back
    assert setting.rasa.paused("web-1")


def test_when_slack_refuses_the_announcement_the_pause_is_undone(setting, rasa, slack, clock):
    from bot.agents import AgentDesk
    from bot.agents.rasa_api import RasaApi
    from bot.agents.relay import Relay

    wrong_token = Relay(RasaApi(rasa.url, rasa.token), SlackWebApi("xoxb-wrong", slack.url))
    desk = AgentDesk(
        setting.engine,
        wrong_token,
        setting.desk.departments,
        setting.desk.transitions,
        now=clock,
    )
    setting.desk = desk
    ana = setting.agent("ana", "Ana")
    conversation = "U0JANE_C0SUPPORT_1741773600.000100"
    setting.escalate(conversation, channel="slack")
    with pytest.raises(RelayFailed, match="Slack did not take the message: .*invalid_auth"):
        desk.take(conversation, ana)
    assert takeover_rows(setting.engine, conversation) == []
    assert not rasa.paused(conversation)


def test_when_rasa_fails_during_hand_back_the_agent_still_holds_the_chat(setting):
    ana = setting.agent("ana", "Ana")
    handoff_id = setting.escalate("web-1")
    setting.desk.take("web-1", ana)
    setting.rasa.fail(503, method="POST")
    with pytest.raises(RelayFailed, match="503"):
        setting.desk.hand_back("web-1", ana, "done")
    assert [r.status for r in takeover_rows(setting.engine, "web-1")] == ["active"]
    assert setting.rasa.paused("web-1")
    assert handoff_row(setting.engine, handoff_id).status == "acknowledged"
    setting.desk.hand_back("web-1", ana, "done")  # retried once Rasa is back
    assert not setting.rasa.paused("web-1")


def test_a_transfer_whose_customer_message_fails_can_be_retried_without_a_second_handoff(setting):
    ana = setting.agent("ana", "Ana")
    setting.escalate("web-1")
    setting.desk.take("web-1", ana)
    setting.rasa.fail(500, method="POST")
    with pytest.raises(RelayFailed, match="handoff to sales is recorded"):
        setting.desk.transfer("web-1", ana, "sales", "Wants a quote for 40 seats")
    assert takeover_rows(setting.engine, "web-1")[0].status == "active"
    first = setting.desk.transfer("web-1", ana, "sales", "Wants a quote for 40 seats")
    with setting.engine.connect() as conn:
        sales = conn.execute(select(handoffs.c.id).where(handoffs.c.department == "sales")).all()
    assert [r.id for r in sales] == [first["id"]]


# -- the console's view ------------------------------------------------------------------------
def test_the_conversation_view_has_transcript_packet_and_the_customers_journey(setting):
    ana = setting.agent("ana", "Ana")
    setting.escalate("slack-earlier", channel="slack", customer="C001", name="Jane", tier="gold")
    with setting.engine.begin() as conn:  # an earlier Slack chat, handed to delivery
        conn.execute(
            handoffs.update()
            .where(handoffs.c.conversation_id == "slack-earlier")
            .values(department="delivery", need="order_late")
        )
    setting.clock.advance(days=1)
    setting.escalate("web-1", customer="C001", name="Jane", tier="gold", said="where's my <b>order")
    setting.desk.take("web-1", ana)
    setting.desk.say("web-1", ana, "Looking into it now")

    view = setting.desk.conversation("web-1", ana.id)
    assert view["takeover"]["mine"] and view["paused"] is True
    assert [(line["sender"], line["text"]) for line in view["transcript"]] == [
        ("customer", "where's my <b>order"),
        ("assistant", "The assistant answers: where's my <b>order"),
        ("system", "The assistant paused: a person has the conversation."),
        ("assistant", JOINED.format(agent="Ana")),
        ("agent", "Looking into it now"),
    ]
    assert view["transcript"][-1]["agent"] == "Ana"
    assert view["packet"]["customer_said"] == "where's my <b>order"
    journey = view["journey"]
    assert journey["customer"] == {"id": "C001", "name": "Jane", "tier": "gold"}
    assert [
        (t["conversation_id"], t["channel"], t["this_conversation"]) for t in journey["touchpoints"]
    ] == [
        ("slack-earlier", "slack", False),
        ("web-1", "socketio", True),
    ]
    assert [(h["department"], h["status"]) for h in journey["open_handoffs"]] == [
        ("delivery", "open"),
        ("support", "acknowledged"),
    ]
    assert {d["name"] for d in view["departments"]} == {"sales", "billing", "delivery"}
    polled = setting.desk.conversation("web-1", ana.id, journey=False)
    assert polled["journey"] is None and polled["transcript"] == view["transcript"]
    with pytest.raises(NotFound):
        setting.desk.conversation("no-such-chat")


def test_the_view_still_opens_when_rasa_is_down(setting):
    setting.escalate("web-1")
    setting.rasa.fail(502, method="GET")
    view = setting.desk.conversation("web-1")
    assert view["transcript"] is None and "502" in view["transcript_error"]
    assert view["escalation"]["conversation_id"] == "web-1"
