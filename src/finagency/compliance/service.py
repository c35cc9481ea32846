"""The compliance settings in force, their history, and how admins change them.

The newest stored version is in force; without any, version 0 comes from the environment
(FINAGENCY_COMPLIANCE_PROFILE, nothing else set). A change never rewrites a version: it adds
the next one, a copy of the current values with the change applied (the table refuses UPDATE
and DELETE). In a change, the maps (profile_by_channel, disclaimers) are merged key by key like a
JSON Merge Patch, a null or empty value removing that key's override; lists replace the stored
list; null for a whole map or list clears it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from finagency.accounts import audit, users
from finagency.accounts.audit import Actor
from finagency.compliance import factcheck, freshness, rules, similarity
from finagency.compliance.findings import Severity
from finagency.compliance.models import ComplianceSettingsVersion
from finagency.compliance.policy import Policy
from finagency.compliance.profiles import PROFILE_NAMES, Profile, get_profile
from finagency.content.renderings import CHANNEL_TYPES
from finagency.errors import Conflict, FinagencyError, NotFound
from finagency.research.models import CONTENT_TYPES
from finagency.settings import Settings

FIELDS = (
    "default_profile",
    "profile_by_channel",
    "disclaimers",
    "extra_banned_phrases",
    "registered_adviser",
    "auto_approve_types",
    "near_duplicate_days",
)
AUDIT_ACTION = "compliance_settings_changed"
DISCLAIMER_LENGTH = (20, 1000)
PHRASE_LENGTH = (2, 100)
MAX_PHRASES = 200
NEAR_DUPLICATE_DAYS = (1, 365)
REASON_LENGTH = (5, 500)

RULE_DESCRIPTIONS = {
    rules.DISCLAIMER: "The profile's disclaimer (or the organisation's own text) is in the text.",
    rules.PROMISSORY: "No guaranteed-return or promissory language, nor the organisation's "
    "extra banned phrases, unless negated or framed as a caution.",
    rules.ADVICE: "No buy/sell calls or price targets unless the organisation is a registered "
    "adviser; a target attributed to a third party is a warning.",
    rules.URGENCY: "No fake scarcity or urgency ('act now', 'last chance', 'limited slots').",
    rules.PLACEHOLDERS: "No leftover placeholders ([Image], Visual:, {{...}}, TODO, lorem ipsum).",
    rules.EMPTY_OR_TRUNCATED: "The text is not empty, cut off mid-sentence or unbalanced.",
    rules.LENGTH: "Each post fits its channel (X 280 weighted, LinkedIn 3,000, Telegram 4,096).",
    rules.SIMULATED_MARK: "Text written from simulated data carries a visible mark.",
    factcheck.RULE: "Every figure matches a verified, fresh field of the draft's snapshot "
    "within rounding tolerance.",
    freshness.RULE: "The snapshot is recent enough for the content type and every date named "
    "is the market's trading date.",
    similarity.NEAR_DUPLICATE: "Not a near duplicate of a text approved, scheduled or published "
    "for the same channel type in the last near_duplicate_days days.",
}
_SEVERITIES: dict[str, Severity] = {
    **rules.DEFAULT_SEVERITY,
    factcheck.RULE: Severity.block,
    freshness.RULE: Severity.block,
    similarity.NEAR_DUPLICATE: similarity.SEVERITY,
}
_WORD = re.compile(r"\w")
BodyPath = tuple[object, ...]  # where in the request body a problem is
_SPACES = re.compile(r"\s+")


def rule_catalog() -> list[tuple[str, Severity, str]]:
    """(rule id, default severity, one-line description) of every rule the checker runs."""
    return [(rule, severity, RULE_DESCRIPTIONS[rule]) for rule, severity in _SEVERITIES.items()]


def profiles() -> list[Profile]:
    return [get_profile(name) for name in PROFILE_NAMES]


# ---------------------------------------------------------------- reading


def policy_from(row: ComplianceSettingsVersion | None, settings: Settings) -> Policy:
    if row is None:
        return Policy(default_profile=settings.compliance_profile)
    return Policy(
        default_profile=row.default_profile,
        profile_by_channel=dict(row.profile_by_channel),
        disclaimers=dict(row.disclaimers),
        extra_banned_phrases=tuple(row.extra_banned_phrases),
        registered_adviser=row.registered_adviser,
        auto_approve_types=tuple(row.auto_approve_types),
        near_duplicate_days=row.near_duplicate_days,
        version=row.id,
    )


def _newest() -> Select[ComplianceSettingsVersion]:
    return select(ComplianceSettingsVersion).order_by(ComplianceSettingsVersion.id.desc()).limit(1)


async def newest(session: AsyncSession) -> ComplianceSettingsVersion | None:
    return await session.scalar(_newest())


async def current(session: AsyncSession, settings: Settings) -> Policy:
    return policy_from(await newest(session), settings)


def current_sync(session: Session, settings: Settings) -> Policy:
    """The policy in force, for workers (they use sync sessions)."""
    return policy_from(session.scalar(_newest()), settings)


async def history(
    session: AsyncSession, limit: int, before_version: int | None = None
) -> list[ComplianceSettingsVersion]:
    """Stored versions, newest first; the next page starts before the last version seen."""
    query = select(ComplianceSettingsVersion)
    if before_version is not None:
        query = query.where(ComplianceSettingsVersion.id < before_version)
    result = await session.scalars(query.order_by(ComplianceSettingsVersion.id.desc()).limit(limit))
    return list(result)


async def emails(session: AsyncSession, user_ids: Sequence[int | None]) -> dict[int, str]:
    """The e-mail of each user who changed settings and still exists (ids stay in the rows)."""
    found = {}
    for user_id in {user_id for user_id in user_ids if user_id is not None}:
        try:
            found[user_id] = (await users.get(session, user_id)).email
        except NotFound:
            continue
    return found


# ---------------------------------------------------------------- changing


def values_of(policy: Policy) -> dict[str, Any]:
    """The stored form of a policy's settings: plain dicts and lists, in FIELDS order."""
    return {
        "default_profile": policy.default_profile,
        "profile_by_channel": dict(policy.profile_by_channel),
        "disclaimers": dict(policy.disclaimers),
        "extra_banned_phrases": list(policy.extra_banned_phrases),
        "registered_adviser": policy.registered_adviser,
        "auto_approve_types": list(policy.auto_approve_types),
        "near_duplicate_days": policy.near_duplicate_days,
    }


