"""The Schedule page: the timeline and table of publications, filters, the polled fragment, the
publication's actions (cancel, retry, reschedule, resolve) and the pause switch."""

from __future__ import annotations

import html
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from finagency.accounts.models import AuditEvent
from finagency.accounts.permissions import Role
from finagency.content.models import Content
from finagency.publishing import state
from finagency.publishing.models import Attempt, Channel, Publication
from finagency.settings import Settings
from finagency.web.schedule_timeline import STATUS_LABELS, _lanes_of, layout
from finagency.web.schedule_view import Asked, check
from tests.web.support import PageReader, make_channel, make_draft, read, sign_in
from tests.web.test_pages import _unlabelled_controls

NOW = datetime.now(UTC)


@pytest.fixture(autouse=True)
def _fresh_now() -> None:
    """Each test's own "now": the suite can run tests many minutes after importing this file,
    and the window's edges (10 minutes ahead, 30 minutes ago) must hold against the real now."""
    global NOW
    NOW = datetime.now(UTC)


async def _content(session: AsyncSession, title: str) -> Content:
    """Approved (revision 1) and scheduled, as content with publications is."""
    content = await make_draft(session, f"{title}\n\nThe index closed flat.", status="scheduled")
    content.approved_revision = 1
    await session.flush()
    return content


async def _publication(
    session: AsyncSession,
    channel: Channel,
    status: str,
    at: datetime,
    title: str | None = None,
    **fields: object,
) -> Publication:
    content = await _content(session, title or f"Post {status} {uuid.uuid4().hex[:4]}")
    publication = Publication(
        content_id=content.id,
        revision_number=1,
        channel_id=channel.id,
        idempotency_key=uuid.uuid4().hex,
        status=status,
        scheduled_at=at,
        requested_at=at,
        due_at=at,
        **fields,
    )
    session.add(publication)
    await session.commit()
    return publication


@dataclass
class Board:
    files: Channel
    x: Channel
    published: Publication
    scheduled: Publication
    failed: Publication
    unknown: Publication
    retry: Publication
    cancelled: Publication
    later: Publication  # 20 days ahead: outside the default week


async def _board(session: AsyncSession) -> Board:
    files = await make_channel(session, "file")
    x = await make_channel(session, "x")
    return Board(
        files=files,
        x=x,
        published=await _publication(
            session,
            files,
            "published",
            NOW - timedelta(hours=3),
            "Markets steady",
            published_at=NOW - timedelta(hours=2),
            attempts=1,
            platform_url="https://example.com/post/1",
        ),
        scheduled=await _publication(session, files, "scheduled", NOW + timedelta(hours=3)),
        failed=await _publication(
            session, x, "failed", NOW - timedelta(hours=1), attempts=5, last_error="HTTP 503"
        ),
        unknown=await _publication(session, x, "unknown", NOW - timedelta(minutes=30)),
        retry=await _publication(session, x, "retry", NOW + timedelta(minutes=10), attempts=2),
        cancelled=await _publication(session, files, "cancelled", NOW + timedelta(hours=30)),
        later=await _publication(session, files, "scheduled", NOW + timedelta(days=20)),
    )


def _markers(page: PageReader) -> dict[int, tuple[str, str, float]]:
    """Each timeline marker: publication id → (status class, link, x)."""
    found = {}
    elements = page.elements
    for index, element in enumerate(elements):
        ident = element.attrs.get("id") or ""
        if element.tag == "a" and ident.startswith("marker-"):
            group = next(e for e in elements[index:] if e.tag == "g")
            x = float(re.findall(r"[-\d.]+", group.attrs["transform"] or "")[0])
            found[int(ident.removeprefix("marker-"))] = (
                element.attrs["class"] or "",
                element.attrs["href"] or "",
                x,
            )
    return found


def _rows(page: PageReader) -> dict[int, str]:
    return {
        int((e.attrs["id"] or "").removeprefix("publication-")): e.attrs["data-status"] or ""
        for e in page.all("tr")
        if (e.attrs.get("id") or "").startswith("publication-")
    }


async def _status_of(session: AsyncSession, publication: Publication) -> str:
    await session.refresh(publication)
    return publication.status


