"""One truth across departments: open handoffs joined, outcomes told (issue 21).

handoffs: what each is about (order_id, invoice_id) so a later contact about the same need
and order joins it; the deadline promised (promised_by), who acknowledged it and the note
the department left for the customer. inbox.kind: a new handoff or an update to one.
handoff_contacts: the later contacts that joined an open handoff (one per conversation).

Revision ID: 0012_one_truth
Revises: 0011_self_served
Create Date: 2026-12-07 11:40:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0012_one_truth"
down_revision = "0011_self_served"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("handoffs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("order_id", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("invoice_id", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("promised_by", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("acknowledged_by", sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column("customer_note", sa.Text(), nullable=True))
        batch_op.create_index(
            "ix_handoffs_customer_status", ["customer_id", "status"], unique=False
        )
    with op.batch_alter_table("inbox", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("kind", sa.String(length=16), server_default="handoff", nullable=False)
        )
    op.create_table(
        "handoff_contacts",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("handoff_id", sa.Integer(), nullable=False),
        sa.Column("conversation_id", sa.String(length=255), nullable=False),
        sa.Column("touchpoint_id", sa.Integer(), nullable=True),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("customer_said", sa.Text(), nullable=True),
        sa.Column("idempotency_key", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["handoff_id"],
            ["handoffs.id"],
            name=op.f("fk_handoff_contacts_handoff_id_handoffs"),
        ),
        sa.ForeignKeyConstraint(
            ["touchpoint_id"],
            ["touchpoints.id"],
            name=op.f("fk_handoff_contacts_touchpoint_id_touchpoints"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_handoff_contacts")),
        sa.UniqueConstraint("handoff_id", "conversation_id", name="uq_handoff_contacts_handoff"),
    )
    with op.batch_alter_table("handoff_contacts", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_handoff_contacts_handoff_id"), ["handoff_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_handoff_contacts_conversation_id"), ["conversation_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_handoff_contacts_touchpoint_id"), ["touchpoint_id"], unique=False
        )


def downgrade() -> None:
    op.drop_table("handoff_contacts")
    with op.batch_alter_table("inbox", schema=None) as batch_op:
        batch_op.drop_column("kind")
    with op.batch_alter_table("handoffs", schema=None) as batch_op:
        batch_op.drop_index("ix_handoffs_customer_status")
        for column in ("customer_note", "acknowledged_by", "promised_by", "invoice_id", "order_id"):
            batch_op.drop_column(column)
