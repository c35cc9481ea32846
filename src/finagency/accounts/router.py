"""Accounts over HTTP: authentication, users, API keys, the audit log and run-time settings."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any, Literal

from fastapi import Depends, Form, Query, Request, Response, status
from fastapi.responses import StreamingResponse

from finagency.accounts import audit, sessions, totp, users
from finagency.accounts.audit import AuditFilter
from finagency.accounts.dependencies import (
    SettingsDep,
    StoreDep,
    actor_of,
    auth_rate_limit,
    authenticated,
    get_guard,
    require,
)
from finagency.accounts.permissions import Permission
from finagency.accounts.protection import LoginGuard
from finagency.accounts.schemas import (
    Accepted,
    AdminPasswordReset,
    ApiKeyCreate,
    ApiKeyCreated,
    ApiKeyOut,
    AuditEventOut,
    AuditPage,
    Email,
    LoginRequest,
    LogoutRequest,
    Me,
    PasswordChange,
    PasswordConfirmation,
    PasswordResetConfirm,
    PasswordResetRequest,
    RecoveryCodes,
    RefreshRequest,
    Registration,
    RuntimeSettings,
    RuntimeSettingsUpdate,
    TokenPair,
    TotpCode,
    TotpDisable,
    TotpEnrolment,
    UserCreate,
    UserOut,
    UserUpdate,
)
from finagency.accounts.sessions import IssuedTokens, Principal
from finagency.db import SessionDep, StreamingSessionDep
from finagency.errors import FinagencyError
from finagency.iso_times import IsoDateTime
from finagency.routing import feature_router
from finagency.system import settings_service

router = feature_router()
RateLimited = [Depends(auth_rate_limit)]
GuardDep = Annotated[LoginGuard, Depends(get_guard)]
Reader = Annotated[Principal, require(Permission.read)]
SignedIn = Annotated[Principal, authenticated()]
SignedInEnrolling = Annotated[Principal, authenticated(totp_exempt=True)]
# Who am I: also answers an API key, so that an automation can check its key.
AnyCaller = Annotated[Principal, authenticated(totp_exempt=True, allow_api_key=True)]
UserAdmin = Annotated[Principal, require(Permission.manage_users)]
KeyAdmin = Annotated[Principal, require(Permission.manage_keys)]
AuditReader = Annotated[Principal, require(Permission.read_audit)]
SettingsAdmin = Annotated[Principal, require(Permission.manage_settings)]
UNAUTHORIZED: dict[int | str, dict[str, Any]] = {
    401: {"description": "Missing, invalid or expired credentials"}
}
RESET_ACCEPTED = "If an active account has this address, a reset link is on its way."


def _token_pair(tokens: IssuedTokens) -> TokenPair:
    return TokenPair(
        access_token=tokens.access_token,
        refresh_token=tokens.refresh_token,
        expires_in=tokens.expires_in,
    )


# --- authentication -----------------------------------------------------------------------------


@router.post("/auth/login", tags=["auth"], dependencies=RateLimited, responses=UNAUTHORIZED)
async def login(
    body: LoginRequest,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    guard: GuardDep,
) -> TokenPair:
    user = await sessions.authenticate(
        session, settings, guard, actor_of(request), body.email, body.password, body.totp_code
    )
    return _token_pair(await sessions.issue_tokens(session, settings, user))


@router.post("/auth/token", tags=["auth"], dependencies=RateLimited, responses=UNAUTHORIZED)
async def oauth2_token(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    guard: GuardDep,
    username: Annotated[Email, Form()],
    password: Annotated[str, Form(min_length=1, max_length=1024)],
    totp_code: Annotated[str | None, Form(max_length=20)] = None,
) -> TokenPair:
    """The OAuth2 password flow (a form), for tools that speak OAuth2; same rules as /login."""
    user = await sessions.authenticate(
        session, settings, guard, actor_of(request), username, password, totp_code
    )
    return _token_pair(await sessions.issue_tokens(session, settings, user))


@router.post("/auth/refresh", tags=["auth"], dependencies=RateLimited, responses=UNAUTHORIZED)
async def refresh(
    body: RefreshRequest, request: Request, session: SessionDep, settings: SettingsDep
) -> TokenPair:
    tokens = await sessions.refresh(session, settings, actor_of(request), body.refresh_token)
    return _token_pair(tokens)


@router.post("/auth/logout", tags=["auth"], status_code=status.HTTP_204_NO_CONTENT)
async def logout(
    principal: SignedInEnrolling,
    request: Request,
    session: SessionDep,
    store: StoreDep,
    body: LogoutRequest | None = None,
) -> Response:
    refresh_token = body.refresh_token if body else None
    await sessions.logout(session, store, actor_of(request, principal), principal, refresh_token)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/auth/me", tags=["auth"], responses=UNAUTHORIZED)
async def me(principal: AnyCaller) -> Me:
    return Me.model_validate(principal.user)


@router.post(
    "/auth/register", tags=["auth"], status_code=status.HTTP_202_ACCEPTED, dependencies=RateLimited
)
async def register(
    body: Registration, request: Request, session: SessionDep, settings: SettingsDep
) -> Accepted:
    """Self-registration (a viewer account), when an admin has it open."""
    await users.register(
        session, settings, actor_of(request), body.email, body.display_name, body.password
    )
    return Accepted(detail="Registration received. You can log in if the address was new.")


async def _wrong_secret(
    session: SessionDep, guard: LoginGuard, request: Request, principal: Principal, what: str
) -> FinagencyError:
    """A wrong password or code on a signed-in route counts like a failed login (lockout)."""
    actor = actor_of(request, principal)
    audit.record(session, "login_failed", actor, "user", principal.user.id, via=what)
    await session.commit()
    outcome = await guard.record_failure(principal.user.email, actor.ip or "unknown")
    return outcome or FinagencyError(f"The {what} is wrong.", 400, f"wrong-{what}")


@router.post(
    "/auth/password",
    tags=["auth"],
    status_code=status.HTTP_204_NO_CONTENT,
    dependencies=RateLimited,
)
async def change_password(
    body: PasswordChange,
    principal: SignedIn,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    guard: GuardDep,
) -> Response:
    """Change your password; every token and session of yours, this one included, ends."""
    changed = await users.change_password(
        session,
        settings,
        actor_of(request, principal),
        principal.user,
        body.current_password,
        body.new_password,
    )
    if not changed:
        raise await _wrong_secret(session, guard, request, principal, "password")
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/auth/password-reset",
    tags=["auth"],
    status_code=status.HTTP_202_ACCEPTED,
    dependencies=RateLimited,
)
async def request_password_reset(
    body: PasswordResetRequest,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    guard: GuardDep,
) -> Accepted:
    if await guard.allow_reset_mail(body.email):
        await users.request_reset(session, settings, actor_of(request), body.email)
    return Accepted(detail=RESET_ACCEPTED)


@router.post(
    "/auth/password-reset/confirm",
    tags=["auth"],
    status_code=status.HTTP_204_NO_CONTENT,
    dependencies=RateLimited,
)
async def confirm_password_reset(
    body: PasswordResetConfirm,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    guard: GuardDep,
) -> Response:
    email = await users.confirm_reset(
        session, settings, actor_of(request), body.token, body.new_password
    )
    await guard.unlock(email)  # the owner proved who they are: lift a lockout
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/auth/totp", tags=["auth"], dependencies=RateLimited)
async def enrol_totp(
    body: PasswordConfirmation,
    principal: SignedInEnrolling,
    session: SessionDep,
    settings: SettingsDep,
) -> TotpEnrolment:
    """Start TOTP enrolment (your password again): scan the URI as a QR code, then confirm."""
    secret, uri = await totp.enrol(session, settings, principal.user, body.password)
    return TotpEnrolment(secret=secret, otpauth_uri=uri)


@router.post("/auth/totp/confirm", tags=["auth"])
async def confirm_totp(
    body: TotpCode,
    principal: SignedInEnrolling,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
) -> RecoveryCodes:
    """Turn the second factor on; the recovery codes are shown this once."""
    codes = await totp.confirm(
        session, settings, actor_of(request, principal), principal.user, body.code
    )
    return RecoveryCodes(recovery_codes=codes)


@router.post(
    "/auth/totp/disable",
    tags=["auth"],
    status_code=status.HTTP_204_NO_CONTENT,
    dependencies=RateLimited,
)
async def disable_totp(
    body: TotpDisable,
    principal: SignedIn,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    guard: GuardDep,
) -> Response:
    disabled = await totp.disable(
        session, settings, actor_of(request, principal), principal.user, body.password, body.code
    )
    if not disabled:
        raise await _wrong_secret(session, guard, request, principal, "code")
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# --- users ----------------------------------------------------------------------------------


@router.post("/users", tags=["users"], status_code=status.HTTP_201_CREATED)
async def create_user(
    body: UserCreate,
    principal: UserAdmin,
    request: Request,
    response: Response,
    session: SessionDep,
    settings: SettingsDep,
) -> UserOut:
    """Create a user; without a password they are e-mailed an invitation to choose one."""
    user = await users.create(
        session,
        settings,
        actor_of(request, principal),
        body.email,
        body.display_name,
        body.role,
        body.password,
    )
    response.headers["Location"] = f"/api/v1/users/{user.id}"
    return UserOut.model_validate(user)


@router.get("/users", tags=["users"])
async def list_users(
    principal: UserAdmin,
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    after_id: Annotated[int | None, Query(ge=0)] = None,
) -> list[UserOut]:
    return [UserOut.model_validate(u) for u in await users.list_users(session, limit, after_id)]


@router.get("/users/{user_id}", tags=["users"])
async def get_user(user_id: int, principal: UserAdmin, session: SessionDep) -> UserOut:
    return UserOut.model_validate(await users.get(session, user_id))


@router.patch("/users/{user_id}", tags=["users"])
async def update_user(
    user_id: int, body: UserUpdate, principal: UserAdmin, request: Request, session: SessionDep
) -> UserOut:
    user = await users.get(session, user_id)
    changes = body.model_dump(exclude_unset=True)
    updated = await users.update(session, actor_of(request, principal), user, **changes)
    return UserOut.model_validate(updated)


@router.delete("/users/{user_id}", tags=["users"], status_code=status.HTTP_204_NO_CONTENT)
async def delete_user(
    user_id: int, principal: UserAdmin, request: Request, session: SessionDep
) -> Response:
    user = await users.get(session, user_id)
    await users.delete(session, actor_of(request, principal), user)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/users/{user_id}/reset-password", tags=["users"], status_code=status.HTTP_204_NO_CONTENT
)
async def admin_reset_password(
    user_id: int,
    principal: UserAdmin,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    body: AdminPasswordReset | None = None,
) -> Response:
    """Set a new password, or (without one) end the user's sessions and e-mail a reset link."""
    user = await users.get(session, user_id)
    new_password = body.new_password if body else None
    await users.admin_reset(session, settings, actor_of(request, principal), user, new_password)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/users/{user_id}/unlock", tags=["users"], status_code=status.HTTP_204_NO_CONTENT)
