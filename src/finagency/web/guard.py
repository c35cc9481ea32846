"""Who may see which page: the signed-in visitor, the navigation their role allows, refusals.

Pages are guarded here rather than by the API's `require()`: a browser that is not signed in
is sent to /login (an htmx request is told to go there with HX-Redirect), and a role without
the page's permission gets a 403 page in the layout, not a JSON problem document.
"""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request, status
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.ext.asyncio import AsyncSession

from finagency.accounts import sessions
from finagency.accounts.dependencies import SESSION_COOKIE
from finagency.accounts.metrics import AUTH_FAILURES
from finagency.accounts.models import User
from finagency.accounts.permissions import Permission, Role, role_allows
from finagency.accounts.tokens import same
from finagency.errors import FinagencyError
from finagency.settings import Settings
from finagency.web.rendering import page


@dataclass(frozen=True)
class NavLink:
    path: str
    label: str
    permission: Permission


# Every dashboard page, in the order of the navigation (paths as DESIGN.md §8 names them).
PAGES = (
    NavLink("/", "Overview", Permission.read),
    NavLink("/markets", "Markets", Permission.read),
    NavLink("/research", "Research", Permission.read),
    NavLink("/content", "Content", Permission.read),
    NavLink("/schedule", "Schedule", Permission.read),
    NavLink("/channels", "Channels", Permission.manage_channels),
    NavLink("/audit", "Audit log", Permission.read_audit),
    NavLink("/users", "Users", Permission.manage_users),
)


@dataclass(frozen=True)
class Visitor:
    """A signed-in person looking at a page, with what the layout needs of them."""

    principal: sessions.Principal
    csrf_token: str
    current: str  # the navigation entry of this page

    @property
    def user(self) -> User:
        return self.principal.user

    @property
    def role(self) -> Role:
        return self.principal.role

    def may(self, permission: Permission) -> bool:
        return role_allows(self.role, permission)

    @property
    def nav(self) -> list[NavLink]:
        return [link for link in PAGES if self.may(link.permission)]


async def signed_in(request: Request, session: AsyncSession) -> sessions.Principal | None:
    """The browser session's principal, or None (no cookie, ended, revoked or not a browser)."""
    cookie = request.cookies.get(SESSION_COOKIE)
    if not cookie:
        return None
    try:
        principal = await sessions.from_session_cookie(session, cookie)
    except FinagencyError:
        return None
    return principal if principal.web_session is not None else None


def _to_login(request: Request) -> Response:
    if request.headers.get("HX-Request") == "true":
        return Response(status_code=status.HTTP_401_UNAUTHORIZED, headers={"HX-Redirect": "/login"})
    return RedirectResponse("/login", status_code=status.HTTP_303_SEE_OTHER)


async def admit(
    request: Request,
    session: AsyncSession,
    settings: Settings,
    permission: Permission,
    current: str,
) -> Visitor | Response:
    """The visitor if they may see this page; otherwise the response to send instead."""
    principal = await signed_in(request, session)
    if principal is None or principal.web_session is None:
        return _to_login(request)
    visitor = Visitor(principal, principal.web_session.csrf_token, current)
    refusal: str | None = None
    if (
        settings.require_admin_totp
        and principal.role is Role.admin
        and not principal.user.totp_enabled
    ):
        # The same rule as the API: an administrator works only with a second factor enrolled.
        refusal = "Administrators must enrol a second factor first (POST /api/v1/auth/totp)."
    elif not visitor.may(permission):
        refusal = f"Your role ({visitor.role.value}) does not allow this page ({permission.value})."
    if refusal is None:
        return visitor
    AUTH_FAILURES.labels("forbidden").inc()
    if request.headers.get("HX-Request") == "true":
        return page(request, "_problem.html", 403, message=refusal)
    return page(request, "forbidden.html", 403, visitor=visitor, message=refusal)


CSRF_REFUSAL = "The form expired or did not come from this site: reload the page and try again."


async def admit_form(
    request: Request,
    session: AsyncSession,
    settings: Settings,
    permission: Permission,
    current: str,
    csrf_token: str,
) -> Visitor | Response:
    """As `admit`, for a form post: the session's CSRF token must come with it too.

    A refusal is a 403 page in the layout (or a `_problem.html` fragment for htmx) and the
    caller must change nothing.
    """
    visitor = await admit(request, session, settings, permission, current)
    if not isinstance(visitor, Visitor):
        return visitor
    if csrf_token and same(csrf_token, visitor.csrf_token):
        return visitor
    AUTH_FAILURES.labels("csrf").inc()
    if request.headers.get("HX-Request") == "true":
        return page(request, "_problem.html", 403, message=CSRF_REFUSAL)
    return page(request, "forbidden.html", 403, visitor=visitor, message=CSRF_REFUSAL)
