"""imported_purchases: the purchases each Rakuten seller already sent to Cubyn, across its connections

A seller disconnected and connected again gets a new connection, and orders are keyed per connection:
this table keeps the new connection from creating a second parcel for a purchase the earlier one imported.
The orders already recorded fill it: every order that reached `importing` (any state but `skipped`), the
earliest one when two connections of a seller recorded the same purchase.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02 10:12:41.518311
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BACKFILL = """
INSERT INTO imported_purchases (seller_key, purchase_id, connection_id, order_id, imported_at)
SELECT c.seller_key, o.purchase_id, o.connection_id, o.id, o.imported_at
FROM orders o JOIN connections c ON c.id = o.connection_id
WHERE o.state != 'skipped'
AND NOT EXISTS (
    SELECT 1 FROM orders o2 JOIN connections c2 ON c2.id = o2.connection_id
    WHERE c2.seller_key = c.seller_key AND o2.purchase_id = o.purchase_id AND o2.state != 'skipped'
    AND (o2.imported_at < o.imported_at OR (o2.imported_at = o.imported_at AND o2.id < o.id))
)
"""


def upgrade() -> None:
    op.create_table(
        "imported_purchases",
        sa.Column("seller_key", sa.String(length=128), nullable=False),
        sa.Column("purchase_id", sa.String(length=64), nullable=False),
        sa.Column("connection_id", sa.String(length=36), nullable=False),
        sa.Column("order_id", sa.String(length=36), nullable=False),
        sa.Column("imported_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("seller_key", "purchase_id", name=op.f("pk_imported_purchases")),
    )
    op.execute(BACKFILL)


def downgrade() -> None:
    op.drop_table("imported_purchases")