async def unlock_user(
    user_id: int, principal: UserAdmin, request: Request, session: SessionDep, guard: GuardDep
) -> Response:
    """Lift a lockout after failed logins before it runs out."""
    user = await users.get(session, user_id)
    await guard.unlock(user.email)
    audit.record(session, "account_unlocked", actor_of(request, principal), "user", user.id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/users/{user_id}/reset-totp", tags=["users"], status_code=status.HTTP_204_NO_CONTENT)
async def reset_totp(
    user_id: int, principal: UserAdmin, request: Request, session: SessionDep
) -> Response:
    """Remove a user's second factor (a lost device); they may enrol again after signing in."""
    user = await users.get(session, user_id)
    await totp.remove(session, actor_of(request, principal), user, "totp_reset_by_admin")
    await users.revoke_everything(session, user)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# --- API keys -------------------------------------------------------------------------------


@router.post("/api-keys", tags=["api keys"], status_code=status.HTTP_201_CREATED)
async def create_api_key(
    body: ApiKeyCreate, principal: KeyAdmin, request: Request, session: SessionDep
) -> ApiKeyCreated:
    owner = principal.user if body.user_id is None else await users.get(session, body.user_id)
    row, key = await sessions.create_api_key(
        session, actor_of(request, principal), owner, body.name, body.scopes
    )
    return ApiKeyCreated(**ApiKeyOut.model_validate(row).model_dump(), key=key)


@router.get("/api-keys", tags=["api keys"])
async def list_api_keys(principal: KeyAdmin, session: SessionDep) -> list[ApiKeyOut]:
    return [ApiKeyOut.model_validate(k) for k in await sessions.list_api_keys(session, None)]


@router.delete("/api-keys/{key_id}", tags=["api keys"], status_code=status.HTTP_204_NO_CONTENT)
async def revoke_api_key(
    key_id: int, principal: KeyAdmin, request: Request, session: SessionDep
) -> Response:
    await sessions.revoke_api_key(session, actor_of(request, principal), key_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# --- audit log ------------------------------------------------------------------------------


async def _audit_filter(
    action: Annotated[str | None, Query(max_length=64)] = None,
    actor_id: Annotated[int | None, Query(ge=0)] = None,
    target_type: Annotated[str | None, Query(max_length=32)] = None,
    target_id: Annotated[str | None, Query(max_length=64)] = None,
    since: IsoDateTime | None = None,
    until: IsoDateTime | None = None,
) -> AuditFilter:
    for name, value in (("since", since), ("until", until)):
        if value is not None and value.tzinfo is None:
            raise FinagencyError(f"{name} needs a time zone, e.g. 2026-01-31T00:00:00Z", 422)
    # Refused here, before an export starts streaming: PostgreSQL refuses NUL in text, and a
    # failure once the response has begun can no longer be a 422.
    for name, text in (("action", action), ("target_type", target_type), ("target_id", target_id)):
        if text is not None and "\x00" in text:
            raise FinagencyError(f"{name} cannot contain a NUL character", 422)
    return AuditFilter(action, actor_id, target_type, target_id, since, until)


AuditFilterDep = Annotated[AuditFilter, Depends(_audit_filter)]


@router.get("/audit", tags=["audit"])
async def list_audit(
    principal: AuditReader,
    session: SessionDep,
    criteria: AuditFilterDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    before_id: Annotated[int | None, Query(ge=1)] = None,
) -> AuditPage:
    events = await audit.page(session, criteria, limit, before_id)
    next_before = events[-1].id if len(events) == limit else None
    return AuditPage(
        items=[AuditEventOut.model_validate(e) for e in events], next_before_id=next_before
    )


@router.get("/audit/export", tags=["audit"], response_class=StreamingResponse)
async def export_audit(
    principal: AuditReader,
    request: Request,
    session: SessionDep,
    reader: StreamingSessionDep,
    criteria: AuditFilterDep,
    format: Annotated[Literal["csv", "jsonl"], Query()] = "jsonl",  # noqa: A002
) -> StreamingResponse:
    """Every event of a date range (since and until required), oldest first, streamed."""
    if criteria.since is None or criteria.until is None:
        raise FinagencyError("An export needs both since and until.", 422, "validation-error")
    if criteria.until <= criteria.since:
        raise FinagencyError("until must be after since.", 422, "validation-error")
    audit.record(
        session,
        "audit_exported",
        actor_of(request, principal),
        since=criteria.since.isoformat(),
        until=criteria.until.isoformat(),
        format=format,
    )

    async def lines() -> AsyncIterator[str]:
        # Read through a session that stays open while the response streams.
        if format == "csv":
            yield audit.csv_header()
        async for row in audit.export_rows(reader, criteria):
            yield audit.csv_line(row) if format == "csv" else audit.jsonl_line(row)

    media = "text/csv" if format == "csv" else "application/x-ndjson"
    stamp = f"{criteria.since:%Y%m%d}-{criteria.until:%Y%m%d}"
    return StreamingResponse(
        lines(),
        media_type=media,
        headers={"Content-Disposition": f'attachment; filename="audit-{stamp}.{format}"'},
    )


# --- run-time settings ---------------------------------------------------------------------


@router.get("/settings", tags=["settings"])
async def get_runtime_settings(
    principal: SettingsAdmin, session: SessionDep, settings: SettingsDep
) -> RuntimeSettings:
    return RuntimeSettings(
        registration_open=await settings_service.registration_open(session, settings)
    )


@router.patch("/settings", tags=["settings"])
async def update_runtime_settings(
    body: RuntimeSettingsUpdate,
    principal: SettingsAdmin,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
) -> RuntimeSettings:
    if body.registration_open is not None:
        await settings_service.put(
            session,
            settings_service.REGISTRATION_OPEN,
            body.registration_open,
            principal.user.id,
        )
        audit.record(
            session,
            "settings_changed",
            actor_of(request, principal),
            "settings",
            settings_service.REGISTRATION_OPEN,
            value=body.registration_open,
        )
    return await get_runtime_settings(principal, session, settings)
