"""research: feeds, news items and content ideas

Revision ID: 0004_research
Revises: 0003_market
Create Date: 2026-11-25
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004_research"
down_revision: str | None = "0003_market"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "research_feeds",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("url", sa.String(length=2000), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("weight", sa.Float(), nullable=False),
        sa.Column("etag", sa.String(length=500), nullable=True),
        sa.Column("last_modified", sa.String(length=100), nullable=True),
        sa.Column("last_fetched_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_research_feeds")),
        sa.UniqueConstraint("url", name=op.f("uq_research_feeds_url")),
    )
    op.create_table(
        "content_ideas",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=500), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("urgency", sa.String(length=16), nullable=False),
        sa.Column("content_type", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("event", sa.String(length=32), nullable=True),
        sa.Column("symbols", sa.JSON(), nullable=False),
        sa.Column("reasons", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "urgency IN ('low', 'normal', 'high', 'breaking')",
            name=op.f("ck_content_ideas_urgency"),
        ),
        sa.CheckConstraint(
            "content_type IN ('market_update', 'news_analysis', 'educational', "
            "'earnings_preview', 'sector_report', 'breaking_alert')",
            name=op.f("ck_content_ideas_content_type"),
        ),
        sa.CheckConstraint(
            "status IN ('new', 'used', 'dismissed')", name=op.f("ck_content_ideas_status")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_content_ideas")),
    )
    with op.batch_alter_table("content_ideas", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_content_ideas_score"), ["score"], unique=False)
        batch_op.create_index(batch_op.f("ix_content_ideas_status"), ["status"], unique=False)

    op.create_table(
        "news_items",
        sa.Column("id", BigId, nullable=False),
        sa.Column("feed_id", sa.Integer(), nullable=True),
        sa.Column("canonical_url", sa.String(length=2000), nullable=False),
        sa.Column("title", sa.String(length=500), nullable=False),
        sa.Column("normalized_title_hash", sa.String(length=64), nullable=False),
        sa.Column("summary", sa.Text(), nullable=True),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("fetched_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("symbols", sa.JSON(), nullable=False),
        sa.Column("keywords", sa.JSON(), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["feed_id"],
            ["research_feeds.id"],
            name=op.f("fk_news_items_feed_id_research_feeds"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_news_items")),
        sa.UniqueConstraint("canonical_url", name=op.f("uq_news_items_canonical_url")),
        sa.UniqueConstraint(
            "normalized_title_hash", name=op.f("uq_news_items_normalized_title_hash")
        ),
    )
    with op.batch_alter_table("news_items", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_news_items_feed_id"), ["feed_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_news_items_published_at"), ["published_at"], unique=False
        )

    op.create_table(
        "content_idea_news_items",
        sa.Column("content_idea_id", sa.Integer(), nullable=False),
        sa.Column("news_item_id", BigId, nullable=False),
        sa.ForeignKeyConstraint(
            ["content_idea_id"],
            ["content_ideas.id"],
            name=op.f("fk_content_idea_news_items_content_idea_id_content_ideas"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["news_item_id"],
            ["news_items.id"],
            name=op.f("fk_content_idea_news_items_news_item_id_news_items"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "content_idea_id", "news_item_id", name=op.f("pk_content_idea_news_items")
        ),
        sa.UniqueConstraint("news_item_id", name=op.f("uq_content_idea_news_items_news_item_id")),
    )


def downgrade() -> None:
    op.drop_table("content_idea_news_items")
    with op.batch_alter_table("news_items", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_news_items_published_at"))
        batch_op.drop_index(batch_op.f("ix_news_items_feed_id"))

    op.drop_table("news_items")
    with op.batch_alter_table("content_ideas", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_content_ideas_status"))
        batch_op.drop_index(batch_op.f("ix_content_ideas_score"))

    op.drop_table("content_ideas")
    op.drop_table("research_feeds")
