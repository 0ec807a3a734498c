"""identity_checks.address_key: the limits count a client address by its digest, whole.

Until now an address was stored cut to 64 characters (the column) but counted whole, so a
longer one never found its own rows (its per-address limits never counted), and two that
began alike were one address to anything reading the column. The limits now count by
``address_key``, the SHA-256 of the normalised address (bot/identity/checks.py), which is 64
characters whatever the address; ``address`` stays what CX review is shown. Existing rows
get the key of the address they hold (normalised the same way: bot.identity.checks is the
one definition of it), so the limits' windows carry on across the upgrade.

Revision ID: 0013_address_key
Revises: 0012_one_truth
Create Date: 2026-12-07 23:40:00
"""

import sqlalchemy as sa
from alembic import op

from bot.identity.checks import address_key

revision = "0013_address_key"
down_revision = "0012_one_truth"
branch_labels = None
depends_on = None

BATCH = 1000

identity_checks = sa.table(
    "identity_checks",
    sa.column("id", sa.Integer),
    sa.column("address", sa.String),
    sa.column("address_key", sa.String),
)


def upgrade() -> None:
    with op.batch_alter_table("identity_checks", schema=None) as batch_op:
        batch_op.add_column(sa.Column("address_key", sa.String(length=64), nullable=True))
    conn = op.get_bind()
    after = 0
    while True:
        rows = conn.execute(
            sa.select(identity_checks.c.id, identity_checks.c.address)
            .where(identity_checks.c.id > after, identity_checks.c.address.isnot(None))
            .order_by(identity_checks.c.id)
            .limit(BATCH)
        ).all()
        if not rows:
            break
        conn.execute(
            identity_checks.update()
            .where(identity_checks.c.id == sa.bindparam("row_id"))
            .values(address_key=sa.bindparam("key")),
            [{"row_id": row_id, "key": address_key(address)} for row_id, address in rows],
        )
        after = rows[-1].id
    with op.batch_alter_table("identity_checks", schema=None) as batch_op:
        batch_op.drop_index("ix_identity_checks_address_at")
        batch_op.create_index(
            "ix_identity_checks_address_key_at", ["address_key", "at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("identity_checks", schema=None) as batch_op:
        batch_op.drop_index("ix_identity_checks_address_key_at")
        batch_op.create_index("ix_identity_checks_address_at", ["address", "at"], unique=False)
        batch_op.drop_column("address_key")
