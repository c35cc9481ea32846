"""content requests: whether to attach a price chart

Revision ID: 0008_request_chart
Revises: 0007_settings_schedules_media
Create Date: 2026-11-25
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008_request_chart"
down_revision: str | None = "0007_settings_schedules_media"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("content_requests", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("chart", sa.Boolean(), nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    with op.batch_alter_table("content_requests", schema=None) as batch_op:
        batch_op.drop_column("chart")
