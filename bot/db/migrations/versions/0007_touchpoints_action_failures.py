"""Action-server failures on the touchpoint (touchpoints.action_failures), for CX review.

When the Rasa server could not run a custom action (the action server was down, hung or
answered 5xx), the customer got a graceful reply and the failure is kept on the
conversation's touchpoint (bot/rasa/action_faults.py): a JSON list of {"action", "reason", "at"}.
Existing touchpoints had none: NULL.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-24 04:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A nullable column without a default: no existing row is rewritten, on either database.
    with op.batch_alter_table("touchpoints", schema=None) as batch_op:
        batch_op.add_column(sa.Column("action_failures", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("touchpoints", schema=None) as batch_op:
        batch_op.drop_column("action_failures")