async def update(
    session: AsyncSession,
    settings: Settings,
    actor: Actor,
    changes: Mapping[str, Any],
    reason: str | None,
) -> ComplianceSettingsVersion:
    """Store the next version: the current values with `changes` applied. Bad input is a 422
    naming every problem; a change that leaves everything as it is, a 409."""
    problems = Problems()
    unknown = sorted(set(changes) - set(FIELDS))
    for name in unknown:
        problems.add((name,), f"unknown setting; known: {', '.join(FIELDS)}")
    if not changes:
        problems.add((), f"name at least one setting to change: {', '.join(FIELDS)}")
    why = _reason(reason, problems)
    in_force = await newest(session)
    old = values_of(policy_from(in_force, settings))
    new = dict(old)
    for name, value in changes.items():
        if name in FIELDS:
            new[name] = _CLEANERS[name](value, old[name], problems.under(name))
    problems.raise_any()
    version = in_force.id + 1 if in_force else 1
    if new == old:
        raise Conflict(
            f"Nothing to change: these settings are already in force (version {version - 1}).",
            type="no-change",
        )
    row = ComplianceSettingsVersion(id=version, reason=why, changed_by=actor.user_id, **new)
    try:
        async with session.begin_nested():
            session.add(row)
    except IntegrityError as error:
        # Versions are numbered current + 1, so two admins changing at once cannot both win.
        raise Conflict(
            f"The settings changed while this change was made (version {version} exists); "
            "reload them and try again.",
            type="concurrent-change",
        ) from error
    changed = differences(old, new)
    audit.record(
        session,
        AUDIT_ACTION,
        actor,
        "compliance_settings",
        version,
        version=version,
        changed=list(changed),
        changes=changed,
        reason=why,
    )
    await session.flush()
    return row


def differences(old: Mapping[str, Any], new: Mapping[str, Any]) -> dict[str, Any]:
    """What changed, per field: old → new for scalars, what was set and removed for the rest."""
    found: dict[str, Any] = {}
    for name in FIELDS:
        before, after = old[name], new[name]
        if before == after:
            continue
        if isinstance(before, dict):
            found[name] = {
                "set": {key: value for key, value in after.items() if before.get(key) != value},
                "removed": [key for key in before if key not in after],
            }
        elif isinstance(before, list):
            found[name] = {
                "added": [entry for entry in after if entry not in before],
                "removed": [entry for entry in before if entry not in after],
            }
        else:
            found[name] = {"old": before, "new": after}
    return found


# ---------------------------------------------------------------- validation


class Problems:
    """Every problem of one change, rendered like a request validation error (loc, msg)."""

    def __init__(self, errors: list[dict[str, Any]] | None = None, prefix: BodyPath = ()) -> None:
        self.errors = [] if errors is None else errors
        self.prefix = prefix

    def under(self, *path: object) -> Problems:
        return Problems(self.errors, (*self.prefix, *path))

    def add(self, path: BodyPath, message: str) -> None:
        self.errors.append({"loc": ["body", *map(str, (*self.prefix, *path))], "msg": message})

    def raise_any(self) -> None:
        if not self.errors:
            return
        first = self.errors[0]
        detail = f"{'.'.join(first['loc'])}: {first['msg']}"
        if len(self.errors) > 1:
            detail += f" (and {len(self.errors) - 1} more)"
        raise FinagencyError(detail, 422, "validation-error", errors=self.errors)


