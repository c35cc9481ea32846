"""The Audit log page (admins): who did what, when and from where.

The same filters as `GET /api/v1/audit` (actor, action, target, time range) read from a plain
GET form, newest first with keyset pagination (before_id), and links to the API's CSV and
JSONL export of the same filters (which the browser session may call: it is a GET).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from pydantic import TypeAdapter, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from finagency.accounts import audit, users
from finagency.accounts.audit import AuditFilter
from finagency.accounts.dependencies import SettingsDep
from finagency.accounts.models import AuditEvent
from finagency.accounts.permissions import Permission
from finagency.accounts.schemas import Email
from finagency.db import SessionDep, utcnow
from finagency.web import formatting
from finagency.web.guard import Visitor, admit
from finagency.web.rendering import page

router = APIRouter(include_in_schema=False)

PAGE_SIZE = 50
# Details up to this long are shown inline; longer ones fold into a <details>.
INLINE_DETAIL = 80
# The export links' default range when the filters name none.
EXPORT_DAYS = 30
# The API's limits for each filter (accounts/router.py).
LIMITS = {"action": 64, "target_type": 32, "target_id": 64}
# The largest id either database stores (a larger one would be an overflow, not a miss).
LARGEST_ID = 2**63 - 1


def whole_number(text: str, least: int = 1, most: int = LARGEST_ID) -> int | None:
    """ASCII digits within [least, most], else None (so "²" or "1e3" are refused, not a 500)."""
    text = text.strip()
    if not (text.isascii() and text.isdigit()):
        return None
    number = int(text)
    return number if least <= number <= most else None


@dataclass
class AuditQuery:
    """The page's filters as typed (to fill the form again) and as the service takes them."""

    typed: dict[str, str]
    criteria: AuditFilter = field(default_factory=AuditFilter)
    limit: int = PAGE_SIZE
    before_id: int | None = None
    problems: list[str] = field(default_factory=list)
    # Said when a filter is fine but cannot match anything (an unknown e-mail).
    note: str | None = None


def parse_moment(value: str, name: str) -> datetime:
    """An ISO 8601 time; without a zone (a datetime-local field) it is read as UTC."""
    try:
        moment = datetime.fromisoformat(value.strip())
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    except (ValueError, OverflowError):
        raise ValueError(f"{name} {value!r} is not a date and time (2026-01-31T09:30).") from None


async def read_query(session: AsyncSession, typed: dict[str, str]) -> AuditQuery:
    query = AuditQuery(typed)
    problems = query.problems
    for name, most in LIMITS.items():
        if len(typed[name]) > most:
            problems.append(f"The {name.replace('_', ' ')} has at most {most} characters.")
    actor_id: int | None = None
    actor = typed["actor"].strip()
    if actor.isascii() and actor.isdigit():
        actor_id = whole_number(actor, 0)
        if actor_id is None:
            problems.append(f"No user id is as large as {actor}.")
    elif actor:
        try:
            email = TypeAdapter(Email).validate_python(actor)
        except ValidationError:
            problems.append(f"Name the actor by e-mail address or user id, not {actor!r}.")
        else:
            user = await users.by_email(session, email)
            if user is None:
                # Events are filtered by user id: an address nobody has now matches nothing.
                query.note = f"No user has the address {email} now, so no event matches it."
            else:
                actor_id = user.id
    moments: dict[str, datetime | None] = {"since": None, "until": None}
    for name in moments:
        if typed[name].strip():
            try:
                moments[name] = parse_moment(typed[name], name)
            except ValueError as error:
                problems.append(str(error))
    since, until = moments["since"], moments["until"]
    if since and until and until <= since:
        problems.append("until must be after since.")
    if typed["limit"].strip():
        limit = whole_number(typed["limit"], 1, 500)
        if limit is None:
            problems.append(f"Show 1 to 500 events, not {typed['limit']!r}.")
        else:
            query.limit = limit
    if typed["before_id"].strip():
        query.before_id = whole_number(typed["before_id"])
        if query.before_id is None:
            problems.append(f"before_id must be an event id, not {typed['before_id']!r}.")
    query.criteria = AuditFilter(
        action=typed["action"].strip() or None,
        actor_id=actor_id,
        target_type=typed["target_type"].strip() or None,
        target_id=typed["target_id"].strip() or None,
        since=since,
        until=until,
    )
    return query


def filter_params(query: AuditQuery) -> dict[str, str]:
    """The filters as this page's query string (what was typed, empty ones left out)."""
    names = ("actor", "action", "target_type", "target_id", "since", "until")
    params = {name: query.typed[name].strip() for name in names if query.typed[name].strip()}
    if query.limit != PAGE_SIZE:
        params["limit"] = str(query.limit)
    return params


