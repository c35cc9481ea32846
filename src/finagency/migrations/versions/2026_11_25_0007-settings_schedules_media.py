"""compliance settings, content schedules, media

Revision ID: 0007_settings_schedules_media
Revises: 0006_content_workflow
Create Date: 2026-11-25 17:09:02.267466
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007_settings_schedules_media"
down_revision: str | None = "0006_content_workflow"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "compliance_settings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("default_profile", sa.String(length=8), nullable=False),
        sa.Column("profile_by_channel", sa.JSON(), nullable=False),
        sa.Column("disclaimers", sa.JSON(), nullable=False),
        sa.Column("extra_banned_phrases", sa.JSON(), nullable=False),
        sa.Column("registered_adviser", sa.Boolean(), nullable=False),
        sa.Column("auto_approve_types", sa.JSON(), nullable=False),
        sa.Column("near_duplicate_days", sa.Integer(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("changed_by", sa.Integer(), nullable=True),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_compliance_settings")),
    )
    _protect_compliance_settings()
    op.create_table(
        "content_schedules",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("type", sa.String(length=32), nullable=False),
        sa.Column("symbols", sa.JSON(), nullable=False),
        sa.Column("channels", sa.JSON(), nullable=False),
        sa.Column("topic", sa.String(length=500), nullable=True),
        sa.Column("audience", sa.String(length=32), nullable=False),
        sa.Column("tone", sa.String(length=32), nullable=False),
        sa.Column("weekdays", sa.JSON(), nullable=False),
        sa.Column("time_of_day", sa.String(length=5), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("next_run_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_run_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_request_id", sa.Integer(), nullable=True),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_content_schedules")),
    )
    with op.batch_alter_table("content_schedules", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_content_schedules_next_run_at"), ["next_run_at"], unique=False
        )

    op.create_table(
        "media",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("content_type", sa.String(length=32), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("width", sa.Integer(), nullable=True),
        sa.Column("height", sa.Integer(), nullable=True),
        sa.Column("origin", sa.String(length=16), nullable=False),
        sa.Column("uploaded_by", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_media")),
        sa.UniqueConstraint("name", name=op.f("uq_media_name")),
    )
    op.create_table(
        "content_media",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column(
            "content_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("media_id", sa.Integer(), nullable=False),
        sa.Column("alt_text", sa.String(length=500), nullable=True),
        sa.Column("attached_by", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["content_id"],
            ["contents.id"],
            name=op.f("fk_content_media_content_id_contents"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["media_id"],
            ["media.id"],
            name=op.f("fk_content_media_media_id_media"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_content_media")),
        sa.UniqueConstraint(
            "content_id", "media_id", name=op.f("uq_content_media_content_id_media_id")
        ),
    )
    with op.batch_alter_table("content_media", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_content_media_content_id"), ["content_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("content_media", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_content_media_content_id"))

    op.drop_table("content_media")
    op.drop_table("media")
    with op.batch_alter_table("content_schedules", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_content_schedules_next_run_at"))

    op.drop_table("content_schedules")
    _unprotect_compliance_settings()
    op.drop_table("compliance_settings")


# Every settings change is a new version, so that the settings a past draft was checked under can
# always be shown: the database itself refuses to rewrite or remove a version.
_PG_GUARD = """
CREATE FUNCTION compliance_settings_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'compliance settings are append-only: add a new version instead';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER compliance_settings_append_only BEFORE UPDATE OR DELETE ON compliance_settings
    FOR EACH ROW EXECUTE FUNCTION compliance_settings_append_only();
"""
_SQLITE_GUARDS = [
    """CREATE TRIGGER compliance_settings_no_update BEFORE UPDATE ON compliance_settings
    BEGIN SELECT RAISE(ABORT, 'compliance settings are append-only: add a new version instead');
    END""",
    """CREATE TRIGGER compliance_settings_no_delete BEFORE DELETE ON compliance_settings
    BEGIN SELECT RAISE(ABORT, 'compliance settings are append-only: add a new version instead');
    END""",
]


def _protect_compliance_settings() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_PG_GUARD)
    else:
        for statement in _SQLITE_GUARDS:
            op.execute(statement)


def _unprotect_compliance_settings() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS compliance_settings_append_only ON compliance_settings")
        op.execute("DROP FUNCTION IF EXISTS compliance_settings_append_only()")
    else:
        op.execute("DROP TRIGGER IF EXISTS compliance_settings_no_update")
        op.execute("DROP TRIGGER IF EXISTS compliance_settings_no_delete")
