"""Media over HTTP: upload, read, attach to content; and the images themselves at /media/."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Request, Response, UploadFile, status
from fastapi.responses import FileResponse
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import Message

from finagency.accounts.dependencies import SettingsDep, actor_of, require
from finagency.accounts.permissions import Permission
from finagency.accounts.sessions import Principal
from finagency.content import service as content_service
from finagency.db import SessionDep
from finagency.errors import NotFound
from finagency.media import service
from finagency.media.schemas import ALT_TEXT_MAX, AttachIn, AttachmentOut, MediaOut
from finagency.routing import feature_router
from finagency.settings import Settings

router = feature_router()
# /media/<name>: outside /api/v1, no authentication (names are unguessable content hashes and
# published posts embed them). Registered by the app factory.
public_router = APIRouter()
Reader = Annotated[Principal, require(Permission.read)]
Analyst = Annotated[Principal, require(Permission.request_content)]
Editor = Annotated[Principal, require(Permission.edit_content)]

MEDIA_NAME = re.compile(r"[0-9a-f]{64}\.(png|jpg|webp)")
# Room for the multipart boundaries, part headers and the small form fields around the file.
FORM_OVERHEAD = 64 * 1024
IMMUTABLE = "public, max-age=31536000, immutable"


class _BodyTooLarge(StarletteHTTPException):
    """Raised while the body streams in (FastAPI lets HTTP exceptions out of form parsing)."""

    def __init__(self) -> None:
        super().__init__(status.HTTP_413_CONTENT_TOO_LARGE)


class BoundedUploadRoute(APIRoute):
    """Stops reading an upload once it passes the media limit, before it is spooled whole."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def bounded(request: Request) -> Response:
            settings: Settings = request.app.state.settings
            limit = settings.media_max_bytes + FORM_OVERHEAD
            declared = request.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > limit:
                raise service.too_large(settings.media_max_bytes)
            received = 0

            async def receive() -> Message:
                nonlocal received
                message = await request.receive()
                received += len(message.get("body", b""))
                if received > limit:
                    raise _BodyTooLarge
                return message

            try:
                return await handler(Request(request.scope, receive))
            except _BodyTooLarge:
                raise service.too_large(settings.media_max_bytes) from None

        return bounded


async def upload(
    principal: Analyst,
    request: Request,
    response: Response,
    session: SessionDep,
    settings: SettingsDep,
    file: Annotated[UploadFile, File(description="A PNG, JPEG or WebP image")],
    content_id: Annotated[int | None, Form(ge=1, description="Attach to this content")] = None,
    alt_text: Annotated[str | None, Form(max_length=ALT_TEXT_MAX)] = None,
) -> MediaOut:
    """Store an image (type from its bytes); 201 when new, 200 when these bytes are stored."""
    if content_id is not None:
        # 404 or 409 before anything is written.
        await content_service.get_changeable_content(session, content_id)
    actor = actor_of(request, principal)
    data = await service.read_limited(file, settings.media_max_bytes)
    image = await asyncio.to_thread(service.check_image, data, settings.media_max_bytes)
    await asyncio.to_thread(service.save_file, settings.effective_media_dir, image)
    media, created = await session.run_sync(service.record_media, image, "upload", actor)
    if content_id is not None:
        await session.run_sync(service.attach, content_id, media.id, alt_text, actor)
    response.status_code = status.HTTP_201_CREATED if created else status.HTTP_200_OK
    return MediaOut.of(media)


router.add_api_route(
    "/media",
    upload,
    methods=["POST"],
    tags=["media"],
    status_code=status.HTTP_201_CREATED,
    responses={200: {"model": MediaOut, "description": "These bytes were already stored"}},
    route_class_override=BoundedUploadRoute,
)


@router.get("/media/{media_id}", tags=["media"])
async def get_media(media_id: int, principal: Reader, session: SessionDep) -> MediaOut:
    return MediaOut.of(await session.run_sync(service.get_media, media_id))


@router.get("/content/{content_id}/media", tags=["media"])
async def list_attachments(
    content_id: int, principal: Reader, session: SessionDep
) -> list[AttachmentOut]:
    await content_service.get_content(session, content_id)
    rows = await session.run_sync(service.attachments, content_id)
    return [AttachmentOut.of(attachment, media) for attachment, media in rows]


@router.post("/content/{content_id}/media", tags=["media"], status_code=status.HTTP_201_CREATED)
async def attach(
    content_id: int,
    body: AttachIn,
    principal: Analyst,
    request: Request,
    response: Response,
    session: SessionDep,
) -> AttachmentOut:
    """Attach stored media to content; 200 (alt text replaced) when it is attached already;
    409 once the content is approved (its images were approved with it)."""
    await content_service.get_changeable_content(session, content_id)
    actor = actor_of(request, principal)
    attachment, created = await session.run_sync(
        service.attach, content_id, body.media_id, body.alt_text, actor
    )
    media = await session.run_sync(service.get_media, body.media_id)
    response.status_code = status.HTTP_201_CREATED if created else status.HTTP_200_OK
    return AttachmentOut.of(attachment, media)


@router.delete(
    "/content/{content_id}/media/{media_id}",
    tags=["media"],
    status_code=status.HTTP_204_NO_CONTENT,
)
async def detach(
    content_id: int, media_id: int, principal: Editor, request: Request, session: SessionDep
) -> Response:
    await content_service.get_changeable_content(session, content_id)
    await session.run_sync(service.detach, content_id, media_id, actor_of(request, principal))
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@public_router.get("/media/{name}", include_in_schema=False)
async def serve(name: str, settings: SettingsDep) -> FileResponse:
    """The image file; only content-addressed names are looked up (no path ever built else)."""
    match = MEDIA_NAME.fullmatch(name)
    if match is None:
        raise NotFound(f"No media named {name!r}")
    path = settings.effective_media_dir / name
    if not await asyncio.to_thread(path.is_file):
        raise NotFound(f"No media named {name!r}")
    return FileResponse(
        path,
        media_type=service.CONTENT_TYPE_OF_EXTENSION[match.group(1)],
        headers={
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": IMMUTABLE,
            # Opened directly, an image must never run as a page.
            "Content-Security-Policy": "default-src 'none'; sandbox",
        },
    )
