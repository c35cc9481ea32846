# HELPER: before writing anything, read /tmp/helper_common.md (the rules for this work: which
# files you may touch, shared patterns, tests, no git state changes) and follow it.
"""The Channels page (admins): add, verify, disable, rate-budget use, credential expiry."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from finagency.accounts.dependencies import SettingsDep
from finagency.accounts.permissions import Permission
from finagency.db import SessionDep
from finagency.web.guard import Visitor, admit
from finagency.web.rendering import page

router = APIRouter(include_in_schema=False)


@router.get("/channels")
async def channels_page(request: Request, session: SessionDep, settings: SettingsDep) -> Response:
    visitor = await admit(request, session, settings, Permission.manage_channels, "/channels")
    if not isinstance(visitor, Visitor):
        return visitor
    return page(request, "planned.html", visitor=visitor, title="Channels", purpose="The Channels page (admins): add, verify, disable, rate-budget use, credential expiry.", api="")
