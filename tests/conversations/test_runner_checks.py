"""The conversation runner's checks, without servers: dates, placeholders, reply checks,
handoffs, the back office, loading and validating the YAML, and the report."""

from __future__ import annotations

from datetime import date

import pytest

from tests.conversations import runner
from tests.conversations.runner import (
    Conversation,
    Result,
    SuiteError,
    TurnResult,
    check_end,
    check_handoffs,
    check_order,
    check_replies,
    check_turn,
    expand,
    is_clarifying,
    load_suite,
    parse_conversation,
    pick_button,
    render_report,
    render_say,
    resolve_day,
)

MONDAY = date(2026, 12, 7)


def said(text: str, *titles: str) -> list[dict]:
    reply: dict = {"recipient_id": "x", "text": text}
    if titles:
        reply["buttons"] = [
            {"title": t, "payload": f"/{t.lower().replace(' ', '_')}"} for t in titles
        ]
    return [reply]


# ------------------------------------------------------------------ days and placeholders
@pytest.mark.parametrize(
    "expr, expected",
    [
        ("+4", date(2026, 12, 11)),
        ("-3", date(2026, 12, 4)),
        ("+0", MONDAY),
        ("next tuesday", date(2026, 12, 8)),
        ("tuesday", date(2026, 12, 8)),
        ("monday", date(2026, 12, 14)),  # the next Monday, never today
        ("tuesday after next", date(2026, 12, 15)),
        ("2027-01-02", date(2027, 1, 2)),
    ],
)
def test_resolve_day(expr, expected):
    assert resolve_day(expr, MONDAY) == expected


def test_resolve_day_refuses_what_it_cannot_read():
    with pytest.raises(SuiteError):
        resolve_day("soonish", MONDAY)


def test_expand_gives_every_rendering_of_a_day():
    alts = expand("due {date:+4}", MONDAY)
    assert "due 11 December" in alts and "due December 11" in alts and "due Dec 11" in alts
    assert "due 2026-12-11" in alts
    assert expand("tomorrow is {date:+1}", MONDAY)[-1] == "tomorrow is tomorrow"
    assert expand("no placeholder", MONDAY) == ["no placeholder"]


def test_render_say_fills_in_days():
    assert render_say("{weekday:+5} works", MONDAY) == "Saturday works"
    assert render_say("make it the {dom:+9}", MONDAY) == "make it the 16th"
    assert render_say("on {date:+10}", MONDAY) == "on 17 December"
    assert render_say("the {dom:-5}", MONDAY) == "the 2nd"
    assert render_say("the {dom:+4}", date(2026, 12, 7)) == "the 11th"


# ------------------------------------------------------------------ reply checks
def test_says_any_is_case_insensitive_and_any_of():
    replies = said("Your order ORD-10004 should reach you Friday 11 December.")
    assert check_replies({"says_any": ["ord-10004", "nope"]}, replies, MONDAY, "t") == []
    assert check_replies({"says_any": ["{date:+4}"]}, replies, MONDAY, "t") == []
    [failure] = check_replies({"says_any": ["{date:+5}", "tracking"]}, replies, MONDAY, "t")
    assert "says none of" in failure


def test_says_all_names_each_missing_string():
    replies = said("Invoice INV-50004 for $249.00")
    failures = check_replies({"says_all": ["INV-50004", "249", "Mastercard"]}, replies, MONDAY, "t")
    assert failures == ["t: does not say 'Mastercard'"]


def test_never_says_and_the_always_forbidden_apology():
    replies = said("It goes to 8 Harbour Road, Portsmouth.")
    [failure] = check_replies({"never_says": ["harbour road"]}, replies, MONDAY, "t")
    assert "harbour road" in failure
    apology = said("Sorry, I'm having trouble looking that up right now.")
    assert check_replies({}, apology, MONDAY, "t")  # a failed action is always a failure


