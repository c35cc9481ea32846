"""Request and response bodies of the compliance API."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


class SettingsChange(BaseModel):
    """A partial change: name only what changes. Objects are merged key by key (null or "" for a
    key removes its override); lists replace the stored list. The service checks the values."""

    # Strict: "yes" is not true and 14.0 is not 14 in a compliance setting.
    model_config = ConfigDict(extra="forbid", strict=True)

    reason: str = Field(description="Why, 5 to 500 characters; kept with the version.")
    default_profile: str | None = Field(None, description="us or in")
    profile_by_channel: dict[str, str | None] | None = Field(
        None, description="{channel type: profile}; null removes that channel's override"
    )
    disclaimers: dict[str, str | None] | None = Field(
        None,
        description="{profile: text of 20 to 1,000 characters}; null or '' restores the "
        "built-in disclaimer",
    )
    extra_banned_phrases: list[str] | None = Field(
        None, description="At most 200 phrases of 2 to 100 characters, flagged like promises"
    )
    registered_adviser: bool | None = Field(
        None, description="Registered to give advice: buy/sell calls and targets are allowed"
    )
    auto_approve_types: list[str] | None = Field(
        None, description="Content types approved without an editor when nothing blocks"
    )
    near_duplicate_days: int | None = Field(
        None, description="Days the near-duplicate rule looks back, 1 to 365"
    )


class SettingsVersionOut(BaseModel):
    version: int = Field(description="0: nothing stored yet, the environment's defaults")
    default_profile: str
    profile_by_channel: dict[str, str]
    disclaimers: dict[str, str] = Field(description="The organisation's own disclaimer texts")
    extra_banned_phrases: list[str]
    registered_adviser: bool
    auto_approve_types: list[str]
    near_duplicate_days: int
    reason: str | None
    changed_by: int | None
    changed_by_email: str | None = Field(description="None once the user has been deleted")
    changed_at: datetime | None


class ComplianceSettingsOut(SettingsVersionOut):
    effective_profiles: dict[str, str] = Field(description="The profile of every channel type")
    effective_disclaimers: dict[str, str] = Field(
        description="The disclaimer each profile requires: the organisation's or the built-in one"
    )


class SettingsHistory(BaseModel):
    items: list[SettingsVersionOut]
    next_before_version: int | None


class RuleOut(BaseModel):
    id: str
    severity: str = Field(description="block prevents approval; warn is shown to the editor")
    description: str


class ProfileOut(BaseModel):
    name: str
    title: str
    disclaimer: str = Field(description="The built-in disclaimer")


class RulesOut(BaseModel):
    rules: list[RuleOut]
    profiles: list[ProfileOut]