def _reason(reason: str | None, problems: Problems) -> str:
    text = (reason or "").strip()
    low, high = REASON_LENGTH
    if not low <= len(text) <= high:
        problems.add(("reason",), f"say why in {low} to {high} characters ({len(text)} given)")
    return text


def _one_of(value: Any, known: Sequence[str], problems: Problems, path: BodyPath = ()) -> bool:
    if isinstance(value, str) and value in known:
        return True
    problems.add(path, f"{_shown(value)} is not one of {', '.join(known)}")
    return False


def _shown(value: Any) -> str:
    """A value as the caller wrote it in JSON."""
    return json.dumps(value, default=str, ensure_ascii=False)


def _profile(value: Any, old: str, problems: Problems) -> str:
    return value if _one_of(value, PROFILE_NAMES, problems) else old


def _merged(
    value: Any,
    old: dict[str, str],
    keys: Sequence[str],
    problems: Problems,
    clean: Callable[[Any, Problems], str | None],
) -> dict[str, str]:
    """`old` with `value` merged in: a null or blank value removes that key."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        problems.add((), "expected an object")
        return old
    merged = dict(old)
    for key, entry in value.items():
        if not _one_of(key, keys, problems, (key,)):
            continue
        if entry is None or (isinstance(entry, str) and not entry.strip()):
            merged.pop(key, None)
        elif (cleaned := clean(entry, problems.under(key))) is not None:
            merged[key] = cleaned
    return merged


def _profile_by_channel(value: Any, old: dict[str, str], problems: Problems) -> dict[str, str]:
    def clean(profile: Any, at: Problems) -> str | None:
        return profile if _one_of(profile, PROFILE_NAMES, at) else None

    return _merged(value, old, CHANNEL_TYPES, problems, clean)


def _disclaimers(value: Any, old: dict[str, str], problems: Problems) -> dict[str, str]:
    def clean(text: Any, at: Problems) -> str | None:
        low, high = DISCLAIMER_LENGTH
        if not isinstance(text, str):
            at.add((), "expected a text")
        elif not low <= len(text.strip()) <= high:
            at.add((), f"a disclaimer has {low} to {high} characters ({len(text.strip())} given)")
        else:
            return text.strip()
        return None

    return _merged(value, old, PROFILE_NAMES, problems, clean)


def _phrases(value: Any, old: list[str], problems: Problems) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list):
        problems.add((), "expected a list of phrases")
        return old
    kept: dict[str, str] = {}  # case-folded phrase -> the first spelling given
    low, high = PHRASE_LENGTH
    for index, phrase in enumerate(value):
        if not isinstance(phrase, str):
            problems.add((index,), "expected a text")
            continue
        phrase = _SPACES.sub(" ", phrase.strip())
        if not low <= len(phrase) <= high:
            problems.add((index,), f"a phrase has {low} to {high} characters ({len(phrase)} given)")
        elif not _WORD.search(phrase):
            problems.add((index,), f"{_shown(phrase)} has no letter or digit: it would never match")
        else:
            kept.setdefault(phrase.casefold(), phrase)
    if len(kept) > MAX_PHRASES:
        problems.add((), f"at most {MAX_PHRASES} phrases ({len(kept)} given)")
    return list(kept.values())


def _adviser(value: Any, old: bool, problems: Problems) -> bool:
    if isinstance(value, bool):
        return value
    problems.add((), "expected true or false")
    return old


def _content_types(value: Any, old: list[str], problems: Problems) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list):
        problems.add((), "expected a list of content types")
        return old
    valid = [kind for i, kind in enumerate(value) if _one_of(kind, CONTENT_TYPES, problems, (i,))]
    return list(dict.fromkeys(valid))


def _days(value: Any, old: int, problems: Problems) -> int:
    low, high = NEAR_DUPLICATE_DAYS
    if isinstance(value, int) and not isinstance(value, bool) and low <= value <= high:
        return value
    problems.add((), f"a whole number of days from {low} to {high} ({_shown(value)} given)")
    return old


_CLEANERS: dict[str, Callable[[Any, Any, Problems], Any]] = {
    "default_profile": _profile,
    "profile_by_channel": _profile_by_channel,
    "disclaimers": _disclaimers,
    "extra_banned_phrases": _phrases,
    "registered_adviser": _adviser,
    "auto_approve_types": _content_types,
    "near_duplicate_days": _days,
}
