"""Scheduling's near-duplicate guard compares posts as the compliance rule does: without the
channel's disclaimer, which every post ends with. Kept in, two updates written from the same
template about different instruments looked like twins (the pipeline benchmark saw 266 of 300
drafts refused with 409 duplicate-content)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from finagency.accounts.audit import Actor
from finagency.compliance import service as compliance_service
from finagency.errors import FinagencyError
from finagency.publishing import service
from finagency.settings import Settings
from tests.web.support import make_channel, make_draft

EDITOR = Actor(None, "editor@example.com", "127.0.0.1")


async def _approved(session: AsyncSession, body: str, disclaimer: str) -> int:
    text = f"{body}\n\n{disclaimer}"
    content = await make_draft(
        session, text, status="approved", renderings={"file": {"text": text}}
    )
    content.approved_revision = 1
    await session.flush()
    return content.id


def _spec(content_id: int, channel_id: int) -> service.ScheduleSpec:
    later = datetime.now(UTC) + timedelta(hours=1)
    return service.ScheduleSpec(content_id, [channel_id], later)


async def test_posts_that_share_the_template_and_the_disclaimer_are_not_twins(
    db_session: AsyncSession, settings: Settings
) -> None:
    # An Indian desk: its disclaimer (SEBI) is 29 words, longer than a short market update.
    await compliance_service.update(
        db_session, settings, EDITOR, {"default_profile": "in"}, "Indian desk"
    )
    channel = await make_channel(db_session, "file")
    policy = await compliance_service.current(db_session, settings)
    disclaimer = policy.disclaimer_for(policy.profile_for(channel.type))
    tail = "on the day. Volume was near its 20-day average."
    first = await _approved(db_session, f"Gold closed at 2,034.10, down 0.4% {tail}", disclaimer)
    second = await _approved(
        db_session, f"The Nifty 50 closed at 24,310.50, up 1.2% {tail}", disclaimer
    )
    await service.schedule(db_session, settings, EDITOR, _spec(first, channel.id))
    scheduled = await service.schedule(db_session, settings, EDITOR, _spec(second, channel.id))
    assert len(scheduled) == 1


async def test_posts_that_say_the_same_thing_still_need_forcing(
    db_session: AsyncSession, settings: Settings
) -> None:
    channel = await make_channel(db_session, "file")
    policy = await compliance_service.current(db_session, settings)
    disclaimer = policy.disclaimer_for(policy.profile_for(channel.type))
    body = (
        "The S&P 500 rose 0.8% to 5,123.40 as technology shares led the market higher on "
        "strong earnings from chip makers, while bond yields eased and the dollar was flat."
    )
    first = await _approved(db_session, body, disclaimer)
    second = await _approved(db_session, body.replace("rose", "climbed"), disclaimer)
    await service.schedule(db_session, settings, EDITOR, _spec(first, channel.id))
    with pytest.raises(FinagencyError) as refused:
        await service.schedule(db_session, settings, EDITOR, _spec(second, channel.id))
    assert (refused.value.status_code, refused.value.type) == (409, "duplicate-content")
