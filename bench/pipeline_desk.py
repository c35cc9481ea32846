"""The newsroom's side of bench/pipeline.py, in the benchmark's own process: the analyst who asks
for content, the editor who schedules it to go out now, the admin who overrides a block. All of
it goes through the services the API routes call, with the tasks enqueued after the commit as
the routes enqueue them; what happened is read back from the ledger afterwards."""

from __future__ import annotations

import asyncio
import itertools
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select
from tests.fixtures.accounts import make_user

from finagency import tasks
from finagency.accounts.audit import Actor
from finagency.accounts.permissions import Role
from finagency.compliance import service as compliance_service
from finagency.content import service as content_service
from finagency.content import workflow
from finagency.content.models import Content, ContentRequest
from finagency.db import Database, utcnow
from finagency.market.catalog import DEFAULT_INSTRUMENTS
from finagency.publishing import dispatcher
from finagency.publishing import service as publishing_service
from finagency.publishing.models import Channel, Publication
from finagency.settings import Settings

CONTENT_TYPE = "market_update"
OUTBOX = "bench-outbox"  # the file channel: one line per delivery in <data dir>/outbox/OUTBOX.jsonl
SETTLED = ("published", "failed", "unknown", "cancelled")
POLL_SECONDS = 0.05
OVERRIDE = "Benchmark: drafts written from one snapshot look alike; throughput is under test."


@dataclass
class Tally:
    """How the drafts got out."""

    auto_approved: int = 0
    overridden: int = 0  # compliance blocked the draft (a near duplicate): the admin approved it


@dataclass
class Desk:
    database: Database
    settings: Settings
    analyst: Actor
    editor: Actor
    admin: Actor
    channel_id: int
    symbols: Iterator[tuple[str, ...]]
    handled: set[int] = field(default_factory=set)  # requests whose content was scheduled
    tally: Tally = field(default_factory=Tally)


async def open_desk(database: Database, settings: Settings) -> Desk:
    """Three users, the file channel, and auto-approval on for market updates (compliance
    settings), so that a draft without a blocking finding needs no editor."""
    async with database.session() as session:
        people = {
            role: await make_user(session, settings, role)
            for role in (Role.admin, Role.editor, Role.analyst)
        }
        channel = Channel(type="file", name=OUTBOX, config={}, limits={})
        session.add(channel)
        await session.flush()
        admin = Actor(people[Role.admin].id, people[Role.admin].email)
        await compliance_service.update(
            session,
            settings,
            admin,
            {"auto_approve_types": [CONTENT_TYPE]},
            "Benchmark: market updates without a blocking finding go out unreviewed.",
        )
    # Each request names a different pair of instruments, so that the drafts differ where the
    # template lets them.
    pairs = list(itertools.combinations([entry.symbol for entry in DEFAULT_INSTRUMENTS], 2))
    random.Random(10).shuffle(pairs)
    return Desk(
        database,
        settings,
        analyst=Actor(people[Role.analyst].id, people[Role.analyst].email),
        editor=Actor(people[Role.editor].id, people[Role.editor].email),
        admin=admin,
        channel_id=channel.id,
        symbols=itertools.cycle(pairs),
    )


async def ask(desk: Desk, count: int, rate: float = 0.0) -> list[int]:
    """`count` content requests, one transaction each as the API stores them, as fast as this
    process can or `rate` a second; their ids."""
    ids = []
    start = asyncio.get_running_loop().time()
    for n in range(count):
        if rate:
            await asyncio.sleep(max(0.0, start + n / rate - asyncio.get_running_loop().time()))
        spec = content_service.RequestSpec(CONTENT_TYPE, list(next(desk.symbols)), ["file"])
        async with desk.database.session() as session:
            request, _ = await content_service.create_request(
                session, desk.settings, spec, desk.analyst.user_id, None
            )
            tasks.enqueue_after_commit(session, content_service.GENERATE_TASK, request.id)
        ids.append(request.id)
    return ids


