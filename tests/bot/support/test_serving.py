"""One need served reads each fact once (bot/support/serving.py, records.py)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import date
from typing import Any

import pytest

from bot.support import NeedContext, SupportDesk
from bot.support.proactive import tell
from bot.support.records import ReadOnce


def count_calls(monkeypatch: pytest.MonkeyPatch, obj: object, *names: str) -> Counter[str]:
    """Count the calls of ``obj``'s methods ``names`` (they still run)."""
    calls: Counter[str] = Counter()
    for name in names:
        method = getattr(obj, name)

        def counted(*args: Any, _name: str = name, _method: Callable[..., Any] = method) -> Any:
            calls[_name] += 1
            return _method(*args)

        monkeypatch.setattr(obj, name, counted)
    return calls


def context(desk: SupportDesk, need: str, customer_id: str, order_id: str | None = None,
            **kw: Any) -> NeedContext:  # fmt: skip
    """The context actions/_adapter.py builds: the order checked, with its facts."""
    check = desk.check_order(order_id, customer_id) if order_id else None
    return NeedContext(
        need=need,
        conversation_id="conv-1",
        customer=desk.customer(customer_id),
        order=check.order if check else None,
        order_facts=check.facts if check else None,
        **kw,
    )


def test_the_subscription_a_renewal_answer_quotes_is_the_one_the_stage_is_read_from(
    desk, monkeypatch
):
    calls = count_calls(monkeypatch, desk.backoffice, "subscription_of")
    reply = desk.serve(context(desk, "ask_renewal", "C001"))
    assert reply.responses == ["utter_renewal"]
    assert calls["subscription_of"] == 1
    # Renewing within 30 days puts Jane in the renewal stage: the CX rules read it too.
    assert desk.stage_of(None, desk.customer("C001")) == "renewal"


def test_the_payments_that_explain_a_charge_are_read_once(desk, monkeypatch):
    calls = count_calls(monkeypatch, desk.backoffice, "payments_of")
    reply = desk.serve(context(desk, "unknown_charge", "C005"))
    assert reply.responses == ["utter_recent_charges"]
    assert calls["payments_of"] == 1


def test_an_orders_department_facts_read_with_it_are_not_read_again(desk, monkeypatch):
    ctx = context(desk, "order_status", "C001", "ORD-10001")
    events = count_calls(monkeypatch, desk.facts, "events_about_order")
    desk.serve(ctx)
    assert events["events_about_order"] == 0
    # A context built without them (by hand) still has them read, once.
    desk.serve(NeedContext("order_status", "conv-1", customer=ctx.customer, order=ctx.order))
    assert events["events_about_order"] == 1


def test_a_visitor_over_the_limit_on_checks_is_looked_up_once(desk, monkeypatch):
    lookups = count_calls(monkeypatch, desk.verifier.checks, "limited_lately")
    order = desk.check_order("ORD-10004", None).order
    reply = desk.serve(NeedContext("cancel_order", "conv-1", order=order))
    assert reply.responses == ["utter_verify_first"]
    assert lookups["limited_lately"] == 1


def test_the_news_a_choice_is_made_from_is_found_once(desk, monkeypatch):
    body = {"id": "dlv-1", "type": "shipment.delayed", "order_id": "ORD-10004",
            "new_date": "2025-03-20", "reason": "storm at the depot"}  # fmt: skip
    event = desk.proactive.take_in(desk.events.check("delivery", body), "C002")[0]
    tell(desk, event, "conv-1")
    found = count_calls(monkeypatch, desk.proactive, "open_offer")
    reply = desk.carry_out(context(desk, "order_status", "C002", option="keep_new_date"))
    assert reply.responses == ["utter_option_keep_new_date"]
    assert found["open_offer"] == 1
    assert desk.proactive.get(event.id).choice == "keep_new_date"


def test_read_once_reads_a_record_once_and_afresh_after_a_change(desk, monkeypatch):
    calls = count_calls(monkeypatch, desk.backoffice, "order", "orders_of")
    records = ReadOnce(desk.backoffice)
    first = records.order("ORD-10004")
    assert records.order("ORD-10004") == first and calls["order"] == 1
    # Each caller gets its own list: sorting one changes no other's.
    records.orders_of("C002").reverse()
    assert records.orders_of("C002") == desk.backoffice.orders_of("C002")
    moved = records.change_delivery_date("ORD-10004", date(2025, 3, 21))
    assert records.order("ORD-10004") == moved != first
