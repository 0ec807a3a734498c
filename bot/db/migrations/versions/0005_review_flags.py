"""CX review: customers' words on touchpoints (log search), flags and labelled examples.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-24 01:05:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("touchpoints", schema=None) as batch_op:
        batch_op.add_column(sa.Column("customer_text", sa.Text(), nullable=True))

    op.create_table(
        "review_flags",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("touchpoint_id", sa.Integer(), nullable=False),
        sa.Column("conversation_id", sa.String(length=255), nullable=False),
        sa.Column("tags", sa.Text(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("flagged_by", sa.Integer(), nullable=False),
        sa.Column("flagged_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["flagged_by"], ["users.id"], name=op.f("fk_review_flags_flagged_by_users")
        ),
        sa.ForeignKeyConstraint(
            ["touchpoint_id"],
            ["touchpoints.id"],
            name=op.f("fk_review_flags_touchpoint_id_touchpoints"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_review_flags")),
        sa.UniqueConstraint("touchpoint_id", name=op.f("uq_review_flags_touchpoint_id")),
    )
    with op.batch_alter_table("review_flags", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_review_flags_conversation_id"), ["conversation_id"], unique=False
        )

    op.create_table(
        "review_examples",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("touchpoint_id", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("text_sha256", sa.String(length=64), nullable=False),
        sa.Column("predicted_intent", sa.String(length=64), nullable=True),
        sa.Column("intent", sa.String(length=64), nullable=False),
        sa.Column("labelled_by", sa.Integer(), nullable=False),
        sa.Column("labelled_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["labelled_by"], ["users.id"], name=op.f("fk_review_examples_labelled_by_users")
        ),
        sa.ForeignKeyConstraint(
            ["touchpoint_id"],
            ["touchpoints.id"],
            name=op.f("fk_review_examples_touchpoint_id_touchpoints"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_review_examples")),
        sa.UniqueConstraint("touchpoint_id", "text_sha256", name="uq_review_examples_message"),
    )
    with op.batch_alter_table("review_examples", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_review_examples_touchpoint_id"), ["touchpoint_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("review_examples", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_review_examples_touchpoint_id"))
    op.drop_table("review_examples")
    with op.batch_alter_table("review_flags", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_review_flags_conversation_id"))
    op.drop_table("review_flags")
    with op.batch_alter_table("touchpoints", schema=None) as batch_op:
        batch_op.drop_column("customer_text")