def export_links(query: AuditQuery, now: datetime) -> tuple[datetime, datetime, dict[str, str]]:
    """The range and URLs of the API's export for these filters (default: the last 30 days)."""
    criteria = query.criteria
    until = criteria.until or (now + timedelta(minutes=1)).replace(second=0, microsecond=0)
    since = criteria.since or (until - timedelta(days=EXPORT_DAYS)).replace(hour=0, minute=0)
    params: dict[str, str] = {
        "since": since.isoformat().replace("+00:00", "Z"),
        "until": until.isoformat().replace("+00:00", "Z"),
    }
    if criteria.action:
        params["action"] = criteria.action
    if criteria.actor_id is not None:
        params["actor_id"] = str(criteria.actor_id)
    if criteria.target_type:
        params["target_type"] = criteria.target_type
    if criteria.target_id:
        params["target_id"] = criteria.target_id
    urls = {
        kind: "/api/v1/audit/export?" + urlencode({**params, "format": kind})
        for kind in ("csv", "jsonl")
    }
    return since, until, urls


def ago(moment: datetime, now: datetime) -> str:
    """How long ago, to the minute once past a minute: "45 s ago", "5 min ago", "3 d 4 h ago"."""
    seconds = (now - moment).total_seconds()
    if abs(seconds) >= 60:
        seconds = round(seconds / 60) * 60
    return f"{formatting.duration(seconds)} ago"


@dataclass(frozen=True)
class Detail:
    """An event's detail as the page shows it: inline when short, folded when long."""

    compact: str
    full: str | None  # pretty JSON when it does not fit inline

    @property
    def empty(self) -> bool:
        return self.compact == ""


def detail_of(detail: dict[str, Any] | None) -> Detail:
    if not detail:
        return Detail("", None)
    compact = json.dumps(detail, separators=(", ", ": "), default=str, ensure_ascii=False)
    if len(compact) <= INLINE_DETAIL:
        return Detail(compact, None)
    pretty = json.dumps(detail, indent=2, default=str, ensure_ascii=False, sort_keys=True)
    return Detail(compact[: INLINE_DETAIL - 1] + "…", pretty)


def who(event: AuditEvent) -> str:
    """The actor as recorded: e-mail, else user id, else the platform itself."""
    if event.actor_email:
        return event.actor_email
    if event.actor_id is not None:
        return f"user #{event.actor_id}"
    return "system"


def local_values(query: AuditQuery) -> dict[str, str]:
    """since and until as a datetime-local field shows them (UTC), else as typed."""
    values = {}
    for name, moment in (("since", query.criteria.since), ("until", query.criteria.until)):
        if moment is None:
            values[name] = query.typed[name]
        else:
            shape = "%Y-%m-%dT%H:%M:%S" if moment.second else "%Y-%m-%dT%H:%M"
            values[name] = moment.strftime(shape)
    return values


@router.get("/audit")
async def audit_page(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    actor: Annotated[str, Query(max_length=300)] = "",
    action: Annotated[str, Query(max_length=300)] = "",
    target_type: Annotated[str, Query(max_length=300)] = "",
    target_id: Annotated[str, Query(max_length=300)] = "",
    since: Annotated[str, Query(max_length=100)] = "",
    until: Annotated[str, Query(max_length=100)] = "",
    before_id: Annotated[str, Query(max_length=30)] = "",
    limit: Annotated[str, Query(max_length=30)] = "",
) -> Response:
    visitor = await admit(request, session, settings, Permission.read_audit, "/audit")
    if not isinstance(visitor, Visitor):
        return visitor
    typed = {
        "actor": actor,
        "action": action,
        "target_type": target_type,
        "target_id": target_id,
        "since": since,
        "until": until,
        "before_id": before_id,
        "limit": limit,
    }
    query = await read_query(session, typed)
    events: list[AuditEvent] = []
    if not query.problems and query.note is None:
        events = await audit.page(session, query.criteria, query.limit, query.before_id)
    params = filter_params(query)
    older = None
    if len(events) == query.limit:
        older = "/audit?" + urlencode({**params, "before_id": events[-1].id})
    now = utcnow()
    export_since, export_until, exports = export_links(query, now)
    return page(
        request,
        "audit.html",
        422 if query.problems else 200,
        visitor=visitor,
        events=events,
        details={event.id: detail_of(event.detail) for event in events},
        who=who,
        ago=ago,
        query=query,
        typed=typed,
        newest="/audit" + (f"?{urlencode(params)}" if params else ""),
        older=older,
        paged=query.before_id is not None,
        filtered=bool(params.keys() - {"limit"}),
        exports=exports,
        export_since=export_since,
        export_until=export_until,
        local=local_values(query),
        now=now,
    )
