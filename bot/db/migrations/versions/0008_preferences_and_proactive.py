"""Preferences, department events told to customers first, and website presence.

customer_preferences: what a customer asked to be called, how formally, on which channel
and when not to be contacted (bot/preferences.py). proactive_events: events department
systems posted to the hub (shipment.delayed...), each told to its customer once
(bot/proactive/). web_presence: which website chats have a browser connected now.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-24 07:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "customer_preferences",
        sa.Column("customer_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=True),
        sa.Column("formality", sa.String(length=16), nullable=True),
        sa.Column("channel", sa.String(length=32), nullable=True),
        sa.Column("quiet_from", sa.String(length=5), nullable=True),
        sa.Column("quiet_until", sa.String(length=5), nullable=True),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["journey_customers.id"],
            name=op.f("fk_customer_preferences_customer_id_journey_customers"),
        ),
        sa.PrimaryKeyConstraint("customer_id", name=op.f("pk_customer_preferences")),
    )
    op.create_table(
        "proactive_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("event_id", sa.String(length=255), nullable=False),
        sa.Column("type", sa.String(length=64), nullable=False),
        sa.Column("department", sa.String(length=32), nullable=False),
        sa.Column("received_at", sa.DateTime(), nullable=False),
        sa.Column("customer_id", sa.String(length=64), nullable=False),
        sa.Column("order_id", sa.String(length=64), nullable=True),
        sa.Column("invoice_id", sa.String(length=64), nullable=True),
        sa.Column("details", sa.Text(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("deliver_after", sa.DateTime(), nullable=False),
        sa.Column("claimed_until", sa.DateTime(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("held_for_quiet_hours", sa.Boolean(), nullable=False),
        sa.Column("conversation_id", sa.String(length=255), nullable=True),
        sa.Column("channel", sa.String(length=32), nullable=True),
        sa.Column("delivered_at", sa.DateTime(), nullable=True),
        sa.Column("touchpoint_id", sa.Integer(), nullable=True),
        sa.Column("choice", sa.String(length=64), nullable=True),
        sa.Column("chosen_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["touchpoint_id"],
            ["touchpoints.id"],
            name=op.f("fk_proactive_events_touchpoint_id_touchpoints"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_proactive_events")),
        sa.UniqueConstraint("event_id", name=op.f("uq_proactive_events_event_id")),
    )
    with op.batch_alter_table("proactive_events", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_proactive_events_customer_id"), ["customer_id"], unique=False
        )
        batch_op.create_index("ix_proactive_events_due", ["state", "deliver_after"], unique=False)
    op.create_table(
        "web_presence",
        sa.Column("sid", sa.String(length=64), nullable=False),
        sa.Column("conversation_id", sa.String(length=255), nullable=False),
        sa.Column("connected_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("sid", name=op.f("pk_web_presence")),
    )
    with op.batch_alter_table("web_presence", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_web_presence_conversation_id"), ["conversation_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("web_presence", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_web_presence_conversation_id"))
    op.drop_table("web_presence")
    with op.batch_alter_table("proactive_events", schema=None) as batch_op:
        batch_op.drop_index("ix_proactive_events_due")
        batch_op.drop_index(batch_op.f("ix_proactive_events_customer_id"))
    op.drop_table("proactive_events")
    op.drop_table("customer_preferences")
