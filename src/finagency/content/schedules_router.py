"""Recurring content schedules over HTTP."""

from __future__ import annotations

from typing import Annotated

from fastapi import Request, Response, status

from finagency.accounts.dependencies import actor_of, require
from finagency.accounts.permissions import Permission
from finagency.accounts.sessions import Principal
from finagency.content import schedules
from finagency.content.models import ContentSchedule
from finagency.content.schedule_schemas import ScheduleIn, ScheduleOut, SchedulePatch
from finagency.db import SessionDep
from finagency.routing import feature_router

router = feature_router()
Reader = Annotated[Principal, require(Permission.read)]
Editor = Annotated[Principal, require(Permission.edit_content)]


def _out(schedule: ContentSchedule) -> ScheduleOut:
    out = ScheduleOut.model_validate(schedule)
    out.next_run_local = schedules.next_run_local(schedule)
    return out


@router.post("/content/schedules", tags=["content"], status_code=status.HTTP_201_CREATED)
async def create_schedule(
    body: ScheduleIn,
    principal: Editor,
    request: Request,
    session: SessionDep,
    response: Response,
) -> ScheduleOut:
    """A recurring request: `type` for `symbols` on `weekdays` at `time_of_day` in `timezone`."""
    schedule = await schedules.create(
        session, actor_of(request, principal), schedules.ScheduleSpec(**body.model_dump())
    )
    response.headers["Location"] = f"/api/v1/content/schedules/{schedule.id}"
    return _out(schedule)


@router.get("/content/schedules", tags=["content"])
async def list_schedules(principal: Reader, session: SessionDep) -> list[ScheduleOut]:
    return [_out(schedule) for schedule in await schedules.list_schedules(session)]


@router.get("/content/schedules/{schedule_id}", tags=["content"])
async def get_schedule(schedule_id: int, principal: Reader, session: SessionDep) -> ScheduleOut:
    return _out(await schedules.get(session, schedule_id))


@router.patch("/content/schedules/{schedule_id}", tags=["content"])
async def update_schedule(
    schedule_id: int,
    body: SchedulePatch,
    principal: Editor,
    request: Request,
    session: SessionDep,
) -> ScheduleOut:
    """Change the fields given; the next run is recomputed when the timing or `enabled` change."""
    schedule = await schedules.get(session, schedule_id)
    await schedules.update(
        session,
        actor_of(request, principal),
        schedule,
        body.model_dump(exclude_unset=True),
    )
    return _out(schedule)


@router.delete(
    "/content/schedules/{schedule_id}",
    tags=["content"],
    status_code=status.HTTP_204_NO_CONTENT,
)
async def delete_schedule(
    schedule_id: int, principal: Editor, request: Request, session: SessionDep
) -> Response:
    schedule = await schedules.get(session, schedule_id)
    await schedules.delete(session, actor_of(request, principal), schedule)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
