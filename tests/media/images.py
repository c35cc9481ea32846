"""Plain builders for media tests: images made by Pillow, and a look at the media directory."""

from __future__ import annotations

import io
import random
from pathlib import Path

from PIL import Image

# The media size limit of these tests (settings fixture in conftest.py).
MAX_BYTES = 200_000


def image_bytes(fmt: str, size: tuple[int, int] = (40, 30)) -> bytes:
    """A small image in `fmt` (PNG, JPEG, WEBP, GIF …)."""
    buffer = io.BytesIO()
    Image.new("RGB", size, "#2a7ae2").save(buffer, format=fmt)
    return buffer.getvalue()


def noise_png(side: int, seed: int = 7) -> bytes:
    """A PNG that does not compress: a little over 3 × side² bytes."""
    pixels = random.Random(seed).randbytes(side * side * 3)
    buffer = io.BytesIO()
    Image.frombytes("RGB", (side, side), pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def stored_files(media_dir: Path) -> list[str]:
    """Every file in the media directory, temporary ones included."""
    return sorted(path.name for path in media_dir.iterdir()) if media_dir.exists() else []
