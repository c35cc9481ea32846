"""Asking for content from the browser, and watching the draft being written.

`/content/new` is the request form (prefilled from the query string, so the Markets and
Research pages can link to it with a symbol or an idea). The request is stored first, then
queued for a worker, exactly as `POST /api/v1/content/requests` does; the browser is sent to
the request's page, which polls until the draft exists and then moves to it.
"""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import APIRouter, Form, Query, Request, status
from fastapi.responses import RedirectResponse, Response

from finagency import tasks
from finagency.accounts.dependencies import SettingsDep
from finagency.accounts.permissions import Permission
from finagency.content import service as content_service
from finagency.content.models import ContentRequest
from finagency.content.renderings import CHANNEL_TYPES
from finagency.content.writers import AUDIENCES, TONES
from finagency.db import SessionDep
from finagency.errors import FinagencyError, NotFound
from finagency.web.guard import Visitor, admit, admit_form
from finagency.web.rendering import page

router = APIRouter(include_in_schema=False)

# Symbols as the API accepts them (^GSPC, BRK-B, EURUSD=X, BTC-USD, RELIANCE.NS).
SYMBOL = re.compile(r"^[A-Za-z0-9^.=\-]{1,20}$")
MAX_SYMBOLS = 50
# How often the request page asks whether the draft is written yet.
POLL_SECONDS = 2


class BadRequestForm(FinagencyError):
    status_code = 422
    type = "unprocessable"


def symbols_of(text: str) -> list[str]:
    """Symbols typed with commas or spaces between them, in order, each once."""
    symbols = list(dict.fromkeys(part for part in re.split(r"[\s,;]+", text.strip()) if part))
    bad = [s for s in symbols if not SYMBOL.match(s)]
    if bad:
        raise BadRequestForm(f"Not a symbol: {', '.join(bad[:5])}.")
    if len(symbols) > MAX_SYMBOLS:
        raise BadRequestForm(f"At most {MAX_SYMBOLS} symbols (there are {len(symbols)}).")
    return symbols


def _form(
    request: Request,
    visitor: Visitor,
    typed: dict[str, object],
    status_code: int = 200,
    error: str | None = None,
) -> Response:
    return page(
        request,
        "content_new.html",
        status_code,
        visitor=visitor,
        typed=typed,
        error=error,
        types=content_service.CONTENT_TYPES,
        from_idea=content_service.FROM_IDEA,
        from_topic=content_service.FROM_TOPIC,
        channel_types=CHANNEL_TYPES,
        audiences=AUDIENCES,
        tones=TONES,
    )


@router.get("/content/new")
async def new_request(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    content_type: Annotated[str, Query(alias="type", max_length=32)] = "market_update",
    symbols: Annotated[str, Query(max_length=1000)] = "",
    idea_id: Annotated[int | None, Query(ge=1)] = None,
    topic: Annotated[str, Query(max_length=500)] = "",
) -> Response:
    visitor = await admit(request, session, settings, Permission.request_content, "/content")
    if not isinstance(visitor, Visitor):
        return visitor
    typed: dict[str, object] = {
        "type": content_type,
        "symbols": symbols,
        "idea_id": idea_id or "",
        "topic": topic,
        "channels": ["x", "linkedin"],
        "audience": "retail",
        "tone": "neutral",
    }
    return _form(request, visitor, typed)


