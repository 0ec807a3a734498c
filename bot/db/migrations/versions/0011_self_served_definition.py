"""Self-served means a need was answered: a chat that solved nothing is abandoned.

Until now a chat ended with a goodbye kept the outcome ``self_served`` whatever happened in
it, so out-of-scope questions, fallbacks and turns nobody answered counted as the assistant
resolving something alone. From now on (bot/journey/store.py: outcome_at_end) a
conversation whose customer wrote but raised no need, and which no department or person
was handed, ends ``abandoned``: the customer left with nothing solved. This applies the
same definition to the history: ended touchpoints with outcome ``self_served``, no need
(needs '[]') and at least one message become ``abandoned``. Open chats are decided when
they end.

The downgrade leaves outcomes as they are: an ``abandoned`` chat of the old definition
(left idle) cannot be told from one this changed.

Revision ID: 0011_self_served
Revises: 0010_search
Create Date: 2026-12-07 12:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0011_self_served"
down_revision = "0010_search"
branch_labels = None
depends_on = None

touchpoints = sa.table(
    "touchpoints",
    sa.column("outcome", sa.String),
    sa.column("needs", sa.Text),
    sa.column("message_count", sa.Integer),
    sa.column("ended_at", sa.DateTime),
)


def upgrade() -> None:
    op.execute(
        touchpoints.update()
        .where(
            touchpoints.c.outcome == "self_served",
            touchpoints.c.ended_at.isnot(None),
            touchpoints.c.needs == "[]",
            touchpoints.c.message_count > 0,
        )
        .values(outcome="abandoned")
    )


def downgrade() -> None:
    pass  # see the module's docstring