async def _post(
    client: httpx.AsyncClient, path: str, csrf: str | None, **fields: str
) -> httpx.Response:
    data = dict(fields)
    if csrf is not None:
        data["csrf_token"] = csrf
    return await client.post(path, data=data, follow_redirects=False)


# --- what the page shows -----------------------------------------------------------------------


async def test_the_timeline_and_the_table_show_each_publication_of_the_window(
    client: httpx.AsyncClient, db_session: AsyncSession, settings: Settings
) -> None:
    board = await _board(db_session)
    await sign_in(client, db_session, settings, Role.viewer)
    response = await client.get("/schedule")
    assert response.status_code == 200
    page = read(response.text)
    markers = _markers(page)
    shown = [
        board.published,
        board.scheduled,
        board.failed,
        board.unknown,
        board.retry,
        board.cancelled,
    ]
    assert set(markers) == {p.id for p in shown}  # the one 20 days ahead is outside the week
    assert _rows(page) == {p.id: p.status for p in shown}
    for publication in shown:
        css, href, _ = markers[publication.id]
        assert f"mark-{publication.status}" in css.split()
        assert href == f"/content/{publication.content_id}"
    # Status in words too: in each marker's tooltip and in the legend.
    link = next(a for a in page.all("a") if a.attrs.get("id") == f"marker-{board.published.id}")
    assert "Markets steady" in link.text
    assert STATUS_LABELS["published"] in link.text
    assert link.text.startswith(f"#{board.published.id} Markets steady")
    for label in STATUS_LABELS.values():
        assert label in response.text

    # x follows time: the published one left of now, the scheduled one right of it.
    now_line = next(e for e in page.all("line") if e.attrs.get("id") == "now-line")
    now_x = float(now_line.attrs["x1"] or 0)
    assert markers[board.published.id][2] < markers[board.failed.id][2] < now_x
    assert now_x < markers[board.retry.id][2] < markers[board.scheduled.id][2]
    assert markers[board.scheduled.id][2] < markers[board.cancelled.id][2]

    # One row per channel, the failed one's error, the post's link; no actions for a viewer.
    assert board.files.name in response.text
    assert board.x.name in response.text
    assert "HTTP 503" in response.text
    assert any(a.attrs.get("href") == "https://example.com/post/1" for a in page.all("a"))
    assert "/cancel" not in response.text
    assert "/retry" not in response.text
    assert re.search(r'data-figure="needs_attention">2<', response.text)
    assert f'id="attention-{board.failed.id}"' in response.text
    assert f'id="attention-{board.unknown.id}"' in response.text
    assert 'id="paused-banner"' not in response.text


async def test_an_editor_gets_the_actions_each_status_allows(
    client: httpx.AsyncClient, db_session: AsyncSession, settings: Settings
) -> None:
    board = await _board(db_session)
    await sign_in(client, db_session, settings, Role.editor)
    text = (await client.get("/schedule")).text
    for publication in (board.scheduled, board.retry):
        assert f'action="/schedule/{publication.id}/cancel"' in text
    assert f'action="/schedule/{board.failed.id}/retry"' in text
    for publication in (board.published, board.failed, board.unknown, board.cancelled):
        assert f'action="/schedule/{publication.id}/cancel"' not in text
    assert f'action="/schedule/{board.published.id}/retry"' not in text
    # Forms one types into are on the publication's own page, outside the polled region.
    live = text.split('id="schedule-live"', 1)[1]
    assert "<textarea" not in live
    assert 'type="datetime-local"' not in live
    assert 'action="/schedule/pause"' not in text  # an editor has no switch


