"""The draft page's action forms: CSRF, roles, the services' refusals shown on the page."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from finagency.accounts.permissions import Role
from finagency.compliance.profiles import US_DISCLAIMER
from finagency.content.models import Content
from finagency.publishing.models import Publication
from finagency.settings import Settings
from finagency.web.actions import scheduled_time
from tests.web.support import make_channel, make_draft, read, sign_in

TEXT = f"Markets steady\n\nThe index closed flat today.\n\n{US_DISCLAIMER}"
FILE_RENDERING = {"file": {"text": TEXT}, "x": {"posts": [TEXT]}}


async def _status(session: AsyncSession, content_id: int) -> str:
    content = await session.get(Content, content_id)
    assert content is not None
    await session.refresh(content)
    return content.status


async def _post(
    client: httpx.AsyncClient, path: str, csrf: str | None, **fields: str | list[str]
) -> httpx.Response:
    data: dict[str, str | list[str]] = dict(fields)
    if csrf is not None:
        data["csrf_token"] = csrf
    return await client.post(path, data=data, follow_redirects=False)


@pytest.mark.parametrize(
    ("action", "fields", "allowed", "refused", "before", "after"),
    [
        ("submit", {}, Role.analyst, Role.viewer, "draft", "in_review"),
        ("approve", {}, Role.editor, Role.analyst, "in_review", "approved"),
        ("reject", {"comment": "Too vague."}, Role.editor, Role.analyst, "in_review", "rejected"),
        (
            "override",
            {"reason": "Reviewed by legal today."},
            Role.admin,
            Role.editor,
            "in_review",
            "approved",
        ),
    ],
)
async def test_each_action_works_for_its_role_and_is_refused_below_it(
    client: httpx.AsyncClient,
    db_session: AsyncSession,
    settings: Settings,
    action: str,
    fields: dict[str, str],
    allowed: Role,
    refused: Role,
    before: str,
    after: str,
) -> None:
    draft = await make_draft(db_session, TEXT, status=before)
    path = f"/content/{draft.id}/{action}"
    csrf = await sign_in(client, db_session, settings, refused)
    page = (await client.get(f"/content/{draft.id}")).text
    assert f'action="{path}"' not in page
    response = await _post(client, path, csrf, **fields)
    assert response.status_code == 403
    assert await _status(db_session, draft.id) == before

    csrf = await sign_in(client, db_session, settings, allowed)
    page = (await client.get(f"/content/{draft.id}")).text
    assert f'action="{path}"' in page
    response = await _post(client, path, csrf, **fields)
    assert response.status_code == 303
    assert response.headers["location"].startswith(f"/content/{draft.id}?done=")
    assert await _status(db_session, draft.id) == after
    shown = await client.get(response.headers["location"])
    assert read(shown.text).all("p")  # the page renders with its notice
    assert 'id="action-notice"' in shown.text


async def test_a_missing_or_wrong_csrf_token_is_refused_and_changes_nothing(
    client: httpx.AsyncClient, db_session: AsyncSession, settings: Settings
) -> None:
    draft = await make_draft(db_session, TEXT, status="in_review")
    csrf = await sign_in(client, db_session, settings, Role.editor)
    for token in (None, "", csrf[:-1] + ("x" if csrf[-1] != "x" else "y")):
        for action, fields in (("approve", {}), ("edit", {"text": "Other\n\nText."})):
            response = await _post(client, f"/content/{draft.id}/{action}", token, **fields)
            assert response.status_code == 403
            assert "reload the page" in response.text
    assert await _status(db_session, draft.id) == "in_review"
    content = await db_session.get(Content, draft.id)
    assert content is not None
    assert content.current_revision == 1


async def test_wrong_state_and_bad_input_are_shown_on_the_draft_page(
    client: httpx.AsyncClient, db_session: AsyncSession, settings: Settings
) -> None:
    draft = await make_draft(db_session, TEXT, status="draft")
    csrf = await sign_in(client, db_session, settings, Role.editor)
    response = await _post(client, f"/content/{draft.id}/approve", csrf)
    assert response.status_code == 409
    assert "cannot be approved" in response.text
    assert 'id="action-error"' in response.text
    response = await _post(client, f"/content/{draft.id}/reject", csrf, comment="no")
    assert response.status_code == 422
    assert "comment needs 3 to 2000 characters" in response.text
    assert await _status(db_session, draft.id) == "draft"


async def test_self_approval_is_refused_with_the_message(
    client: httpx.AsyncClient, db_session: AsyncSession, settings: Settings
) -> None:
    settings.forbid_self_approval = True
    draft = await make_draft(db_session, TEXT, status="in_review")
    csrf = await sign_in(client, db_session, settings, Role.editor)
    edited = await _post(client, f"/content/{draft.id}/edit", csrf, text=TEXT + " Calm.")
    assert edited.status_code == 303
    response = await _post(client, f"/content/{draft.id}/approve", csrf)
    assert response.status_code == 403
    assert "someone else must approve it" in response.text
    assert await _status(db_session, draft.id) == "in_review"


async def test_edit_a_promise_in_then_out_approve_and_schedule_to_a_file_channel(
    client: httpx.AsyncClient, db_session: AsyncSession, settings: Settings
) -> None:
    settings.forbid_self_approval = True
    draft = await make_draft(db_session, TEXT, status="in_review", renderings=FILE_RENDERING)
    channel = await make_channel(db_session, "file")
    await db_session.commit()
    writer = await sign_in(client, db_session, settings, Role.editor)

    promised = TEXT.replace("flat today.", "flat today. Returns are guaranteed.")
    response = await _post(client, f"/content/{draft.id}/edit", writer, text=promised)
    assert response.status_code == 303
    shown = await client.get(response.headers["location"])
    marks = [
        m for m in read(shown.text).all("mark") if "finding-block" in (m.attrs.get("class") or "")
    ]
    assert any("guaranteed" in m.text.lower() for m in marks)
    assert "Saved as a new revision" in shown.text

    approver = await sign_in(client, db_session, settings, Role.editor)
    refused = await _post(client, f"/content/{draft.id}/approve", approver)
    assert refused.status_code == 409
    assert "blocking finding" in refused.text
    assert await _status(db_session, draft.id) == "in_review"

    # The writer edits the promise away; another editor approves, then schedules.
    client.cookies.clear()
    writer = await sign_in(client, db_session, settings, Role.editor)
    assert (await _post(client, f"/content/{draft.id}/edit", writer, text=TEXT)).status_code == 303
    approver = await sign_in(client, db_session, settings, Role.editor)
    approved = await _post(client, f"/content/{draft.id}/approve", approver)
    assert approved.status_code == 303, [e.text for e in read(approved.text).all("mark")]
    page = (await client.get(f"/content/{draft.id}")).text
    assert f'name="channel_ids" value="{channel.id}"' in page
    response = await _post(
        client,
        f"/content/{draft.id}/schedule",
        approver,
        channel_ids=[str(channel.id)],
        scheduled_at="2030-01-02T09:30",
        timezone="Asia/Kolkata",
    )
    assert response.status_code == 303
    rows = list(
        await db_session.scalars(select(Publication).where(Publication.content_id == draft.id))
    )
    assert [(p.channel_id, p.status) for p in rows] == [(channel.id, "scheduled")]
    assert await _status(db_session, draft.id) == "scheduled"
    listed = (await client.get(response.headers["location"])).text
    assert f'id="publication-{rows[0].id}"' in listed
    assert channel.name in listed


async def test_schedule_input_is_checked_and_shown(
    client: httpx.AsyncClient, db_session: AsyncSession, settings: Settings
) -> None:
    draft = await make_draft(db_session, TEXT, status="approved", renderings=FILE_RENDERING)
    csrf = await sign_in(client, db_session, settings, Role.editor)
    response = await _post(client, f"/content/{draft.id}/schedule", csrf, timezone="UTC")
    assert response.status_code == 422
    assert "Choose at least one channel" in response.text
    far = await _post(
        client,
        f"/content/{draft.id}/schedule",
        csrf,
        channel_ids="1",
        scheduled_at="9999-12-31T23:59",
        timezone="America/Los_Angeles",
    )
    assert far.status_code == 422  # converting it to UTC would overflow
    assert "between the years 2000 and 2200" in far.text
    at = scheduled_time("2030-01-02T09:30", "Asia/Kolkata")
    assert at.utcoffset() is not None
    assert at.isoformat() == "2030-01-02T09:30:00+05:30"
