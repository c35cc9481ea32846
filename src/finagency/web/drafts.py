"""What the draft view and the content list show, read through the content service."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from markupsafe import Markup
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from finagency.accounts.permissions import Permission
from finagency.content import service as content_service
from finagency.content.models import Content, Revision
from finagency.errors import FinagencyError
from finagency.web.guard import Visitor
from finagency.web.highlight import Mark, highlighted, marks_of
from finagency.web.previews import Preview, previews
from finagency.web.revision_diff import RevisionDiff, diff

# The provenance a revision records, in the order and words the page shows them.
PROVENANCE = (
    ("snapshot_id", "Market snapshot"),
    ("writer", "Writer"),
    ("template_version", "Template version"),
    ("model", "Model"),
    ("prompt_hash", "Prompt hash"),
    ("prompt_version", "Prompt version"),
    ("compliance_version", "Compliance settings version"),
)
# Actions on a draft, who may take them, and what each does (buttons come next increment).
ACTIONS = (
    (Permission.edit_content, "Edit and re-check", "a new revision, checked at once"),
    (Permission.request_content, "Submit for review", "a draft or a rejected one goes to review"),
    (Permission.approve_content, "Approve", "this exact revision, when nothing blocks"),
    (Permission.approve_content, "Reject with a comment", "back to the author"),
    (
        Permission.override_compliance,
        "Override",
        "approve despite blocking findings, with a reason",
    ),
    (Permission.publish, "Schedule to channels", "one publication per channel"),
)


@dataclass(frozen=True)
class DraftView:
    content: Content
    revision: Revision
    marks: list[Mark]
    text: Markup
    previews: list[Preview]
    provenance: list[tuple[str, Any]]
    revisions: list[Revision]  # newest first
    changes: RevisionDiff | None  # from an earlier revision to this one

    @property
    def blocking(self) -> int:
        return sum(1 for m in self.marks if m.severity == "block")


class UnknownRevision(FinagencyError):
    status_code = 422
    type = "unprocessable"


def _changes(
    revisions: list[Revision], current: Revision, compare: int | None
) -> RevisionDiff | None:
    """The diff from revision `compare` (default: the one before) to the current revision."""
    earlier = {r.number: r for r in revisions if r.number < current.number}
    if compare is None:
        compare = max(earlier, default=None)
        if compare is None:
            return None
    elif compare not in earlier:
        numbers = ", ".join(str(n) for n in sorted(earlier)) or "none"
        raise UnknownRevision(
            f"Revision {compare} cannot be compared: the earlier revisions are {numbers}."
        )
    old = earlier[compare]
    return diff(old.text, current.text, old.number, current.number)


async def load(session: AsyncSession, content_id: int, compare: int | None = None) -> DraftView:
    content = await content_service.get_content(session, content_id)
    revision = await content_service.current_revision(session, content)
    history = await content_service.revisions(session, content_id)
    marks = marks_of(await content_service.findings(session, revision.id), len(revision.text))
    known = [(label, revision.provenance.get(key)) for key, label in PROVENANCE]
    extra = [
        (key, value)
        for key, value in revision.provenance.items()
        if key not in {k for k, _ in PROVENANCE}
    ]
    return DraftView(
        content=content,
        revision=revision,
        marks=marks,
        text=highlighted(revision.text, marks),
        previews=previews(revision.renderings or {}),
        provenance=[(label, value) for label, value in known if value is not None] + extra,
        revisions=list(reversed(history)),
        changes=_changes(history, revision, compare),
    )


def actions_for(visitor: Visitor) -> list[tuple[str, str]]:
    return [(name, what) for permission, name, what in ACTIONS if visitor.may(permission)]


async def titles(session: AsyncSession, contents: Sequence[Content]) -> dict[int, str]:
    """The current revision's title of each listed content, in one query.

    (Belongs in the content service; kept here until that module takes it.)
    """
    if not contents:
        return {}
    rows = await session.execute(
        select(Revision.content_id, Revision.title)
        .join(
            Content,
            (Content.id == Revision.content_id) & (Content.current_revision == Revision.number),
        )
        .where(Content.id.in_([c.id for c in contents]))
    )
    return {content_id: title for content_id, title in rows.all()}
