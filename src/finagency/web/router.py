"""Browser sign-in for the dashboard: a cookie session, CSRF-protected forms.

The dashboard's pages build on this: every state-changing form carries the session's CSRF token
(hidden field `csrf_token`, or the `X-CSRF-Token` header for htmx), and the sign-in form itself
is protected by a double-submit token (a cookie that must match the hidden field).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request, Response, status
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import TypeAdapter, ValidationError

from finagency.accounts import sessions
from finagency.accounts.dependencies import (
    SESSION_COOKIE,
    SettingsDep,
    StoreDep,
    actor_of,
    client_ip,
)
from finagency.accounts.metrics import AUTH_FAILURES
from finagency.accounts.protection import LoginGuard
from finagency.accounts.schemas import Email
from finagency.accounts.tokens import new_secret, same
from finagency.db import SessionDep
from finagency.errors import FinagencyError, Unauthorized
from finagency.settings import Environment, Settings
from finagency.web import (
    actions,
    audit,
    channels,
    ideas,
    markets,
    pages,
    requests,
    schedule,
    users,
)
from finagency.web.guard import signed_in
from finagency.web.rendering import page

router = APIRouter(include_in_schema=False)
LOGIN_CSRF_COOKIE = "finagency_login_csrf"


def _secure(settings: Settings) -> bool:
    return settings.env is not Environment.development


def _login_form(
    request: Request,
    settings: Settings,
    status_code: int = 200,
    error: str | None = None,
    email: str | None = None,
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    token = new_secret()
    response = page(request, "login.html", status_code, form_token=token, error=error, email=email)
    response.set_cookie(
        LOGIN_CSRF_COOKIE,
        token,
        httponly=True,
        samesite="strict",
        secure=_secure(settings),
        path="/login",
    )
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


@router.get("/login")
async def login_page(request: Request, settings: SettingsDep) -> HTMLResponse:
    return _login_form(request, settings)


@router.post("/login")
async def login(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    store: StoreDep,
    email: Annotated[str, Form(max_length=254)],
    password: Annotated[str, Form(max_length=1024)],
    csrf_token: Annotated[str, Form(max_length=128)] = "",
    totp_code: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    expected = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not expected or not csrf_token or not same(expected, csrf_token):
        AUTH_FAILURES.labels("csrf").inc()
        return _login_form(
            request, settings, 403, "The form expired; please try again.", email=email
        )
    try:
        address = TypeAdapter(Email).validate_python(email)
    except ValidationError:
        # Never recorded: people type their password into the wrong field.
        return _login_form(request, settings, 422, "Enter your e-mail address.")
    guard = LoginGuard(store, settings)
    try:
        await guard.check_rate(client_ip(request))
        user = await sessions.authenticate(
            session,
            settings,
            guard,
            actor_of(request),
            address,
            password,
            totp_code.strip() or None,
        )
    except FinagencyError as error:
        message = error.message
        if isinstance(error, Unauthorized) and error.type == "unauthorized":
            message = sessions.BAD_CREDENTIALS
        return _login_form(
            request, settings, error.status_code, message, email=email, headers=error.headers
        )
    cookie, _ = await sessions.start_web_session(session, settings, user)
    response = RedirectResponse("/", status_code=status.HTTP_303_SEE_OTHER)
    response.set_cookie(
        SESSION_COOKIE,
        cookie,
        max_age=settings.session_hours * 3600,
        httponly=True,
        samesite="lax",
        secure=_secure(settings),
        path="/",
    )
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/login")
    return response


@router.post("/logout")
async def logout(
    request: Request,
    session: SessionDep,
    store: StoreDep,
    csrf_token: Annotated[str, Form(max_length=128)] = "",
) -> Response:
    principal = await signed_in(request, session)
    response = RedirectResponse("/login", status_code=status.HTTP_303_SEE_OTHER)
    if principal is None or principal.web_session is None:
        response.delete_cookie(SESSION_COOKIE, path="/")
        return response
    if not csrf_token or not same(csrf_token, principal.web_session.csrf_token):
        AUTH_FAILURES.labels("csrf").inc()
        raise FinagencyError("Missing or wrong CSRF token.", 403, "csrf")
    await sessions.logout(session, store, actor_of(request, principal), principal, None)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


# The pages after sign-in: overview, content and the rest of the navigation.
# /content/new and the content requests, before /content/{content_id} would claim them.
router.include_router(requests.router)
router.include_router(pages.router)
# The draft page's forms: edit, submit, approve, reject, override, schedule.
router.include_router(actions.router)
# One module per page of the navigation.
for _page in (markets, ideas, schedule, channels, audit, users):
    router.include_router(_page.router)
