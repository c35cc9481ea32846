"""Media over the wire."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field, StrictInt

from finagency.media.models import ContentMedia, Media

ALT_TEXT_MAX = 500


class MediaOut(BaseModel):
    id: int
    name: str
    url: str = Field(description="Where the image is served: /media/<sha256>.<extension>")
    content_type: str
    size: int
    width: int | None
    height: int | None
    sha256: str
    origin: str

    @classmethod
    def of(cls, media: Media) -> MediaOut:
        return cls(
            id=media.id,
            name=media.name,
            url=f"/media/{media.name}",
            content_type=media.content_type,
            size=media.size,
            width=media.width,
            height=media.height,
            sha256=media.sha256,
            origin=media.origin,
        )


class AttachIn(BaseModel):
    media_id: StrictInt = Field(ge=1)
    alt_text: str | None = Field(default=None, max_length=ALT_TEXT_MAX)


class AttachmentOut(BaseModel):
    content_id: int
    media_id: int
    alt_text: str | None
    attached_by: int | None
    attached_at: datetime
    media: MediaOut

    @classmethod
    def of(cls, attachment: ContentMedia, media: Media) -> AttachmentOut:
        return cls(
            content_id=attachment.content_id,
            media_id=attachment.media_id,
            alt_text=attachment.alt_text,
            attached_by=attachment.attached_by,
            attached_at=attachment.created_at,
            media=MediaOut.of(media),
        )
