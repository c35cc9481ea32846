"""indexes for the overview's figures

Revision ID: 0011_overview_indexes
Revises: 0010_staff_notifications
Create Date: 2026-11-25 20:55:00

"Requested today" scanned every content request and "published today" every publication: at
100,000 requests the first took 144 ms on PostgreSQL, 0.4 ms with its index.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0011_overview_indexes"
down_revision: str | None = "0010_staff_notifications"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("content_requests", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_content_requests_created_at"), ["created_at"], unique=False
        )
    with op.batch_alter_table("publications", schema=None) as batch_op:
        batch_op.create_index("ix_publications_published_at", ["published_at"], unique=False)
        batch_op.create_index(
            "ix_publications_status_updated_at", ["status", "updated_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("publications", schema=None) as batch_op:
        batch_op.drop_index("ix_publications_status_updated_at")
        batch_op.drop_index("ix_publications_published_at")
    with op.batch_alter_table("content_requests", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_content_requests_created_at"))
