"""Embedded mode on a data dir that cannot take writes: read-only at start (the process refuses
to start, exit 2, naming the folder and the problem) or full while serving (writes answer a
507 problem document, reads keep working, nothing half-written, writes resume once there is
room). The data dirs are small tmpfs mounts of the test's own."""

from __future__ import annotations

import contextlib
import errno
import sqlite3
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.fixtures.servers import FINAGENCY, process_env
from tests.fixtures.services import free_port, require_service
from tests.reliability.conftest import StartApi, assert_problem, new_key

# Room for the migrated database (~0.4 MB) and its WAL; the test fills the rest.
DATA_DIR_SIZE = "8m"
MAX_WRITES_TO_FILL = 400

Mount = Callable[..., Path]


@pytest.fixture
def tmpfs(tmp_path: Path) -> Iterator[Mount]:
    """mount(name, size, read_only): a tmpfs of the test's own, unmounted after the test."""
    mounted: list[Path] = []

    def mount(name: str, size: str, read_only: bool = False) -> Path:
        folder = tmp_path / name
        folder.mkdir()
        options = f"size={size},mode=0755" + (",ro" if read_only else "")
        done = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", options, "finagency-test", str(folder)],
            capture_output=True,
            text=True,
        )
        problem = None if done.returncode == 0 else done.stderr.strip() or "mount failed"
        require_service("mount -t tmpfs (root)", problem)
        mounted.append(folder)
        return folder

    try:
        yield mount
    finally:
        for folder in mounted:
            subprocess.run(["umount", "--lazy", str(folder)], check=False)


def _run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*FINAGENCY, *args], env=env, capture_output=True, text=True, timeout=60)


@pytest.mark.timeout(120)
@pytest.mark.parametrize(
    ("args", "settings"),
    [
        pytest.param(["migrate"], {}, id="migrate-embedded"),
        pytest.param(["serve", "--port", str(free_port())], {}, id="serve-embedded"),
        # PostgreSQL needs no folder, but the generated development secret does.
        pytest.param(
            ["migrate"],
            {"database_url": f"postgresql://postgres@127.0.0.1:{free_port()}/never"},
            id="migrate-postgresql-without-secret",
        ),
    ],
)
def test_a_read_only_data_dir_stops_the_start_with_exit_2_naming_the_folder(
    tmpfs: Mount, args: list[str], settings: dict[str, str]
) -> None:
    data_dir = tmpfs("data", "1m", read_only=True)
    # Wide enough that rich does not fold the message inside the folder's name.
    env = {**process_env(data_dir=str(data_dir), **settings), "COLUMNS": "500"}
    done = _run(args, env)
    output = done.stdout + done.stderr
    assert done.returncode == 2, output
    assert "FINAGENCY_DATA_DIR" in done.stderr
    assert str(data_dir) in done.stderr
    assert "Read-only file system" in done.stderr
    assert "Traceback" not in output


def _fill(folder: Path) -> Path:
    """Write a file into `folder` until no byte more fits: the disk is full."""
    filler = folder / "filler"
    chunk = b"\0" * 65536
    with filler.open("wb", buffering=0) as handle:
        with contextlib.suppress(OSError):
            while True:
                handle.write(chunk)
        # The last bytes, in smaller steps, so that not even a page fits.
        with contextlib.suppress(OSError):
            while True:
                handle.write(b"\0" * 512)
    with pytest.raises(OSError, match="No space left") as full:
        (folder / "one-more").write_bytes(b"\0" * 4096)
    assert full.value.errno == errno.ENOSPC
    return filler


def _stored_keys(database: Path) -> dict[str, str]:
    """{idempotency key (without the user part): status} of the stored content requests."""
    with contextlib.closing(sqlite3.connect(database)) as connection:
        assert connection.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        rows = connection.execute("SELECT idempotency_key, status FROM content_requests")
        return {key.partition(":")[2]: status for key, status in rows}


@pytest.mark.timeout(180)
def test_a_full_data_dir_refuses_writes_with_507_keeps_reads_and_recovers(
    tmpfs: Mount, start_api: StartApi
) -> None:
    data_dir = tmpfs("data", DATA_DIR_SIZE)
    api = start_api(data_dir, embedded_worker="false")
    accepted: dict[str, int] = {}
    for _ in range(3):
        key = new_key()
        answer = api.request_content(key)
        assert answer.status_code == 202, answer.text
        accepted[key] = answer.json()["id"]

    filler = _fill(data_dir)
    before_full = len(accepted)
    # Free pages in the WAL still take a few writes; the first one that needs room must fail.
    for _ in range(MAX_WRITES_TO_FILL):
        refused = new_key()
        answer = api.request_content(refused)
        if answer.status_code != 202:
            break
        accepted[refused] = answer.json()["id"]
    body = assert_problem(answer, 507)
    assert body["type"].endswith("/storage-full")
    assert "nothing was stored" in body["detail"]

    # Reads keep working while nothing can be written.
    assert api.client.get("/health").status_code == 200
    first = next(iter(accepted.values()))
    read = api.client.get(f"/api/v1/content/requests/{first}", headers=api.headers)
    assert read.status_code == 200, read.text
    assert api.client.get("/api/v1/content", headers=api.headers).status_code == 200

    filler.unlink()
    # Room again: the same process writes again, and the refused key can be sent again.
    retried = api.request_content(refused)
    assert retried.status_code == 202, retried.text
    accepted[refused] = retried.json()["id"]
    api.server.stop()

    stored = _stored_keys(data_dir / "finagency.db")
    assert set(stored) == set(accepted), "a refused write was kept or an accepted one lost"
    assert set(stored.values()) == {"pending"}
    print(  # noqa: T201 - the figures of the run, for docs/reliability.md
        f"disk full: {len(accepted) - 1 - before_full} writes still fitted (free WAL pages), "
        "then 507; "
        f"accepted {len(accepted)}, lost 0, half-written 0 (integrity_check ok)"
    )
