"""The Users page (admins): people, roles, second factors, lockouts.

Each action is a CSRF-protected form that makes the same calls as the API's /api/v1/users
routes (accounts/users.py, the login guard for unlocking, accounts/totp.py for a lost second
factor), inside a savepoint: a refusal changes nothing. The services refuse what would lock an
administrator out (demoting, disabling or deleting themselves); that message is shown on the
page with its status. Resetting one's own second factor here is refused too: it would end the
administrator's own sessions, and with FINAGENCY_REQUIRE_ADMIN_TOTP keep them off these pages.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import APIRouter, Form, Path, Query, Request, status
from fastapi.responses import RedirectResponse, Response
from pydantic import TypeAdapter, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from finagency.accounts import audit, totp, users
from finagency.accounts.audit import Actor
from finagency.accounts.dependencies import SettingsDep, StoreDep, actor_of
from finagency.accounts.models import User
from finagency.accounts.permissions import Permission, Role
from finagency.accounts.protection import LoginGuard
from finagency.accounts.schemas import Email
from finagency.cache import Store
from finagency.db import SessionDep, utcnow
from finagency.errors import Conflict, FinagencyError
from finagency.settings import Settings
from finagency.web.actions import BadInput, CsrfField
from finagency.web.audit import LARGEST_ID, ago, whole_number
from finagency.web.guard import Visitor, admit, admit_form
from finagency.web.rendering import page

router = APIRouter(include_in_schema=False)

PAGE_SIZE = 100
# What the page says after each action; the query string carries only the key.
NOTICES = {
    "created": "User created with the password you set; tell them through a safe channel.",
    "invited": "User created and e-mailed an invitation to choose a password.",
    "role": "Role changed; it applies to their next request.",
    "disabled": "User disabled: their sessions, tokens and API keys have ended.",
    "enabled": "User enabled again.",
    "deleted": "User deleted; their audit events stay.",
    "unlocked": "Lockout lifted: they may sign in again.",
    "totp": "Second factor removed and their sessions ended; they may enrol again.",
}
ROLES = tuple(role.value for role in Role)
UserId = Annotated[int, Path(ge=1, le=LARGEST_ID)]

# An action: on one user (None when creating one), done as `actor`; says which notice to show.
Act = Callable[[User | None, Actor], Awaitable[str]]


async def locked_seconds(guard: LoginGuard, accounts: list[User]) -> dict[int, float]:
    """How long each locked-out account stays locked (only those that are)."""
    remaining = {}
    for user in accounts:
        seconds = await guard.locked_for(user.email)
        if seconds is not None:
            remaining[user.id] = seconds
    return remaining


async def render_users(
    request: Request,
    session: AsyncSession,
    guard: LoginGuard,
    visitor: Visitor,
    status_code: int = 200,
    error: str | None = None,
    notice: str | None = None,
    typed: dict[str, str] | None = None,
    after_id: int | None = None,
) -> Response:
    people = await users.list_users(session, PAGE_SIZE, after_id)
    return page(
        request,
        "users.html",
        status_code,
        visitor=visitor,
        people=people,
        locked=await locked_seconds(guard, people),
        roles=ROLES,
        error=error,
        notice=notice,
        # Never a password: only what may be shown again.
        typed=typed or {},
        paged=after_id is not None,
        more=f"/users?after_id={people[-1].id}" if len(people) == PAGE_SIZE else None,
        now=utcnow(),
        ago=ago,
    )


@router.get("/users")
async def users_page(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    store: StoreDep,
    done: Annotated[str, Query(max_length=16)] = "",
    after_id: Annotated[str, Query(max_length=20)] = "",
) -> Response:
    visitor = await admit(request, session, settings, Permission.manage_users, "/users")
    if not isinstance(visitor, Visitor):
        return visitor
    guard = LoginGuard(store, settings)
    after = whole_number(after_id, 0) if after_id else None
    if after_id and after is None:
        return await render_users(
            request, session, guard, visitor, 422, f"after_id must be a user id, not {after_id!r}."
        )
    return await render_users(
        request, session, guard, visitor, notice=NOTICES.get(done), after_id=after
    )


async def _perform(
    request: Request,
    session: AsyncSession,
    settings: Settings,
    store: Store,
    csrf_token: str,
    user_id: int | None,
    act: Act,
    typed: dict[str, str] | None = None,
) -> Response:
    """Admit the form, do the action in a savepoint, then 303 back or show the refusal."""
    visitor = await admit_form(
        request, session, settings, Permission.manage_users, "/users", csrf_token
    )
    if not isinstance(visitor, Visitor):
        return visitor
    try:
        async with session.begin_nested():
            user = None if user_id is None else await users.get(session, user_id)
            notice = await act(user, actor_of(request, visitor.principal))
    except FinagencyError as error:
        guard = LoginGuard(store, settings)
        return await render_users(
            request, session, guard, visitor, error.status_code, error.message, typed=typed
        )
    anchor = f"#user-{user_id}" if user_id is not None else ""
    return RedirectResponse(f"/users?done={notice}{anchor}", status_code=status.HTTP_303_SEE_OTHER)


def role_of(value: str) -> Role:
    if value not in ROLES:
        raise BadInput(f"Unknown role {value[:32]!r}; choose one of {', '.join(ROLES)}.")
    return Role(value)


@router.post("/users")
async def create_user(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    store: StoreDep,
    csrf_token: CsrfField = "",
    email: Annotated[str, Form(max_length=1000)] = "",
    display_name: Annotated[str, Form(max_length=1000)] = "",
    role: Annotated[str, Form(max_length=100)] = Role.viewer.value,
    password: Annotated[str, Form(max_length=4000)] = "",
) -> Response:
    async def act(_: User | None, actor: Actor) -> str:
        try:
            address = TypeAdapter(Email).validate_python(email)
        except ValidationError:
            raise BadInput("Enter the new user's e-mail address.") from None
        name = display_name.strip()
        if not 1 <= len(name) <= 100:
            raise BadInput(f"The display name needs 1 to 100 characters (it has {len(name)}).")
        if len(password) > 1024:
            raise BadInput("The password has at most 1024 characters.")
        await users.create(session, settings, actor, address, name, role_of(role), password or None)
        return "created" if password else "invited"

    typed = {"email": email[:254], "display_name": display_name[:100], "role": role[:16]}
    return await _perform(request, session, settings, store, csrf_token, None, act, typed)


@router.post("/users/{user_id}/role")
async def change_role(
    user_id: UserId,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    store: StoreDep,
    csrf_token: CsrfField = "",
    role: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    async def act(user: User | None, actor: Actor) -> str:
        assert user is not None
        await users.update(session, actor, user, role=role_of(role))
        return "role"

    return await _perform(request, session, settings, store, csrf_token, user_id, act)


async def _set_active(
    request: Request,
    session: AsyncSession,
    settings: Settings,
    store: Store,
    csrf_token: str,
    user_id: int,
    active: bool,
) -> Response:
    async def act(user: User | None, actor: Actor) -> str:
        assert user is not None
        await users.update(session, actor, user, is_active=active)
        return "enabled" if active else "disabled"

    return await _perform(request, session, settings, store, csrf_token, user_id, act)


@router.post("/users/{user_id}/disable")
async def disable_user(
    user_id: UserId,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    store: StoreDep,
    csrf_token: CsrfField = "",
) -> Response:
    return await _set_active(request, session, settings, store, csrf_token, user_id, False)


@router.post("/users/{user_id}/enable")
async def enable_user(
    user_id: UserId,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    store: StoreDep,
    csrf_token: CsrfField = "",
) -> Response:
    return await _set_active(request, session, settings, store, csrf_token, user_id, True)


@router.post("/users/{user_id}/delete")
async def delete_user(
    user_id: UserId,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    store: StoreDep,
    csrf_token: CsrfField = "",
) -> Response:
    async def act(user: User | None, actor: Actor) -> str:
        assert user is not None
        await users.delete(session, actor, user)
        return "deleted"

    return await _perform(request, session, settings, store, csrf_token, user_id, act)


@router.post("/users/{user_id}/unlock")
async def unlock_user(
    user_id: UserId,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    store: StoreDep,
    csrf_token: CsrfField = "",
) -> Response:
    async def act(user: User | None, actor: Actor) -> str:
        assert user is not None
        # As POST /api/v1/users/{id}/unlock: the guard forgets the lockout, the log records it.
        await LoginGuard(store, settings).unlock(user.email)
        audit.record(session, "account_unlocked", actor, "user", user.id)
        return "unlocked"

    return await _perform(request, session, settings, store, csrf_token, user_id, act)


@router.post("/users/{user_id}/reset-totp")
async def reset_totp(
    user_id: UserId,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    store: StoreDep,
    csrf_token: CsrfField = "",
) -> Response:
    async def act(user: User | None, actor: Actor) -> str:
        assert user is not None
        if user.id == actor.user_id:
            raise Conflict(
                "Administrators cannot reset their own second factor here: it would end this "
                "session. Use your account's settings (POST /api/v1/auth/totp/disable)."
            )
        # As POST /api/v1/users/{id}/reset-totp.
        await totp.remove(session, actor, user, "totp_reset_by_admin")
        await users.revoke_everything(session, user)
        return "totp"

    return await _perform(request, session, settings, store, csrf_token, user_id, act)