async def test_filters_narrow_the_publications_and_windows_move(
    client: httpx.AsyncClient, db_session: AsyncSession, settings: Settings
) -> None:
    board = await _board(db_session)
    await sign_in(client, db_session, settings, Role.viewer)

    page = read((await client.get("/schedule?status=failed&status=unknown")).text)
    assert _rows(page) == {board.failed.id: "failed", board.unknown.id: "unknown"}

    response = await client.get(f"/schedule?channel={board.files.id}")
    rows = _rows(read(response.text))
    assert set(rows) == {board.published.id, board.scheduled.id, board.cancelled.id}
    assert board.x.name not in response.text.split('id="schedule-live"', 1)[1]

    page = read((await client.get("/schedule?window=day")).text)
    assert board.cancelled.id not in _rows(page)  # a day ahead and then some
    assert board.scheduled.id in _rows(page)

    page = read((await client.get("/schedule?window=month")).text)
    assert board.later.id in _rows(page)

    start = (NOW + timedelta(days=19)).strftime("%Y-%m-%dT%H:%M")
    end = (NOW + timedelta(days=21)).strftime("%Y-%m-%d")
    page = read((await client.get(f"/schedule?from={start}&to={end}")).text)
    assert _rows(page) == {board.later.id: "scheduled"}
    later = next(a for a in page.all("a") if a.attrs.get("rel") == "next")
    assert (later.attrs["href"] or "").startswith("/schedule?from=")

    # The polled region keeps the filters.
    live = next(e for e in page.all("div") if e.attrs.get("id") == "schedule-live")
    assert f"from={start.replace(':', '%3A')}" in (live.attrs["hx-get"] or "")
    assert live.attrs["hx-trigger"] == "every 10s"


async def test_the_table_lists_fifty_at_a_time_and_the_timeline_draws_them_all(
    client: httpx.AsyncClient, db_session: AsyncSession, settings: Settings
) -> None:
    files = await make_channel(db_session, "file")
    content = await _content(db_session, "Many posts")
    # One content, a revision number per publication: the table joins titles by revision.
    made = [
        Publication(
            content_id=content.id,
            revision_number=number,
            channel_id=files.id,
            idempotency_key=uuid.uuid4().hex,
            status="scheduled",
            scheduled_at=NOW + timedelta(minutes=number),
            requested_at=NOW,
            due_at=NOW + timedelta(minutes=number),
        )
        for number in range(1, 121)
    ]
    db_session.add_all(made)
    await db_session.commit()
    in_order = [p.id for p in made]
    await sign_in(client, db_session, settings, Role.viewer)

    response = await client.get(f"/schedule?channel={files.id}")
    assert "(1–50 of 120)" in response.text
    first = read(response.text)
    assert list(_rows(first)) == in_order[:50]
    assert set(_markers(first)) == set(in_order)
    assert not any(a.attrs.get("id") == "table-previous" for a in first.all("a"))
    following = next(a for a in first.all("a") if a.attrs.get("id") == "table-next")
    assert following.text.strip() == "Next 50"

    second = read((await client.get(html.unescape(following.attrs["href"] or ""))).text)
    assert list(_rows(second)) == in_order[50:100]
    last_link = next(a for a in second.all("a") if a.attrs.get("id") == "table-next")
    assert last_link.text.strip() == "Next 20"
    # The polled region asks for the same page of the table.
    live = next(e for e in second.all("div") if e.attrs.get("id") == "schedule-live")
    assert "page=2" in (live.attrs["hx-get"] or "")

    third = read((await client.get(html.unescape(last_link.attrs["href"] or ""))).text)
    assert list(_rows(third)) == in_order[100:]
    assert not any(a.attrs.get("id") == "table-next" for a in third.all("a"))
    back = next(a for a in third.all("a") if a.attrs.get("id") == "table-previous")
    assert "page=2" in (back.attrs["href"] or "")

    beyond = await client.get(f"/schedule?channel={files.id}&page=4")
    assert beyond.status_code == 200
    assert _rows(read(beyond.text)) == {}
    assert "This page of the table is empty" in beyond.text


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("window=year", "Unknown window 'year'"),
        ("status=lost", "Unknown status 'lost'"),
        ("channel=abc", "Unknown channel 'abc'"),
        ("channel=987654", "Unknown channel '987654'"),
        ("from=yesterday&to=2030-01-01", "From 'yesterday' is not a date"),
        ("from=2030-01-01", "Give both ends of the period"),
        ("from=2030-01-02&to=2030-01-01", "must end after it starts"),
        ("from=2030-01-01&to=2030-12-01", "at most 93 days"),
        ("from=9999-12-01&to=9999-12-31", "between the years 2000 and 2200"),
        ("page=0", "The table's page must be a whole number from 1 to 4"),
        ("page=2x", "The table's page must be a whole number from 1 to 4"),
        ("page=5", "The table's page must be a whole number from 1 to 4"),
    ],
)
async def test_bad_filters_get_a_422_with_the_reason(
    client: httpx.AsyncClient,
    db_session: AsyncSession,
    settings: Settings,
    query: str,
    message: str,
) -> None:
    await sign_in(client, db_session, settings, Role.viewer)
    response = await client.get(f"/schedule?{query}")
    assert response.status_code == 422
    assert message in html.unescape(response.text)
    assert 'id="schedule-live"' not in response.text
    fragment = await client.get(f"/fragments/schedule?{query}", headers={"HX-Request": "true"})
    assert fragment.status_code == 422
    assert message in html.unescape(fragment.text)


