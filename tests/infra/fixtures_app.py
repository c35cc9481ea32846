"""A real `finagency serve` on a SQLite file of its own, for tests of what stands in front of it."""

from __future__ import annotations

import contextlib
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from tests.fixtures.servers import FINAGENCY, RunningProcess, process_env, run_finagency
from tests.fixtures.services import free_port

REPO = Path(__file__).resolve().parents[2]


@contextlib.contextmanager
def embedded_app(folder: Path, **settings: str) -> Iterator[RunningProcess]:
    """Migrate a fresh SQLite database under `folder` and serve the app on a free port."""
    folder.mkdir(parents=True, exist_ok=True)
    env = process_env(
        data_dir=str(folder),
        database_url=f"sqlite:///{folder / 'finagency.db'}",
        log_format="json",
        **settings,
    )
    subprocess.run([*FINAGENCY, "migrate"], env=env, check=True, capture_output=True, timeout=60)
    port = free_port()
    args = ["serve", "--host", "127.0.0.1", "--port", str(port)]
    with run_finagency(args, folder / "serve.log", env, port=port) as server:
        yield server


def wait_for_records(
    server: RunningProcess,
    wanted: Callable[[dict[str, Any]], bool],
    count: int = 1,
    timeout: float = 5.0,
) -> list[dict[str, Any]]:
    """The app's log records matching `wanted`, once at least `count` of them are written."""
    deadline = time.monotonic() + timeout
    while True:
        found = [record for record in server.json_logs() if wanted(record)]
        if len(found) >= count or time.monotonic() > deadline:
            return found
        time.sleep(0.05)
