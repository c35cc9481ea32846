"""Logging in and staying in: access and refresh tokens, browser sessions, API keys, logout."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import Select, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from finagency.accounts import audit, passwords, totp
from finagency.accounts.audit import Actor
from finagency.accounts.metrics import AUTH_FAILURES, LOCKOUTS, LOGINS
from finagency.accounts.models import ApiKey, RefreshToken, User, WebSession
from finagency.accounts.permissions import Role, Scope
from finagency.accounts.protection import LoginGuard
from finagency.accounts.tokens import (
    AccessClaims,
    InvalidToken,
    decode_access_token,
    digest,
    issue_access_token,
    new_secret,
)
from finagency.cache import Store
from finagency.db import utcnow
from finagency.errors import FinagencyError, Locked, NotFound, Unauthorized
from finagency.settings import Settings

BAD_CREDENTIALS = "Wrong e-mail address or password."
API_KEY_PREFIX = "fa_"
# last_used_at is written at most this often per key, not on every request.
KEY_USE_RESOLUTION = timedelta(seconds=60)


class SecondFactorRequired(FinagencyError):
    status_code = 401
    type = "second-factor-required"


@dataclass
class Principal:
    """Who is calling, and how: a user by token or browser session, or an automation by key."""

    user: User
    via: str  # "token", "session" or "api_key"
    scopes: list[str] | None = None
    claims: AccessClaims | None = None
    web_session: WebSession | None = None
    api_key: ApiKey | None = None
    extra: dict[str, object] = field(default_factory=dict)

    @property
    def role(self) -> Role:
        return Role(self.user.role)


@dataclass(frozen=True)
class IssuedTokens:
    access_token: str
    refresh_token: str
    expires_in: int


def _unauthorized(reason: str, message: str = "Authentication required.") -> Unauthorized:
    AUTH_FAILURES.labels(reason).inc()
    return Unauthorized(message, headers={"WWW-Authenticate": 'Bearer realm="finagency"'})


async def authenticate(
    session: AsyncSession,
    settings: Settings,
    guard: LoginGuard,
    actor: Actor,
    email: str,
    password: str,
    totp_code: str | None,
) -> User:
    """Check a login; the same answer and cost whether or not the account exists."""
    email = email.lower()
    ip = actor.ip or "unknown"
    try:
        await guard.check_allowed(email, ip)
    except Locked:
        LOGINS.labels("locked").inc()
        raise
    except FinagencyError:
        LOGINS.labels("blocked").inc()
        raise
    user = await session.scalar(select(User).where(User.email == email))
    if user is None:
        await passwords.burn_verification_async(settings, password)
        ok = False
    else:
        ok = (
            await passwords.verify_password_async(settings, user.password_hash, password)
            and user.is_active
        )
    if ok and user is not None and user.totp_enabled:
        if not totp_code:
            raise SecondFactorRequired(
                "Enter the code from your authenticator app (or a recovery code).",
                headers={"WWW-Authenticate": 'Bearer realm="finagency"'},
            )
        ok = await totp.verify(session, settings, user, totp_code)
    if not ok or user is None:
        raise await _failed_login(session, guard, actor, email, ip)
    await guard.record_success(email)
    if passwords.needs_rehash(settings, user.password_hash):
        user.password_hash = await passwords.hash_password_async(settings, password)
    user.last_login_at = utcnow()
    LOGINS.labels("success").inc()
    audit.record(
        session, "login", Actor(user.id, user.email, actor.ip, actor.request_id), "user", user.id
    )
    return user


async def _failed_login(
    session: AsyncSession, guard: LoginGuard, actor: Actor, email: str, ip: str
) -> FinagencyError:
    LOGINS.labels("failure").inc()
    audit.record(session, "login_failed", Actor(None, email, actor.ip, actor.request_id), "user")
    outcome = await guard.record_failure(email, ip)
    if isinstance(outcome, Locked):
        LOCKOUTS.inc()
        audit.record(
            session, "account_locked", Actor(None, email, actor.ip, actor.request_id), "user"
        )
    elif outcome is not None:
        audit.record(
            session, "ip_blocked", Actor(None, email, actor.ip, actor.request_id), "ip", ip
        )
    # The request fails, but its audit events must stay: commit them now.
    await session.commit()
    return outcome or Unauthorized(
        BAD_CREDENTIALS, headers={"WWW-Authenticate": 'Bearer realm="finagency"'}
    )


async def issue_tokens(
    session: AsyncSession, settings: Settings, user: User, family_id: str | None = None
) -> IssuedTokens:
    family_id = family_id or uuid.uuid4().hex
    access, _ = issue_access_token(settings, user.id, user.role, family_id)
    refresh = new_secret("rt_")
    session.add(
        RefreshToken(
            user_id=user.id,
            family_id=family_id,
            token_hash=digest(refresh),
            expires_at=utcnow() + timedelta(days=settings.refresh_token_days),
        )
    )
    await session.flush()
    return IssuedTokens(access, refresh, settings.access_token_minutes * 60)


async def refresh(
    session: AsyncSession, settings: Settings, actor: Actor, refresh_token: str
) -> IssuedTokens:
    """Rotate: each refresh token works once; a second use revokes its whole family."""
    row = await session.scalar(
        select(RefreshToken).where(RefreshToken.token_hash == digest(refresh_token))
    )
    if row is None:
        raise _unauthorized("bad_token", "This refresh token is not valid.")
    now = utcnow()
    if row.revoked_at is not None:
        raise _unauthorized("revoked", "This refresh token has been revoked.")
    # Claim it in one conditional UPDATE, so that two concurrent uses cannot both win.
    claimed = await session.execute(
        update(RefreshToken)
        .where(RefreshToken.id == row.id, RefreshToken.used_at.is_(None))
        .values(used_at=now)
    )
    if not getattr(claimed, "rowcount", 0):
        await _revoke_family(session, row.family_id, now)
        AUTH_FAILURES.labels("token_reuse").inc()
        audit.record(
            session,
            "token_reuse_detected",
            Actor(row.user_id, None, actor.ip, actor.request_id),
            "user",
            row.user_id,
            family=row.family_id,
        )
        await session.commit()
        raise _unauthorized("revoked", "This refresh token was already used; please log in again.")
    if row.expires_at <= now:
        raise _unauthorized("expired", "This refresh token has expired; please log in again.")
    user = await session.get(User, row.user_id)
    if user is None or not user.is_active or row.created_at < user.tokens_valid_after:
        raise _unauthorized("revoked", "This refresh token is no longer valid.")
    return await issue_tokens(session, settings, user, row.family_id)


async def _revoke_family(
    session: AsyncSession, family_id: str, now: datetime, user_id: int | None = None
) -> None:
    query = update(RefreshToken).where(
        RefreshToken.family_id == family_id, RefreshToken.revoked_at.is_(None)
    )
    if user_id is not None:  # from a token's claim: only ever the caller's own family
        query = query.where(RefreshToken.user_id == user_id)
    await session.execute(query.values(revoked_at=now))


async def logout(
    session: AsyncSession,
    store: Store,
    actor: Actor,
    principal: Principal,
    refresh_token: str | None,
) -> None:
    now = utcnow()
    if principal.claims is not None:
        # The access token stays refused until it would have expired anyway.
        remaining = (principal.claims.expires_at - now).total_seconds()
        if remaining > 0:
            await store.set(f"revoked-jti:{principal.claims.jti}", "1", remaining)
    if principal.claims is not None and principal.claims.session_id:
        await _revoke_family(session, principal.claims.session_id, now, principal.user.id)
    if refresh_token:
        row = await session.scalar(
            select(RefreshToken).where(
                RefreshToken.token_hash == digest(refresh_token),
                RefreshToken.user_id == principal.user.id,
            )
        )
        if row is not None:
            await _revoke_family(session, row.family_id, now)
    if principal.web_session is not None:
        principal.web_session.revoked_at = now
    audit.record(session, "logout", actor, "user", principal.user.id, via=principal.via)


async def _live_user(session: AsyncSession, user_id: int, issued_at: datetime | None) -> User:
    """The user behind a credential, if still active and the credential not revoked.

    issued_at None: the credential (an API key) survives password changes, not deactivation.
    """
    user = await session.get(User, user_id)
    if user is None or not user.is_active:
        raise _unauthorized("revoked", "This account is no longer active.")
    valid_after = user.tokens_valid_after
    valid_after = valid_after.replace(microsecond=valid_after.microsecond // 1000 * 1000)
    if issued_at is not None and issued_at < valid_after:
        raise _unauthorized("revoked", "This token was revoked; please log in again.")
    return user


async def from_access_token(
    session: AsyncSession, settings: Settings, store: Store, token: str
) -> Principal:
    try:
        claims = decode_access_token(settings, token)
    except InvalidToken as error:
        message = "The access token has expired." if error.reason == "expired" else "Invalid token."
        raise _unauthorized(error.reason, message) from None
    if await store.get(f"revoked-jti:{claims.jti}") is not None:
        raise _unauthorized("revoked", "This token was revoked; please log in again.")
    user = await _live_user(session, claims.user_id, claims.issued_at)
    return Principal(user=user, via="token", claims=claims)


async def from_api_key(session: AsyncSession, key: str) -> Principal:
    row = await session.scalar(select(ApiKey).where(ApiKey.key_hash == digest(key)))
    if row is None or row.revoked_at is not None:
        raise _unauthorized("bad_api_key", "Invalid API key.")
    user = await _live_user(session, row.user_id, None)
    now = utcnow()
    if row.last_used_at is None or now - row.last_used_at > KEY_USE_RESOLUTION:
        row.last_used_at = now
    return Principal(user=user, via="api_key", scopes=list(row.scopes), api_key=row)


async def from_session_cookie(session: AsyncSession, cookie: str) -> Principal:
    row = await session.scalar(select(WebSession).where(WebSession.token_hash == digest(cookie)))
    if row is None or row.revoked_at is not None or row.expires_at <= utcnow():
        raise _unauthorized("expired", "Your session has ended; please log in again.")
    user = await _live_user(session, row.user_id, row.created_at)
    return Principal(user=user, via="session", web_session=row)


async def start_web_session(
    session: AsyncSession, settings: Settings, user: User
) -> tuple[str, WebSession]:
    cookie = new_secret("ws_")
    row = WebSession(
        user_id=user.id,
        token_hash=digest(cookie),
        csrf_token=new_secret(),
        expires_at=utcnow() + timedelta(hours=settings.session_hours),
    )
    session.add(row)
    await session.flush()
    return cookie, row


# --- API keys ---------------------------------------------------------------------------------


async def create_api_key(
    session: AsyncSession, actor: Actor, user: User, name: str, scopes: list[Scope]
) -> tuple[ApiKey, str]:
    prefix = new_secret(nbytes=6).replace("-", "x").replace("_", "x")[:8]
    key = f"{API_KEY_PREFIX}{prefix}_{new_secret()}"
    row = ApiKey(
        user_id=user.id,
        name=name,
        prefix=prefix,
        key_hash=digest(key),
        scopes=sorted({scope.value for scope in scopes}),
    )
    session.add(row)
    await session.flush()
    audit.record(session, "api_key_created", actor, "api_key", row.id, name=name, scopes=row.scopes)
    return row, key


async def list_api_keys(session: AsyncSession, user: User | None) -> list[ApiKey]:
    query = select(ApiKey).order_by(ApiKey.id)
    if user is not None:
        query = query.where(ApiKey.user_id == user.id)
    return list(await session.scalars(query))


async def revoke_api_key(session: AsyncSession, actor: Actor, key_id: int) -> ApiKey:
    row = await session.get(ApiKey, key_id)
    if row is None:
        raise NotFound(f"No API key {key_id}")
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        audit.record(session, "api_key_revoked", actor, "api_key", row.id, name=row.name)
    await session.flush()
    return row


# --- figures ----------------------------------------------------------------------------------


def active_sessions_query() -> Select[tuple[int]]:
    """Live refresh-token families plus live browser sessions (for the gauge)."""
    now = utcnow()
    families = (
        select(func.count(func.distinct(RefreshToken.family_id)))
        .where(
            RefreshToken.revoked_at.is_(None),
            RefreshToken.used_at.is_(None),
            RefreshToken.expires_at > now,
        )
        .scalar_subquery()
    )
    browsers = (
        select(func.count())
        .select_from(WebSession)
        .where(WebSession.revoked_at.is_(None), WebSession.expires_at > now)
        .scalar_subquery()
    )
    return select(families + browsers)
