"""The dashboard's Overview (with its self-refreshing figures) and the Content pages.

Each other page of the navigation has a module of its own (markets, ideas, schedule, channels,
audit, users), included by web/router.py.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from finagency.accounts.dependencies import SettingsDep
from finagency.accounts.permissions import Permission
from finagency.analytics import service as analytics_service
from finagency.content import service as content_service
from finagency.db import SessionDep
from finagency.web import actions, drafts
from finagency.web.guard import Visitor, admit
from finagency.web.rendering import page

router = APIRouter(include_in_schema=False)
PAGE_SIZE = 50
CONTENT_STATUSES = ("draft", "in_review", "approved", "rejected", "scheduled", "published")


@router.get("/")
async def overview(request: Request, session: SessionDep, settings: SettingsDep) -> Response:
    visitor = await admit(request, session, settings, Permission.read, "/")
    if not isinstance(visitor, Visitor):
        return visitor
    summary = await analytics_service.summary(session, store=request.app.state.store)
    ideas = await analytics_service.latest_ideas(session, 5)
    return page(request, "overview.html", visitor=visitor, summary=summary, ideas=ideas)


@router.get("/fragments/overview")
async def overview_figures(
    request: Request, session: SessionDep, settings: SettingsDep
) -> Response:
    """The figures area alone, which the overview polls for every 15 seconds."""
    visitor = await admit(request, session, settings, Permission.read, "/")
    if not isinstance(visitor, Visitor):
        return visitor
    summary = await analytics_service.summary(session, series=False)
    return page(request, "_overview_figures.html", visitor=visitor, summary=summary)


@router.get("/content")
async def content_list(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    content_status: Annotated[str, Query(alias="status", max_length=16)] = "",
    content_type: Annotated[str, Query(alias="type", max_length=32)] = "",
    before_id: Annotated[int | None, Query(ge=1)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = PAGE_SIZE,
) -> Response:
    visitor = await admit(request, session, settings, Permission.read, "/content")
    if not isinstance(visitor, Visitor):
        return visitor
    problems = []
    if content_status and content_status not in CONTENT_STATUSES:
        problems.append(f"Unknown status {content_status!r}.")
    if content_type and content_type not in content_service.CONTENT_TYPES:
        problems.append(f"Unknown content type {content_type!r}.")
    rows = []
    if not problems:
        rows = await content_service.list_content(
            session, content_status or None, content_type or None, limit, before_id
        )
    titles = await drafts.titles(session, rows)
    filters = {k: v for k, v in (("status", content_status), ("type", content_type)) if v}
    if limit != PAGE_SIZE:
        filters["limit"] = str(limit)
    newest = "/content" + (f"?{urlencode(filters)}" if filters else "")
    older = None
    if len(rows) == limit:
        # Keyset pagination: the next page starts below the last id shown, filters kept.
        older = "/content?" + urlencode({**filters, "before_id": rows[-1].id})
    return page(
        request,
        "content_list.html",
        status_code=422 if problems else 200,
        visitor=visitor,
        rows=rows,
        titles=titles,
        problems=problems,
        statuses=CONTENT_STATUSES,
        types=content_service.CONTENT_TYPES,
        selected_status=content_status,
        selected_type=content_type,
        older=older,
        newest=newest,
        paged=before_id is not None,
    )


@router.get("/content/{content_id}")
async def draft_view(
    content_id: int,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    done: Annotated[str, Query(max_length=16)] = "",
    compare: Annotated[int | None, Query(ge=1)] = None,
) -> Response:
    visitor = await admit(request, session, settings, Permission.read, "/content")
    if not isinstance(visitor, Visitor):
        return visitor
    notice = actions.NOTICES.get(done)
    return await actions.render_draft(
        request, session, visitor, content_id, notice=notice, compare=compare
    )
