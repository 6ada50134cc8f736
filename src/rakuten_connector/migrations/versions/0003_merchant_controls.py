"""Merchant controls: SKU mappings, carrier choices, stock publishing rules, out-of-stock refusal

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-04 18:47:44.561984
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "carrier_choices",
        sa.Column("connection_id", sa.String(length=36), nullable=False),
        sa.Column("shipping_key", sa.String(length=128), nullable=False),
        sa.Column("shipping_type", sa.String(length=128), nullable=False),
        sa.Column("choice", sa.String(length=32), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["connection_id"],
            ["connections.id"],
            name=op.f("fk_carrier_choices_connection_id_connections"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("connection_id", "shipping_key", name=op.f("pk_carrier_choices")),
    )
    op.create_table(
        "sku_mappings",
        sa.Column("connection_id", sa.String(length=36), nullable=False),
        sa.Column("rakuten_sku", sa.String(length=255), nullable=False),
        sa.Column("cubyn_sku", sa.String(length=255), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["connection_id"],
            ["connections.id"],
            name=op.f("fk_sku_mappings_connection_id_connections"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("connection_id", "rakuten_sku", name=op.f("pk_sku_mappings")),
    )
    with op.batch_alter_table("sku_mappings", schema=None) as batch_op:
        batch_op.create_index("ix_sku_mappings_connection_cubyn", ["connection_id", "cubyn_sku"], unique=False)

    with op.batch_alter_table("connections", schema=None) as batch_op:
        batch_op.add_column(sa.Column("stock_buffer", sa.Integer(), server_default="0", nullable=False))
        batch_op.add_column(sa.Column("stock_max", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("refuse_out_of_stock_after_hours", sa.Integer(), nullable=True))

    with op.batch_alter_table("order_items", schema=None) as batch_op:
        batch_op.add_column(sa.Column("cubyn_sku", sa.String(length=255), nullable=True))

    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.add_column(sa.Column("stock_failed_since", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index("ix_orders_imported", ["imported_at", "id"], unique=False)
        batch_op.create_index("ix_orders_state_imported", ["state", "imported_at", "id"], unique=False)
        batch_op.create_index(
            "ix_orders_connection_shipping_type", ["connection_id", "shipping_type"], unique=False
        )

    with op.batch_alter_table("stock_items", schema=None) as batch_op:
        batch_op.add_column(sa.Column("cubyn_sku", sa.String(length=255), nullable=True))
        # `unknown_on_rakuten` is longer than the statuses before it.
        batch_op.alter_column(
            "status", existing_type=sa.String(length=16), type_=sa.String(length=32), existing_nullable=False
        )

    with op.batch_alter_table("stock_sync_entries", schema=None) as batch_op:
        batch_op.add_column(sa.Column("follows", sa.String(length=255), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("stock_sync_entries", schema=None) as batch_op:
        batch_op.drop_column("follows")

    with op.batch_alter_table("stock_items", schema=None) as batch_op:
        batch_op.alter_column(
            "status", existing_type=sa.String(length=32), type_=sa.String(length=16), existing_nullable=False
        )
        batch_op.drop_column("cubyn_sku")

    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.drop_index("ix_orders_connection_shipping_type")
        batch_op.drop_index("ix_orders_state_imported")
        batch_op.drop_index("ix_orders_imported")
        batch_op.drop_column("stock_failed_since")

    with op.batch_alter_table("order_items", schema=None) as batch_op:
        batch_op.drop_column("cubyn_sku")

    with op.batch_alter_table("connections", schema=None) as batch_op:
        batch_op.drop_column("refuse_out_of_stock_after_hours")
        batch_op.drop_column("stock_max")
        batch_op.drop_column("stock_buffer")

    with op.batch_alter_table("sku_mappings", schema=None) as batch_op:
        batch_op.drop_index("ix_sku_mappings_connection_cubyn")

    op.drop_table("sku_mappings")
    op.drop_table("carrier_choices")