def test_the_filters_read_from_a_form_keep_only_known_keys() -> None:
    asked = Asked.from_query("next=//evil.example&window=day&status=failed&status=failed&x=1")
    assert asked.query() == "window=day&status=failed"
    filters, problems = check(Asked(window="day"), [], NOW)
    assert problems == []
    assert filters.end - filters.start == timedelta(hours=48)


def test_the_timeline_ticks_on_boundaries_and_stacks_close_markers() -> None:
    start = datetime(2030, 1, 6, 18, 30, tzinfo=UTC)  # a Sunday evening
    week = layout([], [], start, start + timedelta(days=8), start + timedelta(days=1))
    assert [t.label for t in week.ticks][:2] == ["Mon 07 Jan", "Tue 08 Jan"]
    assert week.ticks[0].x > week.left
    assert week.now_x == round(week.left + (week.right - week.left) / 8, 1)
    day = layout([], [], start, start + timedelta(hours=48), start - timedelta(hours=1))
    assert [t.label for t in day.ticks][:3] == ["Mon 07 Jan", "06:00", "12:00"]
    assert day.now_x is None  # now is outside the window: no line
    # Close markers go one above the other; four lanes at most, then the one that ended first.
    assert _lanes_of([0, 5, 30, 31, 32, 33, 34]) == [0, 1, 0, 1, 2, 3, 0]


# --- live updates ------------------------------------------------------------------------------


