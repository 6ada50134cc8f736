"""connections and orders

Revision ID: 0001
Revises:
Create Date: 2026-11-27 21:12:01.305694
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table(
        "connections",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("merchant_id", sa.String(length=128), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("seller_id", sa.String(length=128), nullable=False),
        sa.Column("seller_key", sa.String(length=128), nullable=False),
        sa.Column("stock_sync_enabled", sa.Boolean(), nullable=False),
        sa.Column("paused", sa.Boolean(), nullable=False),
        sa.Column("state", sa.String(length=32), nullable=False),
        sa.Column("state_reason", sa.Text(), nullable=True),
        sa.Column("rakuten_token_enc", sa.Text(), nullable=True),
        sa.Column("cubyn_api_key_enc", sa.Text(), nullable=True),
        sa.Column("webhook_secret_enc", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("disconnected_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_import_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_import_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_connections")),
    )
    with op.batch_alter_table("connections", schema=None) as batch_op:
        batch_op.create_index("ix_connections_merchant_id", ["merchant_id"], unique=False)
        batch_op.create_index(
            "uq_connections_live_seller",
            ["seller_key"],
            unique=True,
            sqlite_where=sa.text("state != 'disconnected'"),
            postgresql_where=sa.text("state != 'disconnected'"),
        )

    op.create_table(
        "orders",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("connection_id", sa.String(length=36), nullable=False),
        sa.Column("purchase_id", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=32), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("shipping_type", sa.String(length=128), nullable=True),
        sa.Column("delivery_mode", sa.String(length=32), nullable=True),
        sa.Column("parcel_id", sa.String(length=64), nullable=True),
        sa.Column("tracking_id", sa.String(length=64), nullable=True),
        sa.Column("purchased_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("imported_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["connection_id"],
            ["connections.id"],
            name=op.f("fk_orders_connection_id_connections"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_orders")),
        sa.UniqueConstraint("connection_id", "purchase_id", name=op.f("uq_orders_connection_id_purchase_id")),
    )
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.create_index("ix_orders_connection_state", ["connection_id", "state"], unique=False)


def downgrade() -> None:

    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.drop_index("ix_orders_connection_state")

    op.drop_table("orders")
    with op.batch_alter_table("connections", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_connections_live_seller",
            sqlite_where=sa.text("state != 'disconnected'"),
            postgresql_where=sa.text("state != 'disconnected'"),
        )
        batch_op.drop_index("ix_connections_merchant_id")

    op.drop_table("connections")
