"""Media: check an image from its bytes, store it once by content hash, attach it to content.

The database work is written once, against a sync Session: workers call it directly and the
API through `AsyncSession.run_sync`. Decoding and file writes stay out of it, so that the API
can run them in a thread instead of on the event loop.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import structlog
from PIL import Image
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from finagency.accounts import audit
from finagency.accounts.audit import Actor
from finagency.errors import FinagencyError, NotFound
from finagency.media.models import ContentMedia, Media
from finagency.settings import Settings

log = structlog.get_logger(__name__)

# Pillow format → (content type, extension). Nothing else is accepted.
ACCEPTED = {
    "PNG": ("image/png", "png"),
    "JPEG": ("image/jpeg", "jpg"),
    "WEBP": ("image/webp", "webp"),
}
ACCEPTED_TYPES = [content_type for content_type, _ in ACCEPTED.values()]
CONTENT_TYPE_OF_EXTENSION = {
    extension: content_type for content_type, extension in ACCEPTED.values()
}
READ_CHUNK = 64 * 1024
# Common signatures, only to name a refused type in the error (Pillow never parses these).
_OTHER_SIGNATURES = [
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"BM", "image/bmp"),
    (b"II*\x00", "image/tiff"),
    (b"MM\x00*", "image/tiff"),
    (b"%PDF-", "application/pdf"),
    (b"PK\x03\x04", "application/zip"),
    (b"\x00\x00\x01\x00", "image/x-icon"),
]


@dataclass(frozen=True)
class CheckedImage:
    """Bytes that decoded as an accepted image, with what was learnt from them."""

    data: bytes
    format: str
    width: int
    height: int
    sha256: str

    @property
    def content_type(self) -> str:
        return ACCEPTED[self.format][0]

    @property
    def name(self) -> str:
        return f"{self.sha256}.{ACCEPTED[self.format][1]}"


class AsyncReadable(Protocol):
    async def read(self, size: int = -1) -> bytes: ...


def too_large(max_bytes: int) -> FinagencyError:
    return FinagencyError(
        f"The file is larger than the limit of {max_bytes} bytes.",
        413,
        "payload-too-large",
        limit_bytes=max_bytes,
    )


async def read_limited(source: AsyncReadable, max_bytes: int) -> bytes:
    """Read in chunks and stop as soon as the limit is passed: never more than it in memory."""
    chunks: list[bytes] = []
    total = 0
    while chunk := await source.read(READ_CHUNK):
        total += len(chunk)
        if total > max_bytes:
            raise too_large(max_bytes)
        chunks.append(chunk)
    return b"".join(chunks)


def sniff(data: bytes) -> str:
    """The content type the bytes say they are (the name a client gave is never asked)."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    for signature, content_type in _OTHER_SIGNATURES:
        if data.startswith(signature):
            return content_type
    if data[4:8] == b"ftyp":
        return "image/avif" if data[8:12] in {b"avif", b"avis"} else "video/mp4"
    head = data[:1024]
    if b"<svg" in head:
        return "image/svg+xml"
    try:
        head.decode("utf-8")
    except UnicodeDecodeError:
        return "application/octet-stream"
    return "text/plain"


def check_image(data: bytes, max_bytes: int) -> CheckedImage:
    """Accept PNG, JPEG or WebP bytes that Pillow decodes completely; refuse anything else."""
    if not data:
        raise FinagencyError("The file is empty.", 422, "empty-file")
    if len(data) > max_bytes:
        raise too_large(max_bytes)
    detected = sniff(data)
    image_format = next((fmt for fmt, (kind, _) in ACCEPTED.items() if kind == detected), None)
    if image_format is None:
        raise FinagencyError(
            f"Unsupported media type {detected}; accepted: {', '.join(ACCEPTED_TYPES)}.",
            415,
            "unsupported-media-type",
            detected=detected,
            accepted=ACCEPTED_TYPES,
        )
    width, height = _decode(data, image_format)
    return CheckedImage(data, image_format, width, height, hashlib.sha256(data).hexdigest())


def _decode(data: bytes, image_format: str) -> tuple[int, int]:
    """Decode fully, so that a truncated or corrupt file is refused now, not when published."""
    try:
        with Image.open(io.BytesIO(data), formats=[image_format]) as image:
            width, height = image.size
            _refuse_bombs(width, height)
            image.verify()
        with Image.open(io.BytesIO(data), formats=[image_format]) as image:
            image.load()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        # Pillow's own guard, before any decoding (its warning is an error where warnings are,
        # as in the tests; the size check below covers the case where it only warns).
        raise _too_many_pixels(None, Image.MAX_IMAGE_PIXELS or 0) from None
    except FinagencyError:
        raise
    except Exception as error:  # whatever Pillow raises for bad bytes, the file is at fault
        raise FinagencyError(
            f"The file looks like {ACCEPTED[image_format][0]} but cannot be decoded ({error}).",
            422,
            "invalid-image",
        ) from None
    return width, height


