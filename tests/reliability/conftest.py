"""The API as a `finagency serve` process, migrated and signed in, for the fault-injection tests."""

from __future__ import annotations

import contextlib
import subprocess
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.fixtures.accounts import FAST_HASHING
from tests.fixtures.servers import (
    FINAGENCY,
    RunningProcess,
    create_user,
    process_env,
    run_finagency,
)
from tests.fixtures.services import free_port

PASSWORD = "cobalt-harbour-lantern-58"
# Any symbol the migrations put in the catalogue.
REQUEST = {"type": "market_update", "symbols": ["^GSPC"], "channels": ["file"]}


@dataclass
class Api:
    """A served API and one user signed in to it (a bearer token)."""

    server: RunningProcess
    client: httpx.Client
    headers: dict[str, str]
    env: dict[str, str]

    def request_content(self, key: str, headers: dict[str, str] | None = None) -> httpx.Response:
        """POST a content request under an Idempotency-Key (as the signed-in user by default)."""
        return self.client.post(
            "/api/v1/content/requests",
            json=REQUEST,
            headers={**(headers or self.headers), "Idempotency-Key": key},
        )


def new_key() -> str:
    return uuid.uuid4().hex


def migrate(env: dict[str, str]) -> None:
    done = subprocess.run(
        [*FINAGENCY, "migrate"], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr


StartApi = Callable[..., Api]


@pytest.fixture
def start_api(tmp_path: Path) -> Iterator[StartApi]:
    """start(data_dir, role, **settings): migrate, create a user, serve, log in. Every process
    is stopped after the test, even when it fails."""
    with contextlib.ExitStack() as stack:

        def start(data_dir: Path, role: str = "analyst", **settings: Any) -> Api:
            fast = {name: str(value) for name, value in FAST_HASHING.items()}
            env = process_env(data_dir=str(data_dir), **fast, **settings)
            migrate(env)
            email = f"{role}-{new_key()[:8]}@example.com"
            create_user(env, email, role, PASSWORD)
            port = free_port()
            serve = ["serve", "--host", "127.0.0.1", "--port", str(port)]
            server = stack.enter_context(
                run_finagency(serve, tmp_path / f"serve-{port}.log", env, port=port)
            )
            client = stack.enter_context(httpx.Client(base_url=server.base_url, timeout=20))
            login = client.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD})
            assert login.status_code == 200, login.text
            headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
            return Api(server, client, headers, env)

        yield start


def assert_problem(response: httpx.Response, status: int) -> dict[str, Any]:
    """`response` is a problem document with `status`; its body."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    return body
