"""CX review: repeat contacts marked on touchpoints as they are written (touchpoints.came_back).

The repeat-contact metric was worked out at read time, a lookup per conversation: too slow
for a month of a million touchpoints. JourneyStore.record now marks it as it writes; this
fills it in for the touchpoints already there, by the same rule as the metric: the same
customer started another touchpoint after this one, at most 7 days after its start, that
shares a need or an order with it.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-24 02:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

# Written out here rather than imported, so this migration means the same thing forever.
# The touchpoints (as "first") that a later touchpoint of the same customer repeated.
_REPEATED = {
    "sqlite": """
        SELECT first.id FROM touchpoints AS first
        WHERE (first.needs != '[]' OR first.order_ids != '[]') AND EXISTS (
            SELECT 1 FROM touchpoints AS later
            WHERE later.customer_id = first.customer_id
              AND later.started_at > first.started_at
              AND later.started_at <= strftime('%Y-%m-%d %H:%M:%S', first.started_at, '+7 days')
                                      || substr(first.started_at, 20)
              AND (EXISTS (SELECT 1 FROM json_each(first.needs) AS x
                           JOIN json_each(later.needs) AS y ON x.value = y.value)
                   OR EXISTS (SELECT 1 FROM json_each(first.order_ids) AS x
                              JOIN json_each(later.order_ids) AS y ON x.value = y.value)))""",
    "postgresql": """
        SELECT first.id FROM touchpoints AS first
        WHERE (first.needs <> '[]' OR first.order_ids <> '[]') AND EXISTS (
            SELECT 1 FROM touchpoints AS later
            WHERE later.customer_id = first.customer_id
              AND later.started_at > first.started_at
              AND later.started_at <= first.started_at + INTERVAL '7 days'
              AND (EXISTS (SELECT 1 FROM json_array_elements_text(CAST(first.needs AS json)) AS x(v)
                           JOIN json_array_elements_text(CAST(later.needs AS json)) AS y(v)
                           ON x.v = y.v)
                   OR EXISTS (SELECT 1
                              FROM json_array_elements_text(CAST(first.order_ids AS json)) AS x(v)
                              JOIN json_array_elements_text(CAST(later.order_ids AS json)) AS y(v)
                              ON x.v = y.v)))""",
}


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        # A constant default fills the existing rows without rewriting them (PostgreSQL 11+),
        # so only the repeated ones are written; then new rows start unknown (NULL) again.
        op.add_column("touchpoints", sa.Column("came_back", sa.Boolean(), server_default="false"))
        op.execute(f"UPDATE touchpoints SET came_back = true WHERE id IN ({_REPEATED[dialect]})")
        op.alter_column("touchpoints", "came_back", server_default=None)
    else:
        with op.batch_alter_table("touchpoints", schema=None) as batch_op:
            batch_op.add_column(sa.Column("came_back", sa.Boolean(), nullable=True))
        if dialect == "sqlite":
            # Every row written once; the repeated ones found first (a lookup per touchpoint).
            op.execute(f"UPDATE touchpoints SET came_back = id IN ({_REPEATED[dialect]})")
        # Another database: left NULL, which the metric works out when it reads it.
    # Made after the backfill, so it starts (and stays) nearly empty.
    op.create_index(
        "ix_touchpoints_came_back_unknown",
        "touchpoints",
        ["started_at"],
        unique=False,
        sqlite_where=sa.text("came_back IS NULL"),
        postgresql_where=sa.text("came_back IS NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_touchpoints_came_back_unknown", table_name="touchpoints")
    with op.batch_alter_table("touchpoints", schema=None) as batch_op:
        batch_op.drop_column("came_back")
