"""The organisation's compliance policy as the checker uses it: plain values, no database.

The stored settings (compliance/models.py, one row per version) become a Policy; without any
stored version the policy comes from the environment (FINAGENCY_COMPLIANCE_PROFILE).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from finagency.compliance.profiles import default_disclaimer

DEFAULT_NEAR_DUPLICATE_DAYS = 14


@dataclass(frozen=True)
class Policy:
    default_profile: str = "us"
    profile_by_channel: dict[str, str] = field(default_factory=dict)
    disclaimers: dict[str, str] = field(default_factory=dict)
    extra_banned_phrases: tuple[str, ...] = ()
    registered_adviser: bool = False
    auto_approve_types: tuple[str, ...] = ()
    near_duplicate_days: int = DEFAULT_NEAR_DUPLICATE_DAYS
    version: int = 0  # 0: no stored version, the environment's defaults

    def profile_for(self, channel_type: str) -> str:
        return self.profile_by_channel.get(channel_type, self.default_profile)

    def disclaimer_for(self, profile: str) -> str:
        return self.disclaimers.get(profile, "").strip() or default_disclaimer(profile)

    def profiles_for(self, channel_types: list[str]) -> list[str]:
        """The distinct profiles that apply to these channels, the default first."""
        found = [self.profile_for(channel) for channel in channel_types] or [self.default_profile]
        return list(dict.fromkeys(found))