def test_buttons_include_matches_part_of_a_title():
    replies = said("Here's what we can do:", "Store credit instead", "Talk to a person")
    assert check_replies({"buttons_include": ["store credit"]}, replies, MONDAY, "t") == []
    [failure] = check_replies({"buttons_include": ["partial refund"]}, replies, MONDAY, "t")
    assert "no button like 'partial refund'" in failure


def test_clarifying_questions_are_spotted():
    assert is_clarifying(said("Sorry, I'm not sure I understood. Did you mean one of these?"))
    assert is_clarifying(said("Sorry, I didn't catch which option you picked."))
    assert not is_clarifying(said("Which order is it about? It looks like ORD-10042."))
    failures = check_replies(
        {"no_clarifying_question": True}, said("I'm not sure I understood."), MONDAY, "t"
    )
    assert failures == ["t: asked a clarifying question instead of acting"]


def test_a_turn_must_be_answered():
    assert check_turn({}, [], MONDAY, 3) == ["turn 3: no reply at all"]
    assert check_turn({}, said("Hi!"), MONDAY, 1) == []


def test_pick_button_prefers_an_exact_title():
    replies = said("options", "Ask for an exception", "Ask", "Talk to a person")
    assert pick_button(replies, "ask")["title"] == "Ask"
    assert pick_button(replies, "exception")["title"] == "Ask for an exception"
    assert pick_button(replies, "refund") is None


# ------------------------------------------------------------------ handoffs
ROWS = [
    {"department": "billing", "need": "charged_twice"},
    {"department": "support", "need": "complain"},
]


def test_handoff_expectations():
    assert check_handoffs({"handoff": {"department": "billing"}}, ROWS) == []
    assert check_handoffs({"handoff": "support"}, ROWS) == []
    assert (
        check_handoffs({"handoff": [{"department": "billing", "need": "charged_twice"}]}, ROWS)
        == []
    )
    [failure] = check_handoffs({"handoff": {"department": "sales"}}, ROWS)
    assert "no handoff {'department': 'sales'}" in failure and "billing" in failure
    [failure] = check_handoffs({"handoff": {"department": "delivery"}}, [])
    assert "recorded: none" in failure


def test_no_handoff():
    assert check_handoffs({"no_handoff": True}, []) == []
    [failure] = check_handoffs({"no_handoff": True}, ROWS[:1])
    assert "none expected" in failure


# ------------------------------------------------------------------ back office
SEEDED = {
    "status": "packed",
    "address": "8 Harbour Road, Portsmouth",
    "expected_delivery": date(2026, 12, 11),
    "has_return_label": False,
    "refunds": 0,
}


def now(**changes) -> dict:
    return {**SEEDED, **changes}


def test_order_status_and_unchanged():
    check = {"order": "ORD-10004", "status": "cancelled"}
    assert check_order(check, now(status="cancelled"), SEEDED, MONDAY) == []
    [failure] = check_order(check, now(), SEEDED, MONDAY)
    assert "status is packed, wanted cancelled" in failure
    assert check_order({"order": "ORD-10004", "unchanged": True}, now(), SEEDED, MONDAY) == []
    [failure] = check_order(
        {"order": "ORD-10004", "unchanged": True}, now(address="x"), SEEDED, MONDAY
    )
    assert "changed (address)" in failure
    assert (
        check_order({"order": "ORD-10004", "status_not": "cancelled"}, now(), SEEDED, MONDAY) == []
    )


def test_order_address_checks():
    moved = now(address="14 Queen Street, Southsea PO5 3AB")
    assert (
        check_order({"order": "O", "address_contains": "queen street"}, moved, SEEDED, MONDAY) == []
    )
    assert check_order({"order": "O", "address_unchanged": True}, moved, SEEDED, MONDAY)
    assert check_order({"order": "O", "address_unchanged": True}, now(), SEEDED, MONDAY) == []