async def schedule_written(desk: Desk, count: int, timeout: float) -> None:
    """As the editor would, until `count` more requests are handled: each written request's
    content (approved automatically, or by the admin's override where compliance blocked it)
    scheduled to the file channel for now. A failed request stops the run."""
    goal = len(desk.handled) + count
    deadline = asyncio.get_running_loop().time() + timeout
    while len(desk.handled) < goal:
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError(f"{len(desk.handled)} of {goal} content requests written")
        async with desk.database.session() as session:
            written = (
                await session.execute(
                    select(
                        ContentRequest.id,
                        ContentRequest.status,
                        ContentRequest.error,
                        Content.id,
                        Content.status,
                    )
                    .outerjoin(Content, Content.id == ContentRequest.content_id)
                    .where(
                        ContentRequest.status.in_(("done", "failed")),
                        ContentRequest.id.not_in(desk.handled),
                    )
                    .order_by(ContentRequest.id)
                )
            ).all()
        for request_id, status, error, content_id, content_status in written:
            if status == "failed" or content_id is None:
                raise RuntimeError(f"content request {request_id} failed: {error}")
            if content_status == "approved":
                desk.tally.auto_approved += 1
            else:
                await override(desk, content_id)
            await schedule_now(desk, content_id)
            desk.handled.add(request_id)
        await asyncio.sleep(POLL_SECONDS)


async def override(desk: Desk, content_id: int) -> None:
    async with desk.database.session() as session:
        content = await content_service.get_content(session, content_id)
        await workflow.submit(session, desk.analyst, content)
        await workflow.approve(session, desk.settings, desk.admin, content, OVERRIDE)
    desk.tally.overridden += 1


async def schedule_now(desk: Desk, content_id: int) -> None:
    """As the API's POST /publications does, with force_duplicate: compliance has judged the
    text already (the near duplicates among these drafts, all written from one snapshot, were
    overridden by the admin, and scheduling would refuse them again until forced), and the
    scheduling check's own near-duplicate scan cost this process so much that with two
    workers it, not the workers, set the pace."""
    spec = publishing_service.ScheduleSpec(
        content_id, [desk.channel_id], utcnow(), force_duplicate=True
    )
    async with desk.database.session() as session:
        await publishing_service.schedule(session, desk.settings, desk.editor, spec)
        # As the API does: due now, so dispatch without waiting for the beat's tick.
        tasks.enqueue_after_commit(session, dispatcher.DISPATCH_TASK)


# --- the ledger --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Journey:
    """One request's way through the pipeline, by the rows' own timestamps."""

    request_id: int
    publication_id: int
    status: str
    requested: datetime  # the request stored
    written: datetime  # its content stored: written, checked (and auto-approved where allowed)
    scheduled: datetime  # the publication's scheduled_at (scheduled for now)
    published: datetime | None


async def wait_settled(desk: Desk, request_ids: list[int], timeout: float) -> list[Journey]:
    """Once every publication of these requests has settled, their journeys."""
    mine = select(ContentRequest.content_id).where(ContentRequest.id.in_(request_ids))
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        async with desk.database.session() as session:
            waiting = await session.scalar(
                select(func.count())
                .select_from(Publication)
                .where(Publication.content_id.in_(mine), Publication.status.not_in(SETTLED))
            )
        if not waiting:
            break
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError(f"{waiting} publications still waiting after {timeout:.0f} s")
        await asyncio.sleep(0.25)  # the figures come from the rows, not from this loop
    async with desk.database.session() as session:
        rows = await session.execute(
            select(
                ContentRequest.id,
                Publication.id,
                Publication.status,
                ContentRequest.created_at,
                Content.created_at,
                Publication.scheduled_at,
                Publication.published_at,
            )
            .join(Content, Content.id == ContentRequest.content_id)
            .join(Publication, Publication.content_id == Content.id)
            .where(ContentRequest.id.in_(request_ids))
        )
        return [Journey(*row) for row in rows.all()]


async def publication_ids(desk: Desk) -> list[int]:
    """Every publication in the database (the warm-up's too)."""
    async with desk.database.session() as session:
        return list(await session.scalars(select(Publication.id)))
