"""Repeat contacts: which of a customer's touchpoints they came back about within days.

A touchpoint is repeated (``touchpoints.came_back``) when a later one of the same customer,
started at most ``REPEAT_CONTACT_DAYS`` after it, shares a need or an order with it. The
journey store keeps the marks right as it writes (``RepeatContacts``); the CX metric, the
demo data and migration 0006 apply the same rule (``came_back_marks``). Apart from the store
because it is one rule with its own statements and locking, read by more than the store.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from sqlalchemy import bindparam, select, text, update
from sqlalchemy.engine import Connection

from bot.db.schema import touchpoints

REPEAT_CONTACT_DAYS = 7

_EARLIEST, _LATEST = datetime(1, 1, 1), datetime(9999, 12, 31)
# PostgreSQL: a transaction-long lock on one customer's repeat marks (the first key names
# what is locked, so other advisory locks can't collide with these).
_CUSTOMER_LOCK = text("SELECT pg_advisory_xact_lock(7007, hashtext(:customer))")


class Nearby(NamedTuple):
    """A touchpoint as repeat contacts see it: when it started and what it was about."""

    id: int | None
    started_at: datetime
    about: frozenset[tuple[str, str]]
    came_back: bool | None  # as stored


def what_about(needs: str, order_ids: str) -> frozenset[tuple[str, str]]:
    """A touchpoint's needs and orders (JSON lists), told apart: what a repeat would share."""
    return frozenset(
        [*(("need", n) for n in json.loads(needs)), *(("order", o) for o in json.loads(order_ids))]
    )


class RepeatContacts:
    """Keeps ``came_back`` right for a customer's touchpoints as the store writes them."""

    def __init__(self) -> None:
        # Built once: building and keying an expression costs more than running it on SQLite.
        # A customer's touchpoints near a moment:
        self._nearby = (
            select(
                touchpoints.c.id,
                touchpoints.c.started_at,
                touchpoints.c.needs,
                touchpoints.c.order_ids,
                touchpoints.c.came_back,
            )
            .where(
                touchpoints.c.customer_id == bindparam("customer"),
                touchpoints.c.started_at >= bindparam("first"),
                touchpoints.c.started_at <= bindparam("last"),
            )
            .order_by(touchpoints.c.started_at, touchpoints.c.id)
        )
        self._set_came_back = (
            update(touchpoints)
            .where(touchpoints.c.id.in_(bindparam("ids", expanding=True)))
            .values(came_back=bindparam("value"))
        )

    def mark(
        self,
        conn: Connection,
        customer_id: str,
        touchpoint_id: int | None,
        pending: Mapping[str, Any],
    ) -> bool:
        """Mark the customer's earlier touchpoints this one repeats (``came_back``), and
        return whether a later one repeats it; ``pending`` holds the values it is about to
        be written with (``touchpoint_id`` is None for a new one).

        Runs only when a touchpoint gets a new need or order, so most turns skip it.
        """
        self.lock(conn, customer_id)
        this = Nearby(
            touchpoint_id,
            pending["started_at"],
            what_about(pending["needs"], pending["order_ids"]),
            None,
        )
        return self.recount(conn, customer_id, this.started_at, pending=this)

    @staticmethod
    def lock(conn: Connection, customer_id: str) -> None:
        """Make this transaction, until it ends, the one writer of the customer's repeat
        marks (PostgreSQL; SQLite has one writer at a time anyway).

        One such writer per customer at a time, and the reads after the wait: two of their
        chats that start together each see the other. Taken before the transaction writes
        any of the customer's touchpoints: a writer that held one of their rows and then
        waited here would deadlock with the writer holding the lock, which waits for that
        row. Taking it again in the same transaction is free (an advisory lock writes
        nothing)."""
        if conn.dialect.name == "postgresql":
            conn.execute(_CUSTOMER_LOCK, {"customer": customer_id})

    def recount(
        self,
        conn: Connection,
        customer_id: str,
        moment: datetime | None = None,
        leaving: int | None = None,
        pending: Nearby | None = None,
    ) -> bool:
        """Work ``came_back`` out afresh for the customer's touchpoints that one starting at
        ``moment`` could repeat (None: all of them), and write the marks that changed.

        ``leaving`` is a touchpoint to leave out (it is someone else's now); ``pending`` is
        one about to be written: counted with its new values, and its own mark returned.
        """
        window = timedelta(days=REPEAT_CONTACT_DAYS)
        first, last = (moment - window, moment + window) if moment else (_EARLIEST, _LATEST)
        rows = conn.execute(self._nearby, {"customer": customer_id, "first": first, "last": last})
        skip = {leaving, pending.id if pending else None}
        nearby = [
            Nearby(r.id, r.started_at, what_about(r.needs, r.order_ids), r.came_back)
            for r in rows
            if r.id not in skip
        ]
        if pending is not None:
            nearby.append(pending)
            nearby.sort(key=lambda n: n.started_at)
        marks = came_back_marks([(n.started_at, n.about) for n in nearby])
        own = False
        changed: dict[bool, list[int]] = {True: [], False: []}
        for n, mark in zip(nearby, marks, strict=True):
            if n is pending:
                own = mark
            elif (
                n.id is not None  # every one but pending was read back with its id
                and (moment is None or n.started_at <= moment)
                and n.came_back != mark
            ):
                changed[mark].append(n.id)  # later ones were read only as followers
        for mark, ids in changed.items():
            if ids:
                conn.execute(self._set_came_back, {"ids": ids, "value": mark})
        return own


def came_back_marks(
    touchpoints_: Sequence[tuple[datetime, frozenset[tuple[str, str]]]],
) -> list[bool]:
    """For one customer's touchpoints as (started_at, what about) sorted by start, whether
    each was repeated: a later one (started after it, at most ``REPEAT_CONTACT_DAYS`` after
    its start) shares a need or an order with it. The rule of ``touchpoints.came_back``
    and of the CX repeat-contact metric (bot/analytics/metrics.py).
    """
    window = timedelta(days=REPEAT_CONTACT_DAYS)
    marks = []
    for i, (started, about) in enumerate(touchpoints_):
        mark = False
        if about:
            for later, later_about in touchpoints_[i + 1 :]:
                if later > started + window:
                    break
                if later > started and not about.isdisjoint(later_about):
                    mark = True
                    break
        marks.append(mark)
    return marks