def test_order_delivery_day_checks():
    later = now(expected_delivery=date(2026, 12, 17))
    assert check_order({"order": "O", "expected": "+10"}, later, SEEDED, MONDAY) == []
    [failure] = check_order({"order": "O", "expected": "+9"}, later, SEEDED, MONDAY)
    assert "wanted 2026-12-16" in failure
    assert check_order({"order": "O", "expected_unchanged": True}, later, SEEDED, MONDAY)
    sooner = now(expected_delivery=date(2026, 12, 8))
    assert check_order({"order": "O", "expected_earlier": True}, sooner, SEEDED, MONDAY) == []
    assert check_order({"order": "O", "expected_earlier": True}, later, SEEDED, MONDAY)


def test_order_label_and_refund_checks():
    assert (
        check_order(
            {"order": "O", "return_label": True}, now(has_return_label=True), SEEDED, MONDAY
        )
        == []
    )
    assert check_order({"order": "O", "return_label": True}, now(), SEEDED, MONDAY)
    assert check_order({"order": "O", "refund": True}, now(refunds=1), SEEDED, MONDAY) == []
    [failure] = check_order({"order": "O", "refund": False}, now(refunds=1), SEEDED, MONDAY)
    assert "a refund was requested" in failure
    # a refund already in the fixture is not a new one
    assert (
        check_order({"order": "O", "refund": False}, now(refunds=1), now(refunds=1), MONDAY) == []
    )


def test_an_unknown_order_fails_its_check():
    assert check_order({"order": "ORD-1"}, None, None, MONDAY) == ["backoffice: ORD-1 not found"]


def test_check_end_combines_replies_handoffs_and_orders():
    expect = {
        "says_any": ["H-"],
        "handoff": {"department": "billing"},
        "backoffice": [{"order": "ORD-10004", "status": "cancelled"}],
    }
    failures = check_end(
        expect,
        said("Your reference is H-12."),
        ROWS,
        {"ORD-10004": now()},
        {"ORD-10004": SEEDED},
        MONDAY,
    )
    assert failures == ["backoffice: ORD-10004 status is packed, wanted cancelled"]


# ------------------------------------------------------------------ the YAML
def conv(**fields) -> dict:
    return {"id": "c1", "description": "d", "tags": ["t"], "turns": [{"say": "hi"}], **fields}


def test_parse_a_conversation():
    c = parse_conversation(conv(smoke=True, known_failure="why"), "f.yml")
    assert (c.id, c.smoke, c.known_failure, c.file) == ("c1", True, "why", "f.yml")


@pytest.mark.parametrize(
    "fields, message",
    [
        ({"turns": []}, "no turns"),
        ({"turns": [{"say": "a", "press": "b"}]}, "exactly one of say / press"),
        ({"turns": [{"said": "a"}]}, "unknown keys"),
        ({"turns": [{"say": "a", "expect": {"handoff": "billing"}}]}, "unknown expectation"),
        ({"expect": {"says": ["x"]}}, "unknown expectation"),
        ({"expect": {"backoffice": [{"status": "x"}]}}, "names an order"),
        ({"expect": {"backoffice": [{"order": "O", "colour": "x"}]}}, "backoffice check keys"),
        ({"colour": "red"}, "unknown keys"),
    ],
)
def test_malformed_conversations_are_refused(fields, message):
    with pytest.raises(SuiteError, match=message):
        parse_conversation(conv(**fields), "f.yml")


def test_file_level_never_says_reaches_every_conversation(tmp_path):
    path = tmp_path / "x.yml"
    path.write_text(
        "never_says: [outside what I can help with]\n"
        "conversations:\n"
        "  - {id: a, turns: [{say: hi}], expect: {never_says: [foo]}}\n"
        "  - {id: b, turns: [{say: hi}]}\n"
    )
    a, b = load_suite([path])
    assert a.expect["never_says"] == ["foo", "outside what I can help with"]
    assert b.expect["never_says"] == ["outside what I can help with"]


