"""Compliance over HTTP: the settings in force, their history, and the rules that are checked."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query, Request
from sqlalchemy.ext.asyncio import AsyncSession

from finagency.accounts.dependencies import SettingsDep, actor_of, require
from finagency.accounts.permissions import Permission
from finagency.accounts.sessions import Principal
from finagency.compliance import service
from finagency.compliance.models import ComplianceSettingsVersion
from finagency.compliance.schemas import (
    ComplianceSettingsOut,
    ProfileOut,
    RuleOut,
    RulesOut,
    SettingsChange,
    SettingsHistory,
    SettingsVersionOut,
)
from finagency.content.renderings import CHANNEL_TYPES
from finagency.db import SessionDep
from finagency.routing import feature_router
from finagency.settings import Settings

router = feature_router()
# Editors and analysts need to know which rules apply; only admins change them.
Reader = Annotated[Principal, require(Permission.read)]
SettingsAdmin = Annotated[Principal, require(Permission.manage_settings)]
Auditor = Annotated[Principal, require(Permission.read_audit)]


@router.get("/compliance/settings", tags=["compliance"])
async def read_settings(
    principal: Reader, session: SessionDep, settings: SettingsDep
) -> ComplianceSettingsOut:
    """The settings in force, with the profile of every channel and every profile's disclaimer."""
    return await _settings_out(session, settings, await service.newest(session))


@router.patch("/compliance/settings", tags=["compliance"])
async def change_settings(
    body: SettingsChange,
    principal: SettingsAdmin,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
) -> ComplianceSettingsOut:
    """A new version: the current settings with these changes. 409 when nothing would change."""
    changes = body.model_dump(exclude_unset=True, exclude={"reason"})
    actor = actor_of(request, principal)
    row = await service.update(session, settings, actor, changes, body.reason)
    return await _settings_out(session, settings, row)


@router.get("/compliance/settings/history", tags=["compliance"])
async def settings_history(
    principal: Auditor,
    session: SessionDep,
    settings: SettingsDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    before_version: Annotated[int | None, Query(ge=1)] = None,
) -> SettingsHistory:
    """Stored versions newest first, each with who changed it, when and why."""
    rows = await service.history(session, limit, before_version)
    emails = await service.emails(session, [row.changed_by for row in rows])
    return SettingsHistory(
        items=[_version_out(row, settings, emails) for row in rows],
        next_before_version=rows[-1].id if len(rows) == limit else None,
    )


@router.get("/compliance/rules", tags=["compliance"])
async def list_rules(principal: Reader) -> RulesOut:
    """Every rule with its default severity, and the profiles with their built-in disclaimers."""
    return RulesOut(
        rules=[
            RuleOut(id=rule, severity=severity.value, description=description)
            for rule, severity, description in service.rule_catalog()
        ],
        profiles=[
            ProfileOut(name=profile.name, title=profile.title, disclaimer=profile.disclaimer)
            for profile in service.profiles()
        ],
    )


def _version_out(
    row: ComplianceSettingsVersion | None, settings: Settings, emails: dict[int, str]
) -> SettingsVersionOut:
    policy = service.policy_from(row, settings)
    changed_by = row.changed_by if row else None
    return SettingsVersionOut(
        version=policy.version,
        **service.values_of(policy),
        reason=row.reason if row else None,
        changed_by=changed_by,
        changed_by_email=emails.get(changed_by) if changed_by is not None else None,
        changed_at=row.changed_at if row else None,
    )


async def _settings_out(
    session: AsyncSession, settings: Settings, row: ComplianceSettingsVersion | None
) -> ComplianceSettingsOut:
    emails = await service.emails(session, [row.changed_by if row else None])
    version = _version_out(row, settings, emails)
    policy = service.policy_from(row, settings)
    return ComplianceSettingsOut(
        **version.model_dump(),
        effective_profiles={channel: policy.profile_for(channel) for channel in CHANNEL_TYPES},
        effective_disclaimers={
            profile.name: policy.disclaimer_for(profile.name) for profile in service.profiles()
        },
    )
