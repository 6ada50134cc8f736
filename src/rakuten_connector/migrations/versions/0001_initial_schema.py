"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-27 21:32:42.365606
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    _connections()
    _orders()
    _stock_files_and_items()
    _stock_states_and_syncs()
    _webhook_and_order_events()
    _order_items_and_sync_entries()


def _connections() -> None:
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
        sa.Column("next_import_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("import_failures", sa.Integer(), nullable=False),
        sa.Column("last_sales_scan_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("lease_owner", sa.String(length=64), nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_connections")),
    )
    with op.batch_alter_table("connections", schema=None) as batch_op:
        batch_op.create_index("ix_connections_merchant_id", ["merchant_id"], unique=False)
        batch_op.create_index("ix_connections_next_import", ["state", "next_import_at"], unique=False)
        batch_op.create_index(
            "uq_connections_live_seller",
            ["seller_key"],
            unique=True,
            sqlite_where=sa.text("state != 'disconnected'"),
            postgresql_where=sa.text("state != 'disconnected'"),
        )


def _orders() -> None:
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
        sa.Column("parcel_status", sa.String(length=64), nullable=True),
        sa.Column("parcel_updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("parcel_request", sa.Text(), nullable=True),
        sa.Column("purchased_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("imported_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("rakuten_seen_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("next_check_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("lease_owner", sa.String(length=64), nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
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
        batch_op.create_index(
            "ix_orders_connection_imported", ["connection_id", "imported_at", "id"], unique=False
        )
        batch_op.create_index("ix_orders_connection_state", ["connection_id", "state"], unique=False)
        batch_op.create_index("ix_orders_next_check", ["next_check_at"], unique=False)


def _stock_files_and_items() -> None:
    op.create_table(
        "stock_files",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("connection_id", sa.String(length=36), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("import_id", sa.String(length=64), nullable=True),
        sa.Column("sku_count", sa.Integer(), nullable=False),
        sa.Column("pushed_count", sa.Integer(), nullable=True),
        sa.Column("rejected_count", sa.Integer(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("uploaded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("next_poll_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("processed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["connection_id"],
            ["connections.id"],
            name=op.f("fk_stock_files_connection_id_connections"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stock_files")),
    )
    with op.batch_alter_table("stock_files", schema=None) as batch_op:
        batch_op.create_index("ix_stock_files_connection_created", ["connection_id", "created_at"], unique=False)

    op.create_table(
        "stock_items",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("connection_id", sa.String(length=36), nullable=False),
        sa.Column("sku", sa.String(length=255), nullable=False),
        sa.Column("wanted_quantity", sa.Integer(), nullable=False),
        sa.Column("wanted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("pushed_version", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("pushed_quantity", sa.Integer(), nullable=True),
        sa.Column("pushed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("file_id", sa.String(length=36), nullable=True),
        sa.Column("sent_quantity", sa.Integer(), nullable=True),
        sa.Column("sent_version", sa.Integer(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["connection_id"],
            ["connections.id"],
            name=op.f("fk_stock_items_connection_id_connections"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stock_items")),
        sa.UniqueConstraint("connection_id", "sku", name=op.f("uq_stock_items_connection_id_sku")),
    )
    with op.batch_alter_table("stock_items", schema=None) as batch_op:
        batch_op.create_index(
            "ix_stock_items_connection_status_sku", ["connection_id", "status", "sku"], unique=False
        )
        batch_op.create_index("ix_stock_items_file", ["file_id"], unique=False)


def _stock_states_and_syncs() -> None:
    op.create_table(
        "stock_states",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("next_run_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("blocked_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("next_full_sync_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("lease_owner", sa.String(length=64), nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["id"], ["connections.id"], name=op.f("fk_stock_states_id_connections"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stock_states")),
    )
    with op.batch_alter_table("stock_states", schema=None) as batch_op:
        batch_op.create_index("ix_stock_states_next_run", ["next_run_at"], unique=False)

    op.create_table(
        "stock_syncs",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("connection_id", sa.String(length=36), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("phase", sa.String(length=32), nullable=False),
        sa.Column("trigger", sa.String(length=16), nullable=False),
        sa.Column("rakuten_skus", sa.Integer(), nullable=False),
        sa.Column("cubyn_skus", sa.Integer(), nullable=False),
        sa.Column("compared", sa.Integer(), nullable=False),
        sa.Column("to_update", sa.Integer(), nullable=False),
        sa.Column("updated", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("catalog_read_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("next_run_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("lease_owner", sa.String(length=64), nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["connection_id"],
            ["connections.id"],
            name=op.f("fk_stock_syncs_connection_id_connections"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stock_syncs")),
    )
    with op.batch_alter_table("stock_syncs", schema=None) as batch_op:
        batch_op.create_index("ix_stock_syncs_status_next_run", ["status", "next_run_at"], unique=False)
        batch_op.create_index(
            "uq_stock_syncs_active_connection",
            ["connection_id"],
            unique=True,
            sqlite_where=sa.text("status IN ('queued', 'running')"),
            postgresql_where=sa.text("status IN ('queued', 'running')"),
        )


def _webhook_and_order_events() -> None:
    op.create_table(
        "webhook_events",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("connection_id", sa.String(length=36), nullable=False),
        sa.Column("webhook_id", sa.String(length=255), nullable=False),
        sa.Column("event_type", sa.String(length=64), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("processed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["connection_id"],
            ["connections.id"],
            name=op.f("fk_webhook_events_connection_id_connections"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_events")),
        sa.UniqueConstraint(
            "connection_id", "webhook_id", name=op.f("uq_webhook_events_connection_id_webhook_id")
        ),
    )
    with op.batch_alter_table("webhook_events", schema=None) as batch_op:
        batch_op.create_index("ix_webhook_events_status_received", ["status", "received_at"], unique=False)

    op.create_table(
        "order_events",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("order_id", sa.String(length=36), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["order_id"], ["orders.id"], name=op.f("fk_order_events_order_id_orders"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_order_events")),
    )
    with op.batch_alter_table("order_events", schema=None) as batch_op:
        batch_op.create_index("ix_order_events_order", ["order_id", "id"], unique=False)


def _order_items_and_sync_entries() -> None:
    op.create_table(
        "order_items",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("order_id", sa.String(length=36), nullable=False),
        sa.Column("item_id", sa.String(length=64), nullable=False),
        sa.Column("sku", sa.String(length=255), nullable=False),
        sa.Column("rakuten_status", sa.String(length=64), nullable=False),
        sa.Column("accepted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("tracking_pushed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("refused_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cancelled_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["order_id"], ["orders.id"], name=op.f("fk_order_items_order_id_orders"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_order_items")),
        sa.UniqueConstraint("order_id", "item_id", name=op.f("uq_order_items_order_id_item_id")),
    )
    op.create_table(
        "stock_sync_entries",
        sa.Column("sync_id", sa.String(length=36), nullable=False),
        sa.Column("sku", sa.String(length=255), nullable=False),
        sa.Column("on_rakuten", sa.Boolean(), nullable=False),
        sa.Column("rakuten_quantity", sa.Integer(), nullable=True),
        sa.Column("on_cubyn", sa.Boolean(), nullable=False),
        sa.Column("cubyn_quantity", sa.Integer(), nullable=True),
        sa.Column("push_version", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["sync_id"],
            ["stock_syncs.id"],
            name=op.f("fk_stock_sync_entries_sync_id_stock_syncs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("sync_id", "sku", name=op.f("pk_stock_sync_entries")),
    )


def downgrade() -> None:

    op.drop_table("stock_sync_entries")
    op.drop_table("order_items")
    with op.batch_alter_table("order_events", schema=None) as batch_op:
        batch_op.drop_index("ix_order_events_order")

    op.drop_table("order_events")
    with op.batch_alter_table("webhook_events", schema=None) as batch_op:
        batch_op.drop_index("ix_webhook_events_status_received")

    op.drop_table("webhook_events")
    with op.batch_alter_table("stock_syncs", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_stock_syncs_active_connection",
            sqlite_where=sa.text("status IN ('queued', 'running')"),
            postgresql_where=sa.text("status IN ('queued', 'running')"),
        )
        batch_op.drop_index("ix_stock_syncs_status_next_run")

    op.drop_table("stock_syncs")
    with op.batch_alter_table("stock_states", schema=None) as batch_op:
        batch_op.drop_index("ix_stock_states_next_run")

    op.drop_table("stock_states")
    with op.batch_alter_table("stock_items", schema=None) as batch_op:
        batch_op.drop_index("ix_stock_items_file")
        batch_op.drop_index("ix_stock_items_connection_status_sku")

    op.drop_table("stock_items")
    with op.batch_alter_table("stock_files", schema=None) as batch_op:
        batch_op.drop_index("ix_stock_files_connection_created")

    op.drop_table("stock_files")
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.drop_index("ix_orders_next_check")
        batch_op.drop_index("ix_orders_connection_state")
        batch_op.drop_index("ix_orders_connection_imported")

    op.drop_table("orders")
    with op.batch_alter_table("connections", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_connections_live_seller",
            sqlite_where=sa.text("state != 'disconnected'"),
            postgresql_where=sa.text("state != 'disconnected'"),
        )
        batch_op.drop_index("ix_connections_next_import")
        batch_op.drop_index("ix_connections_merchant_id")

    op.drop_table("connections")
