"""Who is calling and what they may do: one dependency per route, declared in one place.

A route is protected by `Depends(require(Permission.x))` (or `authenticated()`), which checks a
bearer token, an API key or a browser session (with its CSRF token on every unsafe method), and the
caller's permission. The route × role test reads the declared permission back from each route.
"""

from __future__ import annotations

import ipaddress
from typing import Annotated, Any

from fastapi import Depends, Request

from finagency.accounts import sessions
from finagency.accounts.audit import Actor
from finagency.accounts.metrics import AUTH_FAILURES
from finagency.accounts.permissions import Permission, Role, key_allows, role_allows
from finagency.accounts.protection import LoginGuard
from finagency.accounts.sessions import Principal
from finagency.accounts.tokens import same
from finagency.cache import Store
from finagency.db import SessionDep
from finagency.errors import FinagencyError, Forbidden
from finagency.settings import Settings

SESSION_COOKIE = "finagency_session"
CSRF_HEADER = "X-CSRF-Token"
API_KEY_HEADER = "X-API-Key"
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
# Enrolling a second factor stays possible for an admin who must have one and has none yet.
TOTP_EXEMPT = "totp_exempt"


# Dependencies are coroutines even when they do not await: FastAPI runs a plain function in
# its thread pool, and two hops a request were a fifth of a cached read's CPU time.
async def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def get_store(request: Request) -> Store:
    store: Store = request.app.state.store
    return store


SettingsDep = Annotated[Settings, Depends(get_settings)]
StoreDep = Annotated[Store, Depends(get_store)]


def client_ip(request: Request) -> str:
    """The caller's address (X-Forwarded-For is used only from trusted proxies, upstream).

    Anything that is not an IP address becomes "invalid"; IPv6 callers are counted by /64,
    since anyone holding one address usually holds its whole /64.
    """
    host = request.client.host if request.client else ""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return "invalid"
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)


def actor_of(request: Request, principal: Principal | None = None) -> Actor:
    """Who did it, for the audit log: the caller (if signed in), their address, the request id."""
    return Actor(
        user_id=principal.user.id if principal else None,
        email=principal.user.email if principal else None,
        ip=client_ip(request),
        request_id=getattr(request.state, "request_id", None),
    )


async def get_guard(settings: SettingsDep, store: StoreDep) -> LoginGuard:
    return LoginGuard(store, settings)


async def auth_rate_limit(
    request: Request, guard: Annotated[LoginGuard, Depends(get_guard)]
) -> None:
    await guard.check_rate(client_ip(request))


async def _principal(
    request: Request, session: SessionDep, settings: SettingsDep, store: StoreDep
) -> Principal:
    authorization = request.headers.get("Authorization", "")
    scheme, _, credentials = authorization.partition(" ")
    if authorization:
        if scheme.lower() != "bearer" or not credentials.strip():
            raise sessions._unauthorized("bad_token", "Use 'Authorization: Bearer <token>'.")
        principal = await sessions.from_access_token(session, settings, store, credentials.strip())
    elif key := request.headers.get(API_KEY_HEADER):
        principal = await sessions.from_api_key(session, key.strip())
    elif cookie := request.cookies.get(SESSION_COOKIE):
        principal = await sessions.from_session_cookie(session, cookie)
        _check_csrf(request, principal)
    else:
        raise sessions._unauthorized("missing")
    request.state.principal = principal
    return principal


def _check_csrf(request: Request, principal: Principal) -> None:
    """A cookie is sent by the browser on its own; the CSRF token proves the page sent it."""
    if request.method in SAFE_METHODS or principal.web_session is None:
        return
    sent = request.headers.get(CSRF_HEADER, "")
    if not sent or not same(sent, principal.web_session.csrf_token):
        AUTH_FAILURES.labels("csrf").inc()
        raise FinagencyError("Missing or wrong CSRF token.", 403, "csrf")


def require(
    permission: Permission | None, *, totp_exempt: bool = False, allow_api_key: bool = False
) -> Any:
    """A dependency that admits callers allowed `permission` (None: any signed-in caller)."""

    async def dependency(
        request: Request,
        principal: Annotated[Principal, Depends(_principal)],
        settings: SettingsDep,
    ) -> Principal:
        if (
            settings.require_admin_totp
            and principal.role is Role.admin
            and not principal.user.totp_enabled
            and not totp_exempt
        ):
            AUTH_FAILURES.labels("forbidden").inc()
            raise FinagencyError(
                "Administrators must enrol a second factor first (POST /api/v1/auth/totp).",
                403,
                "second-factor-enrolment-required",
            )
        if permission is None:
            if principal.via == "api_key" and not allow_api_key:
                # A key is for automations: it never changes its owner's password, second
                # factor or sessions.
                AUTH_FAILURES.labels("forbidden").inc()
                raise Forbidden("API keys cannot be used for your own account's settings.")
            return principal
        allowed = (
            key_allows(principal.role, principal.scopes or [], permission)
            if principal.via == "api_key"
            else role_allows(principal.role, permission)
        )
        if not allowed:
            AUTH_FAILURES.labels("forbidden").inc()
            raise Forbidden(f"Your role or key does not allow this ({permission.value}).")
        return principal

    dependency.permission = permission  # type: ignore[attr-defined]
    dependency.signed_in = True  # type: ignore[attr-defined]
    dependency.allow_api_key = allow_api_key or permission is not None  # type: ignore[attr-defined]
    return Depends(dependency)


def authenticated(*, totp_exempt: bool = False, allow_api_key: bool = False) -> Any:
    return require(None, totp_exempt=totp_exempt, allow_api_key=allow_api_key)
