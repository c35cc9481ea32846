"""Checking and storing image bytes, without HTTP."""

from __future__ import annotations

import hashlib
import io
import warnings
from pathlib import Path

import pytest
from PIL import Image

from finagency.errors import FinagencyError
from finagency.media import service
from tests.media.images import image_bytes, noise_png, stored_files


@pytest.mark.parametrize(
    ("fmt", "content_type", "extension"),
    [("PNG", "image/png", "png"), ("JPEG", "image/jpeg", "jpg"), ("WEBP", "image/webp", "webp")],
)
def test_png_jpeg_and_webp_are_accepted_with_their_size(
    fmt: str, content_type: str, extension: str
) -> None:
    data = image_bytes(fmt, (40, 30))
    image = service.check_image(data, 100_000)
    assert image.content_type == content_type
    assert (image.width, image.height) == (40, 30)
    assert image.sha256 == hashlib.sha256(data).hexdigest()
    assert image.name == f"{image.sha256}.{extension}"


@pytest.mark.parametrize(
    ("data", "detected"),
    [
        (image_bytes("GIF"), "image/gif"),
        (image_bytes("BMP"), "image/bmp"),
        (b"just some text, not an image\n", "text/plain"),
        (b"%PDF-1.7\n...", "application/pdf"),
        (b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"/>', "image/svg+xml"),
        (bytes(range(256)), "application/octet-stream"),
    ],
)
def test_anything_else_is_415_naming_what_it_is(data: bytes, detected: str) -> None:
    with pytest.raises(FinagencyError) as refused:
        service.check_image(data, 100_000)
    assert refused.value.status_code == 415
    assert detected in refused.value.message
    assert refused.value.extra == {"detected": detected, "accepted": service.ACCEPTED_TYPES}


def test_empty_is_422_and_too_big_is_413() -> None:
    with pytest.raises(FinagencyError) as empty:
        service.check_image(b"", 100_000)
    assert empty.value.status_code == 422
    with pytest.raises(FinagencyError) as big:
        service.check_image(noise_png(100), 10_000)
    assert big.value.status_code == 413


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP"])
def test_a_truncated_or_corrupt_image_is_422(fmt: str) -> None:
    data = noise_png(60) if fmt == "PNG" else image_bytes(fmt, (200, 200))
    for broken in (data[: len(data) // 2], data[:40] + bytes(len(data) - 40)):
        with pytest.raises(FinagencyError) as refused:
            service.check_image(broken, 100_000)
        assert refused.value.status_code == 422, fmt
        assert refused.value.type == "invalid-image"


def test_decompression_bombs_are_413(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)
    # Beyond twice the limit Pillow refuses; between once and twice it only warns (an error
    # here, where warnings are errors) and, where it is a mere warning, our own check refuses.
    for size in [(100, 100), (40, 30)]:
        with pytest.raises(FinagencyError) as refused:
            service.check_image(image_bytes("PNG", size), 100_000)
        assert refused.value.status_code == 413
        assert refused.value.type == "image-too-large"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        with pytest.raises(FinagencyError) as refused:
            service.check_image(image_bytes("PNG", (40, 30)), 100_000)
    assert "40×30" in refused.value.message


def test_files_are_written_once_by_name_without_leftovers(tmp_path: Path) -> None:
    media_dir = tmp_path / "media"
    image = service.check_image(image_bytes("PNG"), 100_000)
    path = service.save_file(media_dir, image)
    assert path == media_dir / image.name
    assert path.read_bytes() == image.data
    assert path.stat().st_mode & 0o777 == 0o644
    modified = path.stat().st_mtime_ns
    assert service.save_file(media_dir, image) == path
    assert path.stat().st_mtime_ns == modified  # the same bytes are not written again
    assert stored_files(media_dir) == [image.name]


def test_a_storage_failure_is_503_not_500(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("a file where the media directory should be")
    image = service.check_image(image_bytes("PNG"), 100_000)
    with pytest.raises(FinagencyError) as failed:
        service.save_file(blocker / "media", image)
    assert failed.value.status_code == 503


async def test_reading_stops_as_soon_as_the_limit_is_passed() -> None:
    class Source:
        def __init__(self) -> None:
            self.body = io.BytesIO(b"x" * 1_000_000)
            self.reads = 0

        async def read(self, size: int = -1) -> bytes:
            self.reads += 1
            return self.body.read(size)

    source = Source()
    with pytest.raises(FinagencyError) as refused:
        await service.read_limited(source, 100_000)
    assert refused.value.status_code == 413
    assert source.reads == 100_000 // service.READ_CHUNK + 1
    assert await service.read_limited(Source(), 1_000_000) == b"x" * 1_000_000
