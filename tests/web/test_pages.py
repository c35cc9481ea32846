"""The dashboard's pages: the guard, the navigation by role, the layout's promises."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from finagency.accounts.permissions import Role, role_allows
from finagency.settings import Settings
from finagency.web.guard import PAGES
from tests.web.support import make_draft, read, sign_in

PATHS = [link.path for link in PAGES]


async def test_signed_out_every_page_sends_the_browser_to_login(
    client: httpx.AsyncClient, db_session: AsyncSession
) -> None:
    draft = await make_draft(db_session, "Title\n\nBody.")
    for path in [*PATHS, f"/content/{draft.id}", "/fragments/overview"]:
        response = await client.get(path, follow_redirects=False)
        assert response.status_code == 303, path
        assert response.headers["location"] == "/login"
    # htmx polling is told where to go rather than swapping the login page into a fragment.
    polled = await client.get("/fragments/overview", headers={"HX-Request": "true"})
    assert polled.status_code == 401
    assert polled.headers["hx-redirect"] == "/login"


@pytest.mark.parametrize("role", list(Role))
async def test_each_role_sees_its_pages_in_the_nav_and_is_refused_the_rest(
    client: httpx.AsyncClient, db_session: AsyncSession, settings: Settings, role: Role
) -> None:
    await sign_in(client, db_session, settings, role)
    home = await client.get("/")
    assert home.status_code == 200
    nav = home.text.split('aria-label="Dashboard"', 1)[1].split("</nav>", 1)[0]
    links = [e.attrs["href"] for e in read(nav).all("a")]
    allowed = [link.path for link in PAGES if role_allows(role, link.permission)]
    assert links == allowed
    for link in PAGES:
        response = await client.get(link.path)
        if link.path in allowed:
            assert response.status_code == 200, link.path
            current = [e for e in read(response.text).all("a") if e.attrs.get("aria-current")]
            assert [e.attrs["href"] for e in current] == [link.path]
        else:
            assert response.status_code == 403, link.path
            assert "does not allow this page" in response.text
            assert 'aria-label="Dashboard"' in response.text  # refused inside the layout


async def test_the_layout_names_the_user_and_offers_a_labelled_logout_and_skip_link(
    client: httpx.AsyncClient, db_session: AsyncSession, settings: Settings
) -> None:
    csrf = await sign_in(client, db_session, settings, Role.editor)
    page = read((await client.get("/content")).text)
    assert any(e.attrs.get("href") == "#main" for e in page.all("a"))
    assert any(e.attrs.get("id") == "main" for e in page.all("main"))
    assert any(
        e.attrs.get("name") == "csrf-token" and e.attrs.get("content") == csrf
        for e in page.all("meta")
    )
    logout = [e for e in page.all("form") if e.attrs.get("action") == "/logout"]
    assert logout
    assert logout[0].attrs["method"] == "post"
    hidden = [e for e in page.all("input") if e.attrs.get("name") == "csrf_token"]
    assert hidden[0].attrs["value"] == csrf


def _unlabelled_controls(html: str) -> list[str]:
    """Selects and visible inputs that sit in no <label> (the pages wrap each in its label)."""
    problems = []
    depth = 0
    for token in html.replace(">", ">\n").splitlines():
        depth += token.count("<label") - token.count("</label>")
        for control in ("<select", "<input", "<textarea"):
            if control in token and 'type="hidden"' not in token and depth <= 0:
                problems.append(token.strip())
    return problems


async def test_every_control_has_a_label(
    client: httpx.AsyncClient, db_session: AsyncSession, settings: Settings
) -> None:
    assert not _unlabelled_controls((await client.get("/login")).text)
    await sign_in(client, db_session, settings, Role.admin)
    for path in PATHS:
        assert not _unlabelled_controls((await client.get(path)).text), path


async def test_an_unknown_draft_is_a_404_page(
    client: httpx.AsyncClient, db_session: AsyncSession, settings: Settings
) -> None:
    await sign_in(client, db_session, settings, Role.viewer)
    response = await client.get("/content/999999")
    assert response.status_code == 404
    assert "No content 999999" in response.text
