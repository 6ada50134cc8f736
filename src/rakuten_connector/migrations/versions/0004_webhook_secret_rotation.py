"""connections.previous_webhook_secret_*: a rotated webhook secret keeps working for a grace period

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-06 21:55:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("connections", schema=None) as batch_op:
        batch_op.add_column(sa.Column("previous_webhook_secret_enc", sa.Text(), nullable=True))
        batch_op.add_column(
            sa.Column("previous_webhook_secret_expires_at", sa.DateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("connections", schema=None) as batch_op:
        batch_op.drop_column("previous_webhook_secret_expires_at")
        batch_op.drop_column("previous_webhook_secret_enc")
