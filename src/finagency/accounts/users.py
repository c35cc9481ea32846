"""Users: create, invite, register, change, deactivate, delete; passwords and their resets."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy import update as sql_update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from finagency.accounts import audit, passwords
from finagency.accounts.audit import Actor
from finagency.accounts.metrics import REGISTRATIONS
from finagency.accounts.models import ApiKey, PasswordResetToken, RefreshToken, User, WebSession
from finagency.accounts.permissions import Role
from finagency.accounts.tokens import digest, new_secret
from finagency.db import utcnow
from finagency.errors import Conflict, FinagencyError, NotFound
from finagency.mail import service as mail_service
from finagency.settings import Settings
from finagency.system import settings_service

INVITATION_DAYS = 7


class WeakPassword(FinagencyError):
    status_code = 422
    type = "weak-password"


def _invalid_reset() -> FinagencyError:
    return FinagencyError("This reset link is invalid or has expired.", 400, "invalid-reset-token")


def check_policy(password: str, email: str) -> None:
    problem = passwords.policy_problem(password, email)
    if problem:
        raise WeakPassword(problem)


async def by_email(session: AsyncSession, email: str) -> User | None:
    return await session.scalar(select(User).where(User.email == email.lower()))


async def get(session: AsyncSession, user_id: int) -> User:
    user = await session.get(User, user_id)
    if user is None:
        raise NotFound(f"No user {user_id}")
    return user


async def list_users(session: AsyncSession, limit: int, after_id: int | None) -> list[User]:
    query = select(User).order_by(User.id).limit(limit)
    if after_id is not None:
        query = query.where(User.id > after_id)
    return list(await session.scalars(query))


async def create(
    session: AsyncSession,
    settings: Settings,
    actor: Actor,
    email: str,
    display_name: str,
    role: Role,
    password: str | None,
) -> User:
    """Create a user; without a password, e-mail an invitation link to choose one."""
    email = email.lower()
    if password is not None:
        check_policy(password, email)
    if await by_email(session, email) is not None:
        raise Conflict("A user with this e-mail address already exists.")
    user = User(
        email=email,
        display_name=display_name,
        role=role.value,
        password_hash=(
            await passwords.hash_password_async(settings, password) if password else _unusable()
        ),
    )
    if not await _insert(session, user):
        raise Conflict("A user with this e-mail address already exists.")
    audit.record(session, "user_created", actor, "user", user.id, role=role.value, email=email)
    REGISTRATIONS.inc()
    if password is None:
        await send_reset_link(session, settings, user, invitation=True)
    return user


async def register(
    session: AsyncSession,
    settings: Settings,
    actor: Actor,
    email: str,
    display_name: str,
    password: str,
) -> None:
    """Self-registration as a viewer. Answers the same whether or not the e-mail is taken."""
    if not await settings_service.registration_open(session, settings):
        raise FinagencyError(
            "Registration is closed; ask an administrator for an invitation.",
            403,
            "registration-closed",
        )
    email = email.lower()
    check_policy(password, email)
    # Hashed on both paths, so that the answer takes as long either way.
    password_hash = await passwords.hash_password_async(settings, password)
    existing = await by_email(session, email)
    if existing is not None:
        await mail_service.queue_mail(
            session,
            email,
            "Someone tried to register with your address",
            "Somebody tried to create an AI Finance Agency account with this e-mail address, "
            "which already has one. If it was you, log in or reset your password.",
        )
        return
    user = User(
        email=email, display_name=display_name, role=Role.viewer.value, password_hash=password_hash
    )
    if not await _insert(session, user):
        return  # registered a moment ago by a concurrent request: the same answer
    audit.record(session, "user_registered", actor, "user", user.id, email=email)
    REGISTRATIONS.inc()


def _unusable() -> str:
    """A password hash nobody can log in with (no argon2 hash starts with "!")."""
    return "!" + new_secret()


async def _insert(session: AsyncSession, user: User) -> bool:
    """Add the user; False when the e-mail was taken meanwhile (a concurrent request)."""
    try:
        async with session.begin_nested():
            session.add(user)
    except IntegrityError:
        return False
    return True


async def update(session: AsyncSession, actor: Actor, user: User, **changes: object) -> User:
    role = changes.get("role")
    is_active = changes.get("is_active")
    if user.id == actor.user_id and (role not in (None, Role.admin) or is_active is False):
        raise Conflict("Administrators cannot demote or deactivate themselves.")
    if isinstance(changes.get("display_name"), str):
        user.display_name = str(changes["display_name"])
    if isinstance(role, Role) and role.value != user.role:
        audit.record(session, "role_changed", actor, "user", user.id, old=user.role, new=role.value)
        user.role = role.value
    if isinstance(is_active, bool) and is_active != user.is_active:
        user.is_active = is_active
        action = "user_reactivated" if is_active else "user_deactivated"
        audit.record(session, action, actor, "user", user.id)
        if not is_active:
            await revoke_everything(session, user, api_keys=True)
    await session.flush()
    return user


async def delete(session: AsyncSession, actor: Actor, user: User) -> None:
    if user.id == actor.user_id:
        raise Conflict("Administrators cannot delete themselves.")
    audit.record(session, "user_deleted", actor, "user", user.id, email=user.email)
    await session.delete(user)
    await session.flush()


async def revoke_everything(session: AsyncSession, user: User, api_keys: bool = False) -> None:
    """End every token, refresh chain, browser session and reset link of the user, now.

    API keys (automations) end too when an admin acts on a possibly compromised account.
    """
    now = utcnow()
    user.tokens_valid_after = now
    await session.execute(
        sql_update(PasswordResetToken)
        .where(PasswordResetToken.user_id == user.id, PasswordResetToken.used_at.is_(None))
        .values(used_at=now)
    )
    if api_keys:
        await session.execute(
            sql_update(ApiKey)
            .where(ApiKey.user_id == user.id, ApiKey.revoked_at.is_(None))
            .values(revoked_at=now)
        )
    await session.execute(
        sql_update(RefreshToken)
        .where(RefreshToken.user_id == user.id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    await session.execute(
        sql_update(WebSession)
        .where(WebSession.user_id == user.id, WebSession.revoked_at.is_(None))
        .values(revoked_at=now)
    )


async def set_password(
    session: AsyncSession, settings: Settings, user: User, password: str
) -> None:
    check_policy(password, user.email)
    user.password_hash = await passwords.hash_password_async(settings, password)
    await revoke_everything(session, user)


async def change_password(
    session: AsyncSession, settings: Settings, actor: Actor, user: User, current: str, new: str
) -> bool:
    """Change the password; False (nothing changed) when `current` is wrong, which the caller
    counts as a failed login."""
    if not await passwords.verify_password_async(settings, user.password_hash, current):
        return False
    await set_password(session, settings, user, new)
    audit.record(session, "password_changed", actor, "user", user.id)
    return True


async def admin_reset(
    session: AsyncSession, settings: Settings, actor: Actor, user: User, new: str | None
) -> None:
    if new is None:
        # The old password stops working now, not when the user follows the link.
        user.password_hash = _unusable()
        await revoke_everything(session, user, api_keys=True)
        await send_reset_link(session, settings, user)
    else:
        await set_password(session, settings, user, new)
        await revoke_everything(session, user, api_keys=True)
    audit.record(session, "password_reset_by_admin", actor, "user", user.id, link=new is None)


async def send_reset_link(
    session: AsyncSession, settings: Settings, user: User, invitation: bool = False
) -> None:
    token = new_secret()
    lifetime = (
        timedelta(days=INVITATION_DAYS)
        if invitation
        else timedelta(minutes=settings.password_reset_minutes)
    )
    session.add(
        PasswordResetToken(
            user_id=user.id, token_hash=digest(token), expires_at=utcnow() + lifetime
        )
    )
    link = f"{settings.public_base_url}/reset-password?token={token}"
    if invitation:
        subject = "You are invited to the AI Finance Agency"
        body = (
            "An account was created for you. Choose your password here "
            f"(valid {INVITATION_DAYS} days):\n\n{link}\n"
        )
    else:
        minutes = settings.password_reset_minutes
        subject = "Reset your AI Finance Agency password"
        body = (
            f"Choose a new password here (valid {minutes} minutes, once):\n\n{link}\n\n"
            "If you did not ask for this, ignore this message; your password is unchanged."
        )
    await mail_service.queue_mail(session, user.email, subject, body)


async def request_reset(
    session: AsyncSession, settings: Settings, actor: Actor, email: str
) -> None:
    """Always the same answer; a link is sent only to an active account."""
    user = await by_email(session, email)
    if user is None or not user.is_active:
        return
    await send_reset_link(session, settings, user)
    audit.record(session, "password_reset_requested", actor, "user", user.id)


async def confirm_reset(
    session: AsyncSession, settings: Settings, actor: Actor, token: str, new_password: str
) -> str:
    """Set the password from a link; returns the account's e-mail (to lift its lockout)."""
    row = await session.scalar(
        select(PasswordResetToken).where(PasswordResetToken.token_hash == digest(token))
    )
    if row is None or row.used_at is not None or row.expires_at <= utcnow():
        raise _invalid_reset()
    user = await get(session, row.user_id)
    if not user.is_active:
        raise _invalid_reset()
    check_policy(new_password, user.email)
    # Claimed in one conditional UPDATE: two requests racing with one link cannot both win.
    claimed = await session.execute(
        sql_update(PasswordResetToken)
        .where(PasswordResetToken.id == row.id, PasswordResetToken.used_at.is_(None))
        .values(used_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if not getattr(claimed, "rowcount", 0):
        raise _invalid_reset()
    await set_password(session, settings, user, new_password)
    audit.record(session, "password_reset", actor, "user", user.id)
    return user.email
