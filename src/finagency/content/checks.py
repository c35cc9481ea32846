"""Compliance checks of a revision, under the organisation's policy.

A revision's text goes to several channel types, and the policy may give each channel type its
own profile (an Indian Telegram channel under `in`, LinkedIn under `us`). The text is checked
under every profile its channels use, so it carries each of their disclaimers; each channel's
rendering carries only its own. Lengths are checked on what each channel actually sends.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from sqlalchemy import Row, Select, select

from finagency.compliance import checker, rules
from finagency.compliance.findings import CheckContext, Finding, SnapshotView
from finagency.compliance.policy import Policy
from finagency.content.models import Content, Revision
from finagency.content.renderings import Draft, TooLong, render

# Statuses whose approved revision counts as "out there" for the near-duplicate rule.
SETTLED = ("approved", "scheduled", "published")
MAX_RECENT_TEXTS = 500


def disclaimers(policy: Policy, channels: list[str]) -> list[str]:
    """The disclaimers the text must carry: one per profile its channels use."""
    found = [policy.disclaimer_for(profile) for profile in policy.profiles_for(channels)]
    return list(dict.fromkeys(text for text in found if text))


def for_channel(policy: Policy, draft: Draft, channel: str) -> Draft:
    """The draft as one channel sends it: with that channel's profile's disclaimer only."""
    if not draft.disclaimer:
        return draft
    return replace(draft, disclaimer=policy.disclaimer_for(policy.profile_for(channel)))


def renderings(policy: Policy, draft: Draft, channels: list[str]) -> dict[str, dict[str, object]]:
    """Each channel's rendering; one that cannot fit is kept as an error for the editor to see
    (the length finding blocks it), never raised."""
    rendered: dict[str, dict[str, object]] = {}
    for channel in channels:
        try:
            rendered[channel] = render(for_channel(policy, draft, channel), channel)
        except TooLong as error:
            rendered[channel] = {"error": str(error)}
    return rendered


def sent_text(rendering: Mapping[str, object]) -> str:
    """The characters a channel sends, from its rendering (an X thread joined post by post)."""
    posts = rendering.get("posts")
    if isinstance(posts, list):
        return "\n\n".join(str(post) for post in posts)
    return str(rendering.get("text", ""))


def check_revision(
    policy: Policy,
    text: str,
    content_type: str,
    channel_texts: Mapping[str, str],
    snapshot: SnapshotView | None,
    *,
    simulated: bool = False,
    recent_texts: tuple[str, ...] = (),
    now: datetime | None = None,
) -> list[Finding]:
    """Every rule of every profile the channels use on the text, then each channel's length on
    what that channel sends.

    Length findings cover the whole text (their message names the channel): an X thread or
    an escaped Telegram message is not the revision's text, so a span inside it would mislead.
    """
    found: list[Finding] = []
    base: CheckContext | None = None
    for profile in policy.profiles_for(list(channel_texts)):
        ctx = CheckContext(
            text=text,
            channel_type="file",
            content_type=content_type,
            profile=profile,
            now=now or datetime.now(UTC),
            snapshot=snapshot,
            registered_adviser=policy.registered_adviser,
            disclaimer=policy.disclaimer_for(profile),
            extra_banned_phrases=policy.extra_banned_phrases,
            recent_texts=recent_texts,
            extra={"simulated": simulated},
        )
        base = base or ctx
        found.extend(checker.check(ctx))
    assert base is not None  # profiles_for always names at least the default profile
    for channel, sent in channel_texts.items():
        for finding in rules.length(replace(base, text=sent, channel_type=channel)):
            found.append(replace(finding, start=0, end=len(text)))
    return checker.deduplicated(found)


def recent_texts_query(
    policy: Policy, channels: list[str], exclude_content: int | None, now: datetime | None = None
) -> Select[str, dict[str, object]]:
    """Approved revisions of content approved, scheduled or published in the policy's window,
    newest first, with their renderings (the caller keeps those for the same channel types)."""
    since = (now or datetime.now(UTC)) - timedelta(days=policy.near_duplicate_days)
    query = (
        select(Revision.text, Revision.renderings)
        .join(Content, Content.id == Revision.content_id)
        .where(
            Content.status.in_(SETTLED),
            Content.approved_at >= since,
            Revision.number == Content.approved_revision,
        )
        .order_by(Content.approved_at.desc())
        .limit(MAX_RECENT_TEXTS)
    )
    if exclude_content is not None:
        query = query.where(Content.id != exclude_content)
    return query


def same_channel_types(
    rows: Iterable[Row[str, dict[str, object]]], channels: list[str]
) -> tuple[str, ...]:
    """The texts of rows (text, renderings) that went to any of these channel types."""
    wanted = set(channels)
    return tuple(text for text, rendered in rows if wanted & set(rendered or {}))