async def test_the_fragment_is_guarded_like_the_page(
    client: httpx.AsyncClient, db_session: AsyncSession, settings: Settings
) -> None:
    response = await client.get("/fragments/schedule", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/login"
    polled = await client.get("/fragments/schedule", headers={"HX-Request": "true"})
    assert polled.status_code == 401
    assert polled.headers["hx-redirect"] == "/login"
    response = await client.get("/schedule/1", follow_redirects=False)
    assert response.headers["location"] == "/login"


async def test_the_fragment_answers_204_until_something_changes(
    client: httpx.AsyncClient, db_session: AsyncSession, settings: Settings
) -> None:
    board = await _board(db_session)
    await sign_in(client, db_session, settings, Role.viewer)
    page = read((await client.get("/schedule?status=scheduled&status=cancelled")).text)
    poll = next(e for e in page.all("div") if e.attrs.get("id") == "schedule-live")
    url = poll.attrs["hx-get"] or ""
    assert url.startswith("/fragments/schedule?status=scheduled&status=cancelled&seen=")

    unchanged = await client.get(url, headers={"HX-Request": "true"})
    if unchanged.status_code == 200:  # the minute turned between the two requests
        fresh = read(unchanged.text)
        url = (
            next(e for e in fresh.all("div") if e.attrs.get("id") == "schedule-live").attrs[
                "hx-get"
            ]
            or ""
        )
        unchanged = await client.get(url, headers={"HX-Request": "true"})
    assert unchanged.status_code == 204
    assert unchanged.text == ""

    board.scheduled.status = "cancelled"
    await db_session.commit()
    changed = await client.get(url, headers={"HX-Request": "true"})
    assert changed.status_code == 200
    fragment = read(changed.text)
    assert _rows(fragment)[board.scheduled.id] == "cancelled"
    status = next(e for e in fragment.all("div") if e.attrs.get("id") == "schedule-status")
    assert status.attrs["hx-swap-oob"] == "true"
    assert "<html" not in changed.text  # a fragment, not a page


# --- the actions -------------------------------------------------------------------------------


async def test_cancel_goes_back_to_the_schedule_with_its_filters_and_a_notice(
    client: httpx.AsyncClient, db_session: AsyncSession, settings: Settings
) -> None:
    board = await _board(db_session)
    csrf = await sign_in(client, db_session, settings, Role.editor)
    back = "window=day&status=scheduled&next=//evil.example"
    response = await _post(client, f"/schedule/{board.scheduled.id}/cancel", csrf, back=back)
    assert response.status_code == 303
    assert response.headers["location"] == (
        f"/schedule?window=day&status=scheduled&done=cancelled#publication-{board.scheduled.id}"
    )
    assert await _status_of(db_session, board.scheduled) == "cancelled"
    shown = await client.get(response.headers["location"])
    assert 'id="action-notice"' in shown.text
    assert "Cancelled: it will not go out" in shown.text
    events = await db_session.scalars(
        select(AuditEvent.action).where(AuditEvent.target_id == str(board.scheduled.id))
    )
    assert "publication_cancelled" in list(events)


async def test_refused_actions_change_nothing(
    client: httpx.AsyncClient, db_session: AsyncSession, settings: Settings
) -> None:
    board = await _board(db_session)
    csrf = await sign_in(client, db_session, settings, Role.viewer)
    for path in (f"/schedule/{board.scheduled.id}/cancel", f"/schedule/{board.failed.id}/retry"):
        response = await _post(client, path, csrf)
        assert response.status_code == 403
        assert "does not allow this page (publish)" in response.text

    csrf = await sign_in(client, db_session, settings, Role.editor)
    for token in (None, "", "not-the-token"):
        response = await _post(client, f"/schedule/{board.scheduled.id}/cancel", token)
        assert response.status_code == 403
        assert "reload the page" in response.text

    # Wrong state: the schedule again, with the service's message and its status.
    response = await _post(client, f"/schedule/{board.published.id}/cancel", csrf)
    assert response.status_code == 409
    assert f"Publication {board.published.id} is published: it cannot be cancelled" in (
        response.text
    )
    assert 'id="action-error"' in response.text
    assert 'id="schedule-live"' in response.text
    response = await _post(client, f"/schedule/{board.scheduled.id}/retry", csrf)
    assert response.status_code == 409
    assert "only a failed one can" in response.text
    # From the publication's page, its page again.
    response = await _post(
        client, f"/schedule/{board.failed.id}/resolve", csrf, outcome="published", note="Seen it."
    )
    assert response.status_code == 409
    assert "only an unknown one can" in response.text
    assert f"Publication #{board.failed.id}" in response.text

    for path in ("/schedule/987654/cancel", "/schedule/abc/retry"):
        response = await _post(client, path, csrf)
        assert response.status_code == 404
        assert "No publication" in response.text

    expected = {
        board.scheduled: "scheduled",
        board.failed: "failed",
        board.published: "published",
    }
    for publication, status in expected.items():
        assert await _status_of(db_session, publication) == status


async def test_retry_gives_a_failed_publication_a_fresh_round(
    client: httpx.AsyncClient, db_session: AsyncSession, settings: Settings
) -> None:
    board = await _board(db_session)
    csrf = await sign_in(client, db_session, settings, Role.editor)
    response = await _post(client, f"/schedule/{board.failed.id}/retry", csrf, back="window=day")
    assert response.status_code == 303
    assert response.headers["location"].startswith("/schedule?window=day&done=retried")
    assert await _status_of(db_session, board.failed) == "retry"
    assert board.failed.attempts_before_retry == 5


async def test_reschedule_reads_the_time_in_the_chosen_zone(
    client: httpx.AsyncClient, db_session: AsyncSession, settings: Settings
) -> None:
    board = await _board(db_session)
    csrf = await sign_in(client, db_session, settings, Role.editor)
    path = f"/schedule/{board.scheduled.id}/reschedule"
    page = (await client.get(f"/schedule/{board.scheduled.id}?window=day")).text
    assert f'action="{path}"' in page
    assert not _unlabelled_controls(page)
    before = board.scheduled.scheduled_at

    for fields, message in (
        ({"scheduled_at": "next tuesday", "timezone": "UTC"}, "is not a date and time"),
        ({"scheduled_at": "2030-01-02T09:30", "timezone": "Mars/Olympus"}, "Unknown time zone"),
        (
            {"scheduled_at": "9999-12-31T23:59", "timezone": "America/Los_Angeles"},
            "between the years 2000 and 2200",
        ),
    ):
        response = await _post(client, path, csrf, back="window=day", **fields)
        assert response.status_code == 422
        assert message in response.text
        assert fields["scheduled_at"] in response.text  # what was typed is kept
        await db_session.refresh(board.scheduled)
        assert board.scheduled.scheduled_at == before

    response = await _post(
        client,
        path,
        csrf,
        back="window=day",
        scheduled_at="2030-01-02T09:30",
        timezone="Asia/Kolkata",
    )
    assert response.status_code == 303
    assert "done=rescheduled" in response.headers["location"]
    await db_session.refresh(board.scheduled)
    assert board.scheduled.scheduled_at == datetime(2030, 1, 2, 4, 0, tzinfo=UTC)
    assert board.scheduled.status == "scheduled"

    # A cancelled one can be rescheduled; a published one cannot.
    response = await _post(client, f"/schedule/{board.cancelled.id}/reschedule", csrf)
    assert response.status_code == 303
    assert await _status_of(db_session, board.cancelled) == "scheduled"
    response = await _post(client, f"/schedule/{board.published.id}/reschedule", csrf)
    assert response.status_code == 409
    assert "cannot be rescheduled" in response.text


async def test_resolve_says_what_became_of_an_unknown_send(
    client: httpx.AsyncClient, db_session: AsyncSession, settings: Settings
) -> None:
    board = await _board(db_session)
    other = await _publication(db_session, board.files, "unknown", NOW - timedelta(hours=5))
    csrf = await sign_in(client, db_session, settings, Role.editor)
    path = f"/schedule/{board.unknown.id}/resolve"
    page = (await client.get(f"/schedule/{board.unknown.id}")).text
    assert f'action="{path}"' in page
    assert not _unlabelled_controls(page)

    for fields, message in (
        ({"note": "Checked the feed."}, "Say what became of it"),
        ({"outcome": "maybe", "note": "Checked the feed."}, "Say what became of it"),
        ({"outcome": "published", "note": "ok"}, "The note needs 3 to 2000 characters"),
        (
            {"outcome": "published", "note": "On the feed.", "post_url": "javascript:alert(1)"},
            "must be an http(s) URL",
        ),
    ):
        response = await _post(client, path, csrf, **fields)
        assert response.status_code == 422, fields
        assert message in response.text
        assert await _status_of(db_session, board.unknown) == "unknown"

    response = await _post(
        client,
        path,
        csrf,
        outcome="published",
        note="It is on the channel at 14:02.",
        post_url="https://x.com/finagency/status/1",
    )
    assert response.status_code == 303
    assert "done=resolved" in response.headers["location"]
    await db_session.refresh(board.unknown)
    assert board.unknown.status == "published"
    assert board.unknown.platform_url == "https://x.com/finagency/status/1"
    assert board.unknown.resolution == "It is on the channel at 14:02."

    response = await _post(
        client, f"/schedule/{other.id}/resolve", csrf, outcome="resend", note="Not on the feed."
    )
    assert response.status_code == 303
    assert await _status_of(db_session, other) == "retry"


# --- the publication's page --------------------------------------------------------------------


async def test_the_publication_page_lists_its_attempts(
    client: httpx.AsyncClient, db_session: AsyncSession, settings: Settings
) -> None:
    board = await _board(db_session)
    db_session.add_all(
        Attempt(
            publication_id=board.failed.id,
            number=n,
            started_at=NOW - timedelta(minutes=60 - n),
            finished_at=NOW - timedelta(minutes=59 - n),
            outcome="retry" if n < 5 else "failed",
            status_code=503,
            error=f"Service unavailable (try {n})",
        )
        for n in range(1, 6)
    )
    await db_session.commit()
    await sign_in(client, db_session, settings, Role.viewer)
    response = await client.get(f"/schedule/{board.failed.id}?status=failed&bad=1")
    assert response.status_code == 200
    page = read(response.text)
    attempts = [e for e in page.all("tr") if (e.attrs.get("id") or "").startswith("attempt-")]
    assert len(attempts) == 5
    assert "Service unavailable (try 5)" in response.text
    crumbs = [a for a in page.all("a") if a.text == "Schedule" and not a.attrs.get("aria-current")]
    assert [a.attrs["href"] for a in crumbs] == ["/schedule?status=failed"]
    assert "<form" not in response.text.split("</header>", 1)[1]  # a viewer acts on nothing

    for missing in ("987654", "abc"):
        response = await client.get(f"/schedule/{missing}")
        assert response.status_code == 404
        assert "No publication" in response.text


# --- the pause switch --------------------------------------------------------------------------


async def _paused(session: AsyncSession) -> dict[str, object]:
    session.expire_all()
    return await state.status(session)


async def test_only_admins_pause_and_resume_and_everyone_sees_the_banner(
    client: httpx.AsyncClient, db_session: AsyncSession, settings: Settings
) -> None:
    csrf = await sign_in(client, db_session, settings, Role.editor)
    response = await _post(client, "/schedule/pause", csrf, reason="Market halt")
    assert response.status_code == 403
    assert (await _paused(db_session))["paused"] is False

    csrf = await sign_in(client, db_session, settings, Role.admin)
    page = (await client.get("/schedule")).text
    assert 'action="/schedule/pause"' in page
    response = await _post(client, "/schedule/pause", None, reason="Market halt")
    assert response.status_code == 403
    response = await _post(client, "/schedule/pause", csrf, reason="x" * 501)
    assert response.status_code == 422
    assert "at most 500 characters" in response.text
    assert (await _paused(db_session))["paused"] is False

    response = await _post(
        client, "/schedule/pause", csrf, reason="Market halt", back="status=failed"
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/schedule?status=failed&done=paused"
    current = await _paused(db_session)
    assert current["paused"] is True
    assert current["reason"] == "Market halt"
    actions = list(await db_session.scalars(select(AuditEvent.action)))
    assert "publishing_paused" in actions
    page = (await client.get("/schedule")).text
    assert 'action="/schedule/resume"' in page

    await sign_in(client, db_session, settings, Role.viewer)
    page = (await client.get("/schedule")).text
    assert 'id="paused-banner"' in page
    assert "Market halt" in page
    assert 'action="/schedule/resume"' not in page

    csrf = await sign_in(client, db_session, settings, Role.admin)
    response = await _post(client, "/schedule/resume", csrf)
    assert response.status_code == 303
    assert (await _paused(db_session))["paused"] is False
    assert 'id="paused-banner"' not in (await client.get("/schedule")).text


async def test_a_published_post_is_retracted_with_a_reason_once(
    client: httpx.AsyncClient, db_session: AsyncSession, settings: Settings
) -> None:
    board = await _board(db_session)
    path = f"/schedule/{board.published.id}/retract"
    viewer = await sign_in(client, db_session, settings, Role.viewer)
    assert f'action="{path}"' not in (await client.get(f"/schedule/{board.published.id}")).text
    assert (await _post(client, path, viewer, reason="A wrong figure.")).status_code == 403

    client.cookies.clear()
    csrf = await sign_in(client, db_session, settings, Role.editor)
    page = (await client.get(f"/schedule/{board.published.id}")).text
    assert f'action="{path}"' in page
    assert not _unlabelled_controls(page)
    short = await _post(client, path, csrf, reason="no")
    assert short.status_code == 422
    assert "The reason needs 3 to 2000 characters" in short.text
    await db_session.refresh(board.published)
    assert board.published.retracted_at is None

    # The file channel deletes by writing a retraction line beside the original.
    done = await _post(client, path, csrf, reason="The close was misquoted.")
    assert done.status_code == 303, done.text
    assert "done=deleted" in done.headers["location"]
    await db_session.refresh(board.published)
    assert board.published.retracted_at is not None
    outbox = settings.data_dir / "outbox" / f"{board.files.name}.jsonl"
    assert f'"retraction":{board.published.id}' in outbox.read_text()
    shown = (await client.get(f"/schedule/{board.published.id}")).text
    assert f'action="{path}"' not in shown  # once only
    again = await _post(client, path, csrf, reason="The close was misquoted.")
    assert again.status_code == 409
