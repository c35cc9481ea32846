"""The organisation's compliance settings, kept as a history of versions.

Every change is a new row; the newest row is in force. Nothing is updated or deleted, so a
compliance officer can always see which settings a past draft was checked under, who changed
them and why.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from finagency.db import Base, utcnow


class ComplianceSettingsVersion(Base):
    __tablename__ = "compliance_settings"

    id: Mapped[int] = mapped_column(primary_key=True)  # the version number
    # The profile for channels not named in profile_by_channel ("us" or "in").
    default_profile: Mapped[str] = mapped_column(String(8))
    # {channel type: profile}, e.g. {"telegram": "in"}.
    profile_by_channel: Mapped[dict[str, str]] = mapped_column(JSON)
    # {profile: disclaimer text}; a profile not named here uses its built-in disclaimer.
    disclaimers: Mapped[dict[str, str]] = mapped_column(JSON)
    extra_banned_phrases: Mapped[list[str]] = mapped_column(JSON)
    # Registered investment adviser / research analyst: buy/sell calls and targets allowed.
    registered_adviser: Mapped[bool] = mapped_column(default=False)
    # Content types approved without an editor when they have no blocking finding.
    auto_approve_types: Mapped[list[str]] = mapped_column(JSON)
    # How far back the near-duplicate rule looks at approved, scheduled and published texts.
    near_duplicate_days: Mapped[int] = mapped_column(default=14)
    reason: Mapped[str | None] = mapped_column(Text, default=None)
    changed_by: Mapped[int | None] = mapped_column(default=None)
    changed_at: Mapped[datetime] = mapped_column(default=utcnow)

    def as_dict(self) -> dict[str, Any]:
        return {
            "version": self.id,
            "default_profile": self.default_profile,
            "profile_by_channel": self.profile_by_channel,
            "disclaimers": self.disclaimers,
            "extra_banned_phrases": self.extra_banned_phrases,
            "registered_adviser": self.registered_adviser,
            "auto_approve_types": self.auto_approve_types,
            "near_duplicate_days": self.near_duplicate_days,
            "reason": self.reason,
            "changed_by": self.changed_by,
            "changed_at": self.changed_at,
        }
