"""Needs for a person: asking for a human, complaints."""

from __future__ import annotations

from bot.support.handler import Desk
from bot.support.replies import NeedContext, Reply


def request_human(desk: Desk, ctx: NeedContext) -> Reply:
    handoff = desk.hand_off(ctx, "Customer asked for a person.", department="support")
    return desk.handed_off(Reply().say("utter_getting_a_person"), handoff)


def complain(desk: Desk, ctx: NeedContext) -> Reply:
    # A complaint is a moment to listen: straight to a person, high priority.
    handoff = desk.hand_off(
        ctx, "Complaint: " + (ctx.text or "(no text)"), department="support", priority="high"
    )
    return desk.handed_off(Reply().say("utter_complaint_heard"), handoff)


HANDLERS = {"request_human": request_human, "complain": complain}
REQUIRES: dict[str, tuple[str, ...]] = {}
