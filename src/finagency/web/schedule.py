"""The Schedule page: a timeline per channel of publications, the same publications as a table,
what needs a person, the pause switch; and one publication's page with its attempts.

The timeline and the table refresh themselves: htmx polls /fragments/schedule every 10 s. The
forms a person types into (reschedule, resolve, the pause reason) are never inside the polled
region, so a refresh cannot wipe them: reschedule and resolve live on the publication's own page,
/schedule/{id}. Only one-click forms (cancel, retry) sit in the table; their buttons carry ids,
which htmx uses to keep keyboard focus across a swap, and an unchanged region is not swapped at
all (the fragment answers 204).
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from finagency.accounts.dependencies import SettingsDep
from finagency.accounts.permissions import Permission
from finagency.db import SessionDep
from finagency.web import schedule_actions
from finagency.web.guard import Visitor, admit
from finagency.web.schedule_view import (
    NOTICES,
    Asked,
    render_fragment,
    render_publication,
    render_schedule,
)

router = APIRouter(include_in_schema=False)


@router.get("/schedule")
async def schedule_page(request: Request, session: SessionDep, settings: SettingsDep) -> Response:
    visitor = await admit(request, session, settings, Permission.read, "/schedule")
    if not isinstance(visitor, Visitor):
        return visitor
    notice = NOTICES.get(request.query_params.get("done", ""))
    asked = Asked.from_query(request.url.query)
    return await render_schedule(request, session, visitor, asked, notice=notice)


@router.get("/fragments/schedule")
async def schedule_fragment(
    request: Request, session: SessionDep, settings: SettingsDep
) -> Response:
    """The timeline and table alone (and the status above them), which the page polls for."""
    visitor = await admit(request, session, settings, Permission.read, "/schedule")
    if not isinstance(visitor, Visitor):
        return visitor
    seen = request.query_params.get("seen", "")[:32]
    return await render_fragment(
        request, session, visitor, Asked.from_query(request.url.query), seen
    )


@router.get("/schedule/{publication_id}")
async def publication_page(
    publication_id: str, request: Request, session: SessionDep, settings: SettingsDep
) -> Response:
    visitor = await admit(request, session, settings, Permission.read, "/schedule")
    if not isinstance(visitor, Visitor):
        return visitor
    notice = NOTICES.get(request.query_params.get("done", ""))
    asked = Asked.from_query(request.url.query)
    return await render_publication(request, session, visitor, publication_id, asked, notice=notice)


# The forms post to /schedule/...; web/router.py includes this module's router only.
router.include_router(schedule_actions.router)