def _refuse_bombs(width: int, height: int) -> None:
    # Pillow only warns between its limit and twice its limit; we refuse from the limit on.
    limit = Image.MAX_IMAGE_PIXELS
    if limit is not None and width * height > limit:
        raise _too_many_pixels(f"{width}×{height} pixels", limit)


def _too_many_pixels(size: str | None, limit: int) -> FinagencyError:
    return FinagencyError(
        f"The image has {size or 'too many pixels'}; at most {limit} pixels are accepted.",
        413,
        "image-too-large",
        max_pixels=limit,
    )


def save_file(media_dir: Path, image: CheckedImage) -> Path:
    """Write the file atomically (temp file + rename): a reader never sees half an image."""
    final = media_dir / image.name
    try:
        if final.is_file() and final.stat().st_size == len(image.data):
            return final  # content-addressed: the same name holds the same bytes
        media_dir.mkdir(parents=True, exist_ok=True)
        descriptor, temp = tempfile.mkstemp(dir=media_dir, prefix=".", suffix=".part")
        try:
            with os.fdopen(descriptor, "wb") as handle:
                handle.write(image.data)
                handle.flush()
                os.fsync(handle.fileno())
            os.chmod(temp, 0o644)  # nginx, another user, serves the directory
            os.replace(temp, final)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temp)
            raise
    except OSError as error:
        log.error("media_write_failed", path=str(final), error=str(error))
        raise FinagencyError(
            "The image could not be stored; try again later.", 503, "media-storage-unavailable"
        ) from None
    return final


def record_media(
    session: Session, image: CheckedImage, origin: str, actor: Actor
) -> tuple[Media, bool]:
    """The row for a stored file: (row, True) when new, the existing row for the same bytes."""
    media = session.scalar(select(Media).where(Media.name == image.name))
    created = media is None
    if media is None:
        media = Media(
            name=image.name,
            sha256=image.sha256,
            content_type=image.content_type,
            size=len(image.data),
            width=image.width,
            height=image.height,
            origin=origin,
            uploaded_by=actor.user_id,
        )
        try:
            with session.begin_nested():
                session.add(media)
        except IntegrityError:  # the same bytes stored at the same moment by someone else
            media = session.scalars(select(Media).where(Media.name == image.name)).one()
            created = False
    action = "chart_rendered" if origin == "chart" else "media_uploaded"
    audit.record(session, action, actor, "media", media.id, name=media.name, new=created)
    return media, created


def store(
    session: Session,
    settings: Settings,
    data: bytes,
    *,
    origin: str = "upload",
    actor: Actor | None = None,
) -> tuple[Media, bool]:
    """Check, write and record an image (sync callers: workers, charts)."""
    image = check_image(data, settings.media_max_bytes)
    save_file(settings.effective_media_dir, image)
    return record_media(session, image, origin, actor or Actor())


def get_media(session: Session, media_id: int) -> Media:
    media = session.get(Media, media_id)
    if media is None:
        raise NotFound(f"No media {media_id}")
    return media


def attach(
    session: Session, content_id: int, media_id: int, alt_text: str | None, actor: Actor
) -> tuple[ContentMedia, bool]:
    """Attach media to content; attaching it again only replaces the alt text.

    The content's existence is the caller's to check (the API asks the content service); the
    foreign key refuses a missing one all the same.
    """
    get_media(session, media_id)
    attachment = _attachment(session, content_id, media_id)
    created = attachment is None
    if attachment is None:
        attachment = ContentMedia(
            content_id=content_id, media_id=media_id, alt_text=alt_text, attached_by=actor.user_id
        )
        try:
            with session.begin_nested():
                session.add(attachment)
        except IntegrityError:
            # Either the same attachment made at the same moment, or no such content.
            attachment = _attachment(session, content_id, media_id)
            if attachment is None:
                raise NotFound(f"No content {content_id}") from None
            created = False
    else:
        attachment.alt_text = alt_text
        session.flush()
    audit.record(
        session, "media_attached", actor, "content", content_id, media_id=media_id, new=created
    )
    return attachment, created


def detach(session: Session, content_id: int, media_id: int, actor: Actor) -> None:
    attachment = _attachment(session, content_id, media_id)
    if attachment is None:
        raise NotFound(f"Media {media_id} is not attached to content {content_id}")
    session.delete(attachment)
    session.flush()
    audit.record(session, "media_detached", actor, "content", content_id, media_id=media_id)


def attachments(session: Session, content_id: int) -> list[tuple[ContentMedia, Media]]:
    rows = session.execute(
        select(ContentMedia, Media)
        .join(Media, Media.id == ContentMedia.media_id)
        .where(ContentMedia.content_id == content_id)
        .order_by(ContentMedia.id)
    )
    return [(attachment, media) for attachment, media in rows]


def _attachment(session: Session, content_id: int, media_id: int) -> ContentMedia | None:
    return session.scalar(
        select(ContentMedia).where(
            ContentMedia.content_id == content_id, ContentMedia.media_id == media_id
        )
    )
