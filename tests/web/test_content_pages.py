"""The content list (filters, keyset pages) and the draft view (findings marked in place)."""

from __future__ import annotations

from types import SimpleNamespace

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from finagency.accounts.permissions import Role
from finagency.settings import Settings
from finagency.web.highlight import highlighted, marks_of
from tests.web.support import make_draft, read, sign_in

TEXT = "Stocks <b>soar</b>\n\nThe index will surely double & never fall.\n\nNot advice."


def _finding(rule: str, start: int, end: int, severity: str = "block") -> SimpleNamespace:
    return SimpleNamespace(
        rule=rule, severity=severity, message=f"{rule} says so", start=start, end=end
    )


def test_a_mark_wraps_exactly_its_span_and_every_piece_is_escaped() -> None:
    start = TEXT.index("will surely double")
    end = start + len("will surely double")
    marks = marks_of([_finding("promissory", start, end)], len(TEXT))
    html = str(highlighted(TEXT, marks))
    page = read(f"<div>{html}</div>")
    (mark,) = page.all("mark")
    assert mark.text == "will surely double"
    assert mark.attrs["aria-describedby"] == "finding-1"
    assert mark.attrs["title"] == "promissory: promissory says so"
    assert "&lt;b&gt;soar&lt;/b&gt;" in html
    assert "<b>" not in html
    assert "double &amp; never" not in html  # the ampersand is outside the mark, escaped
    assert "&amp; never fall" in html


def test_overlapping_and_missing_findings() -> None:
    text = "abcdefghij"
    marks = marks_of(
        [
            _finding("one", 2, 6),
            _finding("two", 4, 8, "warn"),
            _finding("gone", 10, 10),
            _finding("wild", -5, 99),
        ],
        len(text),
    )
    page = read(f"<div>{highlighted(text, marks)}</div>")
    pieces = [(m.text, m.attrs["aria-describedby"]) for m in page.all("mark")]
    assert pieces[:5] == [
        ("ab", "finding-4"),
        ("cd", "finding-1 finding-4"),
        ("ef", "finding-1 finding-2 finding-4"),
        ("gh", "finding-2 finding-4"),
        ("ij", "finding-4"),
    ]
    assert pieces[5] == ("(missing here)", "finding-3")
    ids = [m.attrs.get("id") for m in page.all("mark") if m.attrs.get("id")]
    assert ids == ["mark-4", "mark-1", "mark-2", "mark-3"]  # one anchor per finding


async def test_the_draft_view_marks_findings_and_shows_script_as_text(
    client: httpx.AsyncClient, db_session: AsyncSession, settings: Settings
) -> None:
    text = 'Alert: <script>alert("x")</script>\n\nPrices will surely rise.\n\nNot advice.'
    start = text.index("will surely rise")
    draft = await make_draft(
        db_session,
        text,
        [
            ("promissory", "block", "Promises <a> return", start, start + len("will surely rise")),
            ("disclaimer", "warn", "Disclaimer is short", len(text), len(text)),
        ],
        renderings={
            "x": {"posts": ["Alert 1/2", "Prices 2/2"]},
            "telegram": {
                "text": "*Alert\\: \\<script\\>*\n\nPrices\\.\n\n_Not advice\\._",
                "parse_mode": "MarkdownV2",
            },
            "email": {
                "subject": "Alert <script>",
                "text": "Alert\n\nPrices.",
                "html": "<h1>x</h1>",
            },
            "linkedin": {"error": "linkedin: 4000 characters, the limit is 3000"},
        },
    )
    await sign_in(client, db_session, settings, Role.viewer)
    response = await client.get(f"/content/{draft.id}")
    assert response.status_code == 200
    page = read(response.text)
    assert all(e.attrs.get("src") for e in page.all("script"))  # no script from the draft
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in response.text
    marks = page.all("mark")
    assert marks[0].text == "will surely rise"
    assert marks[0].attrs["aria-describedby"] == "finding-1"
    finding = [e for e in page.elements if e.attrs.get("id") == "finding-1"]
    assert finding
    assert finding[0].tag == "li"
    assert "Promises &lt;a&gt; return" in response.text
    # Each channel as the reader sees it: the thread, Telegram unescaped, the e-mail subject.
    assert "Alert 1/2" in response.text
    assert "Prices 2/2" in response.text
    assert "<strong>Alert: &lt;script&gt;</strong>" in response.text
    assert "<em>Not advice.</em>" in response.text
    assert "Alert &lt;script&gt;" in response.text
    assert "limit is 3000" in response.text
    # Provenance and the revision list.
    assert "Market snapshot" in response.text
    assert "template" in response.text
    assert "revision 1" in response.text


async def test_actions_are_listed_only_for_roles_that_may_take_them(
    client: httpx.AsyncClient, db_session: AsyncSession, settings: Settings
) -> None:
    draft = await make_draft(db_session, "Title\n\nBody.")
    await sign_in(client, db_session, settings, Role.viewer)
    viewer = (await client.get(f"/content/{draft.id}")).text
    assert "Approve" not in viewer
    assert "takes no actions" in viewer
    await sign_in(client, db_session, settings, Role.editor)
    editor = (await client.get(f"/content/{draft.id}")).text
    assert "Approve" in editor
    assert "Edit and re-check" in editor
    assert "Override" not in editor
    await sign_in(client, db_session, settings, Role.admin)
    assert "Override" in (await client.get(f"/content/{draft.id}")).text


def _listed(html: str) -> list[int]:
    return [
        int((e.attrs.get("href") or "").rsplit("/", 1)[1])
        for e in read(html).all("a")
        if (e.attrs.get("href") or "").startswith("/content/")
    ]


def _older(html: str) -> str | None:
    links = [e.attrs.get("href") for e in read(html).all("a") if e.attrs.get("rel") == "next"]
    return links[0] if links else None


async def test_the_list_pages_by_keyset_and_keeps_its_filters(
    client: httpx.AsyncClient, db_session: AsyncSession, settings: Settings
) -> None:
    reviewed = [
        (await make_draft(db_session, f"Draft {n}\n\nBody.", status="in_review")).id
        for n in range(7)
    ]
    await make_draft(db_session, "Other\n\nBody.", status="approved")
    await make_draft(
        db_session, "Other type\n\nBody.", status="in_review", content_type="educational"
    )
    await sign_in(client, db_session, settings, Role.viewer)
    url: str | None = "/content?status=in_review&type=market_update&limit=3"
    seen: list[int] = []
    pages = 0
    while url is not None:
        response = await client.get(url)
        assert response.status_code == 200
        seen += _listed(response.text)
        url = _older(response.text)
        if url:
            assert "status=in_review" in url
            assert "type=market_update" in url
            assert "before_id=" in url
        pages += 1
    assert seen == sorted(reviewed, reverse=True)
    assert pages == 3
    everything = await client.get("/content")
    assert "Draft 6" in everything.text
    assert "Other type" in everything.text


async def test_an_unknown_filter_is_said_plainly(
    client: httpx.AsyncClient, db_session: AsyncSession, settings: Settings
) -> None:
    await sign_in(client, db_session, settings, Role.viewer)
    response = await client.get("/content?status=bogus")
    assert response.status_code == 422
    assert "Unknown status" in response.text
