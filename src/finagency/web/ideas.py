# HELPER: before writing anything, read /tmp/helper_common.md (the rules for this work: which
# files you may touch, shared patterns, tests, no git state changes) and follow it.
"""The Research page: ideas by score and urgency, trending keywords, drafting from an idea."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from finagency.accounts.dependencies import SettingsDep
from finagency.accounts.permissions import Permission
from finagency.db import SessionDep
from finagency.web.guard import Visitor, admit
from finagency.web.rendering import page

router = APIRouter(include_in_schema=False)


@router.get("/research")
async def research_page(request: Request, session: SessionDep, settings: SettingsDep) -> Response:
    visitor = await admit(request, session, settings, Permission.read, "/research")
    if not isinstance(visitor, Visitor):
        return visitor
    return page(request, "planned.html", visitor=visitor, title="Research", purpose="The Research page: ideas by score and urgency, trending keywords, drafting from an idea.", api="")
