"""indexes that keep lists and budgets flat at a million rows

Revision ID: 0012_scaling_indexes
Revises: 0011_overview_indexes
Create Date: 2026-11-26 00:10:00

Measured with bench/dashboard_pages.py at 1,000,000 contents on PostgreSQL: the content list
filtered by status and type took 216 ms (the status index, then a sort of its matches), the
Research page 180 ms (a scan of every content request for the ideas' ids), the Schedule page's
window and a channel's rate budget a scan of the publications. Each now walks an index in
the order it reads.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0012_scaling_indexes"
down_revision: str | None = "0011_overview_indexes"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("contents", schema=None) as batch_op:
        # (status, id) serves everything the status index did, and the newest-first order.
        batch_op.drop_index("ix_contents_status")
        batch_op.create_index("ix_contents_status_id", ["status", "id"], unique=False)
        batch_op.create_index("ix_contents_type_id", ["type", "id"], unique=False)
        batch_op.create_index("ix_contents_status_type_id", ["status", "type", "id"], unique=False)
    with op.batch_alter_table("content_requests", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_content_requests_idea_id"), ["idea_id"], unique=False)
    with op.batch_alter_table("publications", schema=None) as batch_op:
        batch_op.create_index(
            "ix_publications_channel_id_published_at", ["channel_id", "published_at"], unique=False
        )
        batch_op.create_index(
            "ix_publications_lease_expires_at", ["lease_expires_at"], unique=False
        )
        batch_op.create_index("ix_publications_scheduled_at", ["scheduled_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("publications", schema=None) as batch_op:
        batch_op.drop_index("ix_publications_scheduled_at")
        batch_op.drop_index("ix_publications_lease_expires_at")
        batch_op.drop_index("ix_publications_channel_id_published_at")
    with op.batch_alter_table("content_requests", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_content_requests_idea_id"))
    with op.batch_alter_table("contents", schema=None) as batch_op:
        batch_op.drop_index("ix_contents_status_type_id")
        batch_op.drop_index("ix_contents_type_id")
        batch_op.drop_index("ix_contents_status_id")
        batch_op.create_index("ix_contents_status", ["status"], unique=False)
