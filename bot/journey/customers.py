"""Which journey customer a turn belongs to: their record and the identities that lead to it.

Every identity a turn shows (the channel's conversation, a verified email, a Slack user) is
linked to one journey customer, so one customer is followed across channels; an anonymous
visitor who identifies mid-chat is merged into the identified customer, history and all.
Apart from the store's touchpoint writing because it is the identity side of the journey,
with its own rules (whose email counts) and the race-free insert other writers share.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import Table, and_, insert, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from bot.db.schema import identities, journey_customers, touchpoints
from bot.journey.repeats import RepeatContacts
from bot.preferences import move_preferences


class CustomerLink(NamedTuple):
    """Who a turn shows the customer to be (also the key of the store's cache of links)."""

    channel: str
    conversation_id: str
    customer_id: str | None  # the back office's id, once identified
    customer_name: str | None
    tier: str | None
    email: str | None
    slack_user: str | None


def link_customer(
    conn: Connection, link: CustomerLink, now: datetime, repeats: RepeatContacts
) -> str:
    """The journey customer of a turn's ``link``; links every identity it shows to them.

    An anonymous visitor who identifies mid-chat keeps their history: the anonymous
    record's identities and touchpoints move to the identified customer.
    """
    key = link.customer_id
    channel_identity = (link.channel, link.conversation_id)
    linked = identity_owner(conn, *channel_identity)
    if key is None:
        key = linked or f"anon-{link.channel}-{link.conversation_id}"[:64]
    known = conn.execute(
        select(journey_customers.c.name, journey_customers.c.tier).where(
            journey_customers.c.id == key
        )
    ).first()
    if known is not None:
        fresh = (link.customer_name, link.tier)
        if (link.customer_name or link.tier) and tuple(known) != fresh:
            conn.execute(
                update(journey_customers)
                .where(journey_customers.c.id == key)
                .values(name=link.customer_name, tier=link.tier)
            )
    else:
        insert_if_absent(
            conn,
            journey_customers,
            id=key,
            created_at=now,
            name=link.customer_name,
            tier=link.tier,
        )
    if linked and linked != key and linked.startswith("anon-"):
        # Before the visitor's rows become the customer's and their marks are counted again
        # (RepeatContacts.lock says why first).
        repeats.lock(conn, key)
        move_preferences(conn, linked, key)  # "call me Sam", said before signing in
        conn.execute(
            update(identities).where(identities.c.customer_id == linked).values(customer_id=key)
        )
        conn.execute(
            update(touchpoints).where(touchpoints.c.customer_id == linked).values(customer_id=key)
        )
        repeats.recount(conn, key)  # the visitor's chats may repeat the customer's
    shown = [channel_identity]
    if link.email and link.customer_id:
        # Only a verified customer's email is theirs. An email a visitor merely typed may
        # be anyone's: linked, it would put a stranger's chats in that customer's journey,
        # export and erasure, and show their email on the stranger's record.
        shown.append(("email", link.email.lower()))
    if link.slack_user:
        shown.append(("slack", link.slack_user))
    existing = {
        (r.kind, r.value)
        for r in conn.execute(
            select(identities.c.kind, identities.c.value).where(
                or_(*(and_(identities.c.kind == k, identities.c.value == v) for k, v in shown))
            )
        )
    }
    for kind, value in shown:
        if (kind, value) not in existing:
            insert_if_absent(
                conn, identities, customer_id=key, kind=kind, value=value, created_at=now
            )
    return key


def insert_if_absent(conn: Connection, table: Table, **values: Any) -> None:
    """INSERT the row unless one with the same key exists by then.

    Two first turns of one customer (two tabs, a chat and a Slack thread) can both find no
    row and both insert it; the second would fail on the unique key and lose its turn.
    """
    dialect = conn.dialect.name
    if dialect == "postgresql":
        statement = postgresql.insert(table).values(**values).on_conflict_do_nothing()
    elif dialect == "sqlite":
        statement = sqlite.insert(table).values(**values).on_conflict_do_nothing()
    else:  # no portable form: the plain insert, as before
        statement = insert(table).values(**values)
    conn.execute(statement)


def identity_owner(conn: Connection, kind: str, value: str) -> str | None:
    """The journey customer a channel identity is linked to, if any."""
    row = conn.execute(
        select(identities.c.customer_id).where(
            identities.c.kind == kind, identities.c.value == value
        )
    ).first()
    return row.customer_id if row else None