def test_duplicate_ids_are_refused(tmp_path):
    (tmp_path / "a.yml").write_text("conversations: [{id: x, turns: [{say: hi}]}]\n")
    (tmp_path / "b.yml").write_text("conversations: [{id: x, turns: [{say: hi}]}]\n")
    with pytest.raises(SuiteError, match="also in a.yml"):
        load_suite(sorted(tmp_path.glob("*.yml")))


def test_the_shipped_suite_loads_and_is_big_enough():
    suite = load_suite()
    assert len(suite) >= 150
    assert 8 <= sum(c.smoke for c in suite) <= 20
    off_path = [c for c in suite if "happy_path" not in c.tags]
    assert len(off_path) * 2 >= len(suite)
    for c in suite:
        assert c.description and c.tags, c.id
        for turn in c.turns:  # every day placeholder is readable
            render_say(str(turn.get("say", "")), MONDAY)


# ------------------------------------------------------------------ the report
def test_report_has_rates_by_tag_clarifying_share_and_failures():
    ok = Conversation("ok-one", "fine", ["happy_path"], [{"say": "hi"}], {}, file="a.yml")
    bad = Conversation(
        "bad-one",
        "broken",
        ["typo", "happy_path"],
        [{"say": "x"}],
        {},
        file="b.yml",
        known_failure="the model misreads typos",
    )
    results = [
        Result(ok, [TurnResult("hi", said("Hello!"), False)], []),
        Result(
            bad,
            [TurnResult("wher is it", said("Sorry, I'm not sure I understood."), True)],
            ["turn 1: asked a clarifying question instead of acting"],
        ),
    ]
    report = render_report(results, title="T", started="now", seconds=1.0)
    assert "| conversations passed | 1/2 (50.0%) |" in report
    assert "| turns answered with a clarifying question | 1/2 (50.0%) |" in report
    assert "| happy_path | 1 | 2 | 50.0% |" in report and "| typo | 0 | 1 | 0.0% |" in report
    assert "### bad-one (b.yml; typo, happy_path)" in report
    assert (
        "customer: wher is it" in report and "bot:      Sorry, I'm not sure I understood." in report
    )
    assert "`bad-one` (still fails): the model misreads typos" in report
    assert "| clarifying question | 1 |" in report


def test_select_filters():
    suite = [
        Conversation("a", "", ["x"], [], {}, smoke=True, file="delivery.yml"),
        Conversation("b", "", ["y"], [], {}, file="billing.yml"),
    ]
    assert [c.id for c in runner.select(suite, smoke=True)] == ["a"]
    assert [c.id for c in runner.select(suite, only=["b"])] == ["b"]
    assert [c.id for c in runner.select(suite, files=["billing"])] == ["b"]
    assert [c.id for c in runner.select(suite, tags=["x"])] == ["a"]


def test_a_handoff_department_may_be_any_of_a_list():
    assert check_handoffs({"handoff": {"department": ["sales", "billing"]}}, ROWS) == []
    assert check_handoffs({"handoff": {"department": ["sales", "delivery"]}}, ROWS)


def test_a_code_placeholder_is_left_for_the_runner():
    # {code:EMAIL} is filled from the mail catcher at run time, not by render_say
    assert (
        render_say("code is {code:maria@example.com}", MONDAY) == "code is {code:maria@example.com}"
    )
    assert (
        runner.CODE_PLACEHOLDER.search("{code:maria@example.com}").group(1) == "maria@example.com"
    )


def test_write_json_keeps_transcripts_and_failures(tmp_path):
    import json

    c = Conversation("c", "d", ["t"], [{"say": "hi"}], {}, file="a.yml")
    out = tmp_path / "r.json"
    runner.write_json(out, [Result(c, [TurnResult("hi", said("Hello!"), False)], ["x"])])
    [row] = json.loads(out.read_text())
    assert row["id"] == "c" and row["passed"] is False and row["failures"] == ["x"]
    assert row["turns"][0]["replies"][0]["text"] == "Hello!"
