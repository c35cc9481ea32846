"""A strict Content-Security-Policy holds on every page; static files are cached and vendored
files are exactly what VENDORED.md records."""

from __future__ import annotations

import hashlib
import re

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from finagency.accounts.permissions import Role
from finagency.settings import Settings
from finagency.web.assets import CACHE_CONTROL, STATIC_DIR
from finagency.web.guard import PAGES
from tests.web.support import make_draft, read, sign_in

VENDOR = STATIC_DIR / "vendor"


def _inline_code(html: str) -> list[str]:
    """Everything the policy would block: inline scripts, style elements and attributes,
    event-handler attributes and javascript: links."""
    problems = []
    for element in read(html).elements:
        if element.tag == "script" and (not element.attrs.get("src") or element.text.strip()):
            problems.append(f"inline <script>: {element.text[:60]!r}")
        if element.tag == "style":
            problems.append("<style> element")
        for name, value in element.attrs.items():
            if name == "style":
                problems.append(f"style= on <{element.tag}>")
            if name.startswith("on"):
                problems.append(f"{name}= on <{element.tag}>")
            if name in {"href", "src", "action"} and (value or "").lower().startswith(
                "javascript:"
            ):
                problems.append(f"javascript: URL on <{element.tag}>")
    return problems


async def test_every_page_has_the_policy_and_nothing_inline(
    client: httpx.AsyncClient, db_session: AsyncSession, settings: Settings
) -> None:
    login = await client.get("/login")
    draft = await make_draft(
        db_session,
        "A title\n\nThe index rose 2% and will surely rise.",
        [("promissory", "block", "Promises a return", 27, 45)],
    )
    await sign_in(client, db_session, settings, Role.admin)
    responses = [login] + [
        await client.get(path)
        for path in [link.path for link in PAGES]
        + ["/content/999999", f"/content/{draft.id}", "/fragments/overview"]
    ]
    for response in responses:
        path = response.request.url.path
        policy = response.headers["content-security-policy"]
        directives = dict(d.strip().split(" ", 1) for d in policy.split(";"))
        assert directives["default-src"] == "'self'"
        assert directives["script-src"] == "'self'"
        assert directives["style-src"] == "'self'"
        assert "unsafe" not in policy
        assert response.headers["x-content-type-options"] == "nosniff"
        assert not _inline_code(response.text), (path, _inline_code(response.text))
    # Scripts come from our origin, fingerprinted; htmx is told not to inject its own style.
    overview = read(responses[1].text)
    sources = [e.attrs["src"] or "" for e in overview.all("script")]
    assert any(s.startswith("/static/vendor/htmx.min.js?v=") for s in sources)
    assert any(s.startswith("/static/vendor/uPlot.iife.min.js?v=") for s in sources)
    assert any(s.startswith("/static/app.js?v=") for s in sources)
    config = [e for e in overview.all("meta") if e.attrs.get("name") == "htmx-config"]
    assert '"includeIndicatorStyles": false' in (config[0].attrs["content"] or "")


def _vendored() -> dict[str, str]:
    """file name → sha256, from the Files table of VENDORED.md."""
    text = (VENDOR / "VENDORED.md").read_text()
    files = text.split("## Files", 1)[1]
    return dict(re.findall(r"^\| (\S+) \| \S+ \| \S+ \| ([0-9a-f]{64}) \|$", files, re.MULTILINE))


def test_vendored_files_match_their_record_and_htmx_is_2_0() -> None:
    recorded = _vendored()
    assert {"htmx.min.js", "uPlot.iife.min.js", "uPlot.min.css"} <= set(recorded)
    for name, digest in recorded.items():
        assert hashlib.sha256((VENDOR / name).read_bytes()).hexdigest() == digest, name
    on_disk = {p.name for p in VENDOR.iterdir()} - {"VENDORED.md"}
    assert on_disk == set(recorded), "a vendored file without a record (or a record without file)"
    packages = (VENDOR / "VENDORED.md").read_text()
    assert re.search(r"^\| htmx\.org \| 2\.0\.\d+ \|", packages, re.MULTILINE)
    assert re.search(r"^\| uplot \| 1\.\d+\.\d+ \|", packages, re.MULTILINE)


async def test_static_files_are_served_with_a_long_cache(client: httpx.AsyncClient) -> None:
    for path, kind in [
        ("/static/app.css", "text/css"),
        ("/static/app.js", "javascript"),
        ("/static/vendor/htmx.min.js", "javascript"),
        ("/static/vendor/uPlot.min.css", "text/css"),
    ]:
        response = await client.get(path)
        assert response.status_code == 200, path
        assert kind in response.headers["content-type"]
        assert response.headers["cache-control"] == CACHE_CONTROL
        assert response.headers["x-content-type-options"] == "nosniff"
    assert (await client.get("/static/vendor/htmx.min.js")).content == (
        VENDOR / "htmx.min.js"
    ).read_bytes()
    assert (await client.get("/static/absent.js")).status_code == 404
    assert (await client.get("/static/../app.py")).status_code == 404


async def test_asset_urls_change_when_the_file_does(
    client: httpx.AsyncClient, db_session: AsyncSession, settings: Settings
) -> None:
    """A year of caching is safe only because the link carries the content's fingerprint."""
    await sign_in(client, db_session, settings, Role.viewer)
    page = (await client.get("/")).text
    digest = hashlib.sha256((STATIC_DIR / "app.css").read_bytes()).hexdigest()[:12]
    assert f"/static/app.css?v={digest}" in page
