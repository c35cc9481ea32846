"""Requesting content from the browser, the page that follows it, revision diffs, and the
schedule form's options."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from finagency.accounts.permissions import Role
from finagency.content import service as content_service
from finagency.content.models import Content, ContentRequest
from finagency.publishing.models import Publication
from finagency.settings import Settings
from finagency.web.revision_diff import diff
from tests.web.support import make_channel, make_draft, read, sign_in

GOOD = {
    "type": "market_update",
    "symbols": "^GSPC, ^NSEI ^GSPC",
    "channels": ["x", "file"],
    "audience": "professional",
    "tone": "formal",
}


async def _requests(session: AsyncSession) -> int:
    return await session.scalar(select(func.count()).select_from(ContentRequest)) or 0


async def test_a_request_from_the_form_is_stored_and_followed_until_its_draft_exists(
    client: httpx.AsyncClient, db_session: AsyncSession, settings: Settings
) -> None:
    csrf = await sign_in(client, db_session, settings, Role.analyst)
    form = read((await client.get("/content/new?symbols=AAPL&type=earnings_preview")).text)
    symbols = next(e for e in form.all("input") if e.attrs.get("name") == "symbols")
    assert symbols.attrs["value"] == "AAPL"
    # Every control of the form has a label pointing at it.
    labelled = {e.attrs.get("for") for e in form.all("label")}
    for control in form.all("select") + [e for e in form.all("input") if e.attrs.get("id")]:
        assert control.attrs["id"] in labelled, control.attrs

    created = await client.post(
        "/content/new", data={**GOOD, "csrf_token": csrf}, follow_redirects=False
    )
    assert created.status_code == 303, created.text
    row = await db_session.scalar(select(ContentRequest).order_by(ContentRequest.id.desc()))
    assert row is not None
    assert created.headers["location"] == f"/content/requests/{row.id}"
    assert (row.symbols, row.channels, row.audience, row.tone, row.status) == (
        ["^GSPC", "^NSEI"],
        ["x", "file"],
        "professional",
        "formal",
        "pending",
    )

    waiting = await client.get(f"/content/requests/{row.id}")
    polled = read(waiting.text).all("section")
    assert any(s.attrs.get("hx-get") == f"/fragments/content/requests/{row.id}" for s in polled)
    assert "Waiting for a worker" in waiting.text
    fragment = await client.get(f"/fragments/content/requests/{row.id}")
    assert "hx-redirect" not in fragment.headers

    # Once a worker wrote it, the page and the poll both lead to the draft.
    draft = await make_draft(db_session, "Written\n\nThe index rose.", status="draft")
    row.status, row.content_id = "done", draft.id
    await db_session.commit()
    fragment = await client.get(f"/fragments/content/requests/{row.id}")
    assert fragment.headers["hx-redirect"] == f"/content/{draft.id}"
    page = await client.get(f"/content/requests/{row.id}", follow_redirects=False)
    assert page.status_code == 303
    assert page.headers["location"] == f"/content/{draft.id}"


@pytest.mark.parametrize(
    ("fields", "status", "message"),
    [
        ({"symbols": "^GSPC, <b>"}, 422, "Not a symbol"),
        ({"symbols": "NOPE"}, 404, "Unknown symbol"),
        ({"channels": []}, 422, "at least one channel"),
        ({"type": "poem"}, 422, "Unknown content type"),
        ({"type": "educational"}, 422, "needs a topic"),
        ({"tone": "shouty"}, 422, "Unknown tone"),
        ({"idea_id": "seven"}, 422, "not an idea number"),
        ({"type": "news_analysis", "idea_id": "999999"}, 404, "No research idea"),
    ],
)
async def test_bad_requests_show_the_form_again_and_store_nothing(
    client: httpx.AsyncClient,
    db_session: AsyncSession,
    settings: Settings,
    fields: dict[str, object],
    status: int,
    message: str,
) -> None:
    csrf = await sign_in(client, db_session, settings, Role.analyst)
    before = await _requests(db_session)
    response = await client.post("/content/new", data={**GOOD, **fields, "csrf_token": csrf})
    assert response.status_code == status, response.text
    (error,) = [e for e in read(response.text).all("p") if e.attrs.get("id") == "request-error"]
    assert message.lower() in response.text.lower()
    assert error.attrs.get("role") == "alert"
    assert await _requests(db_session) == before


async def test_a_viewer_and_a_forged_form_are_refused(
    client: httpx.AsyncClient, db_session: AsyncSession, settings: Settings
) -> None:
    csrf = await sign_in(client, db_session, settings, Role.viewer)
    assert (await client.get("/content/new")).status_code == 403
    listed = await client.get("/content")
    assert 'href="/content/new"' not in listed.text
    refused = await client.post("/content/new", data={**GOOD, "csrf_token": csrf})
    assert refused.status_code == 403
    client.cookies.clear()
    await sign_in(client, db_session, settings, Role.analyst)
    forged = await client.post("/content/new", data={**GOOD, "csrf_token": "not-the-token"})
    assert forged.status_code == 403
    assert await _requests(db_session) == 0


async def test_a_failed_request_can_be_tried_again_once(
    client: httpx.AsyncClient, db_session: AsyncSession, settings: Settings
) -> None:
    row = ContentRequest(
        type="market_update",
        symbols=["^GSPC"],
        channels=["x"],
        status="failed",
        error="no market snapshot yet",
        attempts=3,
    )
    db_session.add(row)
    await db_session.commit()
    csrf = await sign_in(client, db_session, settings, Role.analyst)
    page = await client.get(f"/content/requests/{row.id}")
    assert "no market snapshot yet" in page.text
    assert f'action="/content/requests/{row.id}/retry"' in page.text
    retried = await client.post(
        f"/content/requests/{row.id}/retry", data={"csrf_token": csrf}, follow_redirects=False
    )
    assert retried.status_code == 303
    await db_session.refresh(row)
    assert (row.status, row.error) == ("pending", None)
    again = await client.post(f"/content/requests/{row.id}/retry", data={"csrf_token": csrf})
    assert again.status_code == 409
    assert "only a failed one can be retried" in again.text
    missing = await client.get("/content/requests/987654")
    assert missing.status_code == 404


def test_the_diff_is_word_by_word_and_escaped() -> None:
    changes = diff(
        "The index will surely double <soon>.\n\nNot advice.",
        "The index may rise <soon>.\n\nNot advice.",
        1,
        2,
    )
    page = read(f"<div>{changes.html}</div>")
    assert [e.tag for e in page.elements[1:]] == ["del", "ins"]
    assert str(changes.html).startswith(
        "The index <del>will surely double</del><ins>may rise</ins>"
    )
    assert "&lt;soon&gt;" in changes.html
    assert (changes.deleted, changes.inserted) == (3, 2)
    assert diff("same", "same", 1, 2).unchanged


async def test_the_draft_page_shows_what_changed_and_compares_any_earlier_revision(
    client: httpx.AsyncClient, db_session: AsyncSession, settings: Settings
) -> None:
    draft = await make_draft(db_session, "Title\n\nThe index rose today.", status="draft")
    csrf = await sign_in(client, db_session, settings, Role.editor)
    first = await client.get(f"/content/{draft.id}")
    assert "This is the first revision." in first.text
    # As a browser sends a textarea: CRLF line breaks, stored as LF.
    for text in ("Title\r\n\r\nThe index rose sharply today.", "Title\n\nThe index fell today."):
        edited = await client.post(
            f"/content/{draft.id}/edit", data={"csrf_token": csrf, "text": text}
        )
        assert edited.status_code == 303
    texts = [r.text for r in await content_service.revisions(db_session, draft.id)]
    assert texts[1] == "Title\n\nThe index rose sharply today."
    page = await client.get(f"/content/{draft.id}")
    assert "Changes from revision 2 to 3" in page.text
    assert "<del>rose sharply</del><ins>fell</ins>" in page.text
    against_first = await client.get(f"/content/{draft.id}?compare=1")
    assert "Changes from revision 1 to 3" in against_first.text
    assert "<del>rose</del><ins>fell</ins>" in against_first.text
    unknown = await client.get(f"/content/{draft.id}?compare=3")
    assert unknown.status_code == 422
    assert "Revision 3 cannot be compared" in unknown.text
    assert "Changes from revision 2 to 3" in unknown.text  # the page still shows


async def test_schedule_options_priority_duplicates_and_simulated_data(
    client: httpx.AsyncClient, db_session: AsyncSession, settings: Settings
) -> None:
    text = "Steady\n\nThe index closed flat."
    renderings = {"x": {"posts": [text]}, "file": {"text": text}}
    draft = await make_draft(db_session, text, status="draft", renderings=renderings)
    content = await db_session.get(Content, draft.id)
    assert content is not None
    content.simulated = True
    x = await make_channel(db_session, "x")
    await db_session.commit()
    editor = await sign_in(client, db_session, settings, Role.editor)
    page = read((await client.get(f"/content/{draft.id}")).text)
    names = {e.attrs.get("name") for e in page.all("input")}
    assert {"priority", "force_duplicate"} <= names
    assert "allow_simulated" not in names  # editors never see the admin's option

    content.status, content.approved_revision = "approved", 1
    await db_session.commit()
    base = {"csrf_token": editor, "channel_ids": str(x.id), "timezone": "UTC"}
    too_high = await client.post(f"/content/{draft.id}/schedule", data={**base, "priority": "11"})
    assert too_high.status_code == 422
    assert "from -10 to 10" in too_high.text
    simulated = await client.post(f"/content/{draft.id}/schedule", data={**base, "priority": "3"})
    assert simulated.status_code == 409  # simulated data is not sent to X without an admin
    sneaked = await client.post(
        f"/content/{draft.id}/schedule", data={**base, "allow_simulated": "1"}
    )
    assert sneaked.status_code == 403
    assert await db_session.scalar(select(func.count()).select_from(Publication)) == 0

    client.cookies.clear()
    settings.require_admin_totp = False
    admin = await sign_in(client, db_session, settings, Role.admin)
    allowed = await client.post(
        f"/content/{draft.id}/schedule",
        data={**base, "csrf_token": admin, "priority": "3", "allow_simulated": "1"},
        follow_redirects=False,
    )
    assert allowed.status_code == 303, allowed.text
    (publication,) = await db_session.scalars(select(Publication))
    assert (publication.channel_id, publication.priority) == (x.id, 3)