@router.post("/content/new")
async def create_request(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    csrf_token: Annotated[str, Form(max_length=128)] = "",
    content_type: Annotated[str, Form(alias="type", max_length=32)] = "",
    symbols: Annotated[str, Form(max_length=1000)] = "",
    channels: Annotated[list[str] | None, Form()] = None,
    topic: Annotated[str, Form(max_length=500)] = "",
    idea_id: Annotated[str, Form(max_length=20)] = "",
    audience: Annotated[str, Form(max_length=32)] = "retail",
    tone: Annotated[str, Form(max_length=32)] = "neutral",
    chart: Annotated[str, Form(max_length=8)] = "",
) -> Response:
    visitor = await admit_form(
        request, session, settings, Permission.request_content, "/content", csrf_token
    )
    if not isinstance(visitor, Visitor):
        return visitor
    chosen = list(dict.fromkeys(channels or []))
    typed: dict[str, object] = {
        "type": content_type,
        "symbols": symbols,
        "idea_id": idea_id,
        "topic": topic,
        "channels": chosen,
        "audience": audience,
        "tone": tone,
        "chart": bool(chart),
    }
    try:
        if not chosen:
            raise BadRequestForm("Choose at least one channel type.")
        if idea_id.strip() and not idea_id.strip().isdigit():
            raise BadRequestForm(f"{idea_id!r} is not an idea number.")
        spec = content_service.RequestSpec(
            type=content_type,
            symbols=symbols_of(symbols),
            channels=chosen,
            topic=topic.strip() or None,
            idea_id=int(idea_id) if idea_id.strip() else None,
            audience=audience,
            tone=tone,
            chart=bool(chart),
        )
        async with session.begin_nested():
            created, _ = await content_service.create_request(
                session, settings, spec, visitor.user.id, None
            )
    except FinagencyError as error:
        return _form(request, visitor, typed, error.status_code, error.message)
    tasks.enqueue_after_commit(session, content_service.GENERATE_TASK, created.id)
    return RedirectResponse(
        f"/content/requests/{created.id}", status_code=status.HTTP_303_SEE_OTHER
    )


async def _request_or_page(
    request: Request, session: SessionDep, visitor: Visitor, request_id: int
) -> ContentRequest | Response:
    try:
        return await content_service.get_request(session, request_id)
    except NotFound as missing:
        return page(request, "not_found.html", 404, visitor=visitor, message=missing.message)


@router.get("/content/requests/{request_id}")
async def request_page(
    request_id: int, request: Request, session: SessionDep, settings: SettingsDep
) -> Response:
    """The request while it is written; its draft as soon as there is one."""
    visitor = await admit(request, session, settings, Permission.read, "/content")
    if not isinstance(visitor, Visitor):
        return visitor
    found = await _request_or_page(request, session, visitor, request_id)
    if isinstance(found, Response):
        return found
    if found.content_id is not None:
        return RedirectResponse(
            f"/content/{found.content_id}", status_code=status.HTTP_303_SEE_OTHER
        )
    return page(
        request,
        "content_request.html",
        visitor=visitor,
        item=found,
        poll_seconds=POLL_SECONDS,
        may_retry=visitor.may(Permission.request_content),
    )


@router.get("/fragments/content/requests/{request_id}")
async def request_status(
    request_id: int, request: Request, session: SessionDep, settings: SettingsDep
) -> Response:
    """What the request page polls: its status, or HX-Redirect to the draft once written."""
    visitor = await admit(request, session, settings, Permission.read, "/content")
    if not isinstance(visitor, Visitor):
        return visitor
    found = await _request_or_page(request, session, visitor, request_id)
    if isinstance(found, Response):
        return found
    if found.content_id is not None:
        return Response(status_code=200, headers={"HX-Redirect": f"/content/{found.content_id}"})
    return page(
        request,
        "_content_request_status.html",
        visitor=visitor,
        item=found,
        may_retry=visitor.may(Permission.request_content),
    )


@router.post("/content/requests/{request_id}/retry")
async def retry_request(
    request_id: int,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    csrf_token: Annotated[str, Form(max_length=128)] = "",
) -> Response:
    visitor = await admit_form(
        request, session, settings, Permission.request_content, "/content", csrf_token
    )
    if not isinstance(visitor, Visitor):
        return visitor
    found = await _request_or_page(request, session, visitor, request_id)
    if isinstance(found, Response):
        return found
    try:
        async with session.begin_nested():
            await content_service.retry_request(session, settings, request_id)
    except FinagencyError as error:
        return page(
            request,
            "content_request.html",
            error.status_code,
            visitor=visitor,
            item=found,
            poll_seconds=POLL_SECONDS,
            may_retry=True,
            error=error.message,
        )
    tasks.enqueue_after_commit(session, content_service.GENERATE_TASK, request_id)
    return RedirectResponse(
        f"/content/requests/{request_id}", status_code=status.HTTP_303_SEE_OTHER
    )
