"""File channel, the embedded default: a JSON line per delivery in `<data dir>/outbox/<name>.jsonl`.

The channel's name chooses the file; the channel service passes it in as `config["name"]`
(an admin cannot choose a directory: the outbox is always under the data dir). Each line is
written with one `os.write` on an O_APPEND descriptor and fsynced, under an exclusive `flock`,
so concurrent writers (threads or processes) never interleave and every complete line is a
delivery. The file is its own ledger: a delivery whose idempotency key already has a line is
not written twice (a crash after the write but before the database recorded it), the existing
line is returned instead. A torn last line (a crash mid-write) is never read as a delivery.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from finagency.publishing.channels.base import (
    ChannelConfigError,
    ChannelError,
    Delivery,
    ErrorKind,
    Sent,
    Verified,
)
from finagency.settings import Settings

TYPE = "file"
SECRET_FIELDS: tuple[str, ...] = ()
OUTBOX = "outbox"
SUFFIX = ".jsonl"
# A file name on every system: no separators, no leading dot, no spaces.
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
# Errors that waiting will not cure: the operator must fix the directory first.
_PERMANENT = {errno.EACCES, errno.EPERM, errno.EROFS, errno.EISDIR, errno.ENOTDIR, errno.EEXIST}


def check_name(name: Any) -> str:
    if not isinstance(name, str) or not _NAME.match(name) or ".." in name:
        raise ChannelConfigError(
            f"file: the channel name {name!r} becomes its file name: use 1 to 100 letters, "
            "digits, '.', '_' or '-', starting with a letter or digit (e.g. daily-outbox)"
        )
    return name


def check(config: dict[str, Any], credentials: dict[str, Any] | None) -> None:
    if "directory" in config:
        raise ChannelConfigError(
            "file: config.directory cannot be set; the outbox is always <data dir>/outbox/"
        )
    unknown = set(config) - {"name"}
    if unknown:
        raise ChannelConfigError(
            f"file: unknown config field(s) {', '.join(sorted(unknown))}; a file channel "
            "takes no settings"
        )
    if "name" in config:
        check_name(config["name"])
    if any(value not in (None, "") for value in (credentials or {}).values()):
        raise ChannelConfigError("file: a file channel takes no credentials")


def create(
    config: dict[str, Any],
    credentials: dict[str, Any] | None,
    settings: Settings,
    client: object = None,
) -> FileAdapter:
    """`config["name"]` is the channel's name, added by the channel service."""
    check(config, credentials)
    if "name" not in config:
        raise ChannelConfigError("file: config.name (the channel's name) is required")
    return FileAdapter(check_name(config["name"]), Path(settings.data_dir) / OUTBOX)


def _utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _line(record: dict[str, Any]) -> bytes:
    return json.dumps(record, separators=(",", ":"), ensure_ascii=False).encode() + b"\n"


def _find_line(content: bytes, marker: bytes, field: str, value: Any) -> int | None:
    """The number (from 1) of the first complete line whose `field` is `value`."""
    start = 0
    while (found := content.find(marker, start)) != -1:
        line_start = content.rfind(b"\n", 0, found) + 1
        line_end = content.find(b"\n", found)
        if line_end == -1:  # a torn last line: never a delivery
            return None
        try:
            record = json.loads(content[line_start:line_end])
        except ValueError:
            record = None
        if isinstance(record, dict) and record.get(field) == value:
            return content.count(b"\n", 0, line_start) + 1
        start = line_end
    return None


class FileAdapter:
    type = TYPE
    # Not a remote platform, but the file dedupes by key itself: a resend writes nothing.
    idempotent = True

    def __init__(self, name: str, directory: Path) -> None:
        self.name = name
        self.directory = directory
        self.path = directory / f"{name}{SUFFIX}"

    def close(self) -> None:
        """Nothing held between sends."""

    def record(self, delivery: Delivery) -> dict[str, Any]:
        rendering = delivery.rendering
        return {
            "publication_id": delivery.publication_id,
            "idempotency_key": delivery.idempotency_key,
            "content_id": delivery.content_id,
            "revision": delivery.revision_number,
            "content_type": delivery.content_type,
            "title": delivery.title,
            "text": rendering.get("text", ""),
            "json": rendering.get("json", {}),
            "media": [
                {
                    "name": media.path.name,
                    "path": str(media.path),
                    "url": media.url,
                    "content_type": media.content_type,
                    "alt_text": media.alt_text,
                }
                for media in delivery.media
            ],
            "simulated": delivery.simulated,
            "sent_at": _utc_now(),
        }

    def send(self, delivery: Delivery) -> Sent:
        key = delivery.idempotency_key
        marker = b'"idempotency_key":' + json.dumps(key, ensure_ascii=False).encode()
        with self._locked() as (fd, content):
            number = _find_line(content, marker, "idempotency_key", key)
            if number is None:
                number = self._append(fd, content, _line(self.record(delivery)))
        return Sent(
            post_id=f"{self.name}:{number}",
            data={
                "line": number,
                "publication_id": delivery.publication_id,
                "idempotency_key": key,
            },
        )

    def verify(self) -> Verified:
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(dir=self.directory, prefix=".verify-"):
                pass
        except OSError as error:
            raise ChannelError(
                "fail", f"file: {self.directory} is not writable: {error}"
            ) from error
        return Verified(identity=str(self.path))

    def retract(self, sent: Sent) -> bool:
        """Append a retraction line (once per publication); the original line stays."""
        publication_id = sent.data.get("publication_id")
        marker = b'{"retraction":' + json.dumps(publication_id).encode()
        retraction = {
            "retraction": publication_id,
            "post_id": sent.post_id,
            "retracted_key": sent.data.get("idempotency_key"),
            "retracted_at": _utc_now(),
        }
        with self._locked() as (fd, content):
            if _find_line(content, marker, "retraction", publication_id) is None:
                self._append(fd, content, _line(retraction))
        return True

    @contextmanager
    def _locked(self) -> Iterator[tuple[int, bytes]]:
        """The outbox file, open for appending under an exclusive lock, with its content."""
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o640)
        except OSError as error:
            raise _error(error, self.path) from error
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            content = self._read(fd)
            if not content:
                # A new file: its directory entry must survive a crash too.
                _fsync_directory(self.directory)
            yield fd, content
        except OSError as error:
            raise _error(error, self.path) from error
        finally:
            os.close(fd)  # releases the lock

    @staticmethod
    def _read(fd: int) -> bytes:
        size = os.fstat(fd).st_size
        chunks = []
        offset = 0
        while offset < size:
            chunk = os.pread(fd, size - offset, offset)
            if not chunk:
                break
            chunks.append(chunk)
            offset += len(chunk)
        return b"".join(chunks)

    @staticmethod
    def _append(fd: int, content: bytes, line: bytes) -> int:
        """Write `line` in one call; return its line number."""
        if content and not content.endswith(b"\n"):
            # A torn line from a crash: end it, so that ours starts on a line of its own.
            line = b"\n" + line
        written = os.write(fd, line)
        os.fsync(fd)
        if written != len(line):
            # Out of space mid-line: the torn line is never read as a delivery; try again.
            raise ChannelError("retry", f"file: only {written} of {len(line)} bytes written")
        return content.count(b"\n") + line.count(b"\n")


def _fsync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _error(error: OSError, path: Path) -> ChannelError:
    kind: ErrorKind = "fail" if error.errno in _PERMANENT else "retry"
    return ChannelError(kind, f"file: {path}: {error.strerror or error}")
