"""The app keeps an idle connection longer than nginx keeps an idle upstream connection.

Otherwise nginx can send a request on a connection the app is closing at that moment, and
nginx answers 502 (it does not retry a POST elsewhere): seen in CI under load as a 502 for an
upload that should have got a 401.
"""

from __future__ import annotations

import re
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from finagency.cli import KEEP_ALIVE_SECONDS
from tests.fixtures.servers import RunningProcess
from tests.infra.fixtures_app import embedded_app

NGINX_SITE = Path(__file__).resolve().parents[2] / "infrastructure/nginx/conf.d/finagency.conf"
UVICORN_DEFAULT_SECONDS = 5


@pytest.fixture(scope="module")
def app_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningProcess]:
    with embedded_app(tmp_path_factory.mktemp("app"), embedded_worker="false") as server:
        yield server


def _status(connection: socket.socket) -> int:
    """The status of one response; its body is read and dropped."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = connection.recv(65536)
        assert chunk, "the app closed the connection"
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = int(re.search(rb"(?i)content-length: *(\d+)", head).group(1))  # type: ignore[union-attr]
    while len(body) < length:
        body += connection.recv(65536)
    return int(head.split()[1])


def test_an_idle_connection_outlives_the_old_five_seconds(app_server: RunningProcess) -> None:
    with socket.create_connection(("127.0.0.1", app_server.port), timeout=20) as connection:
        connection.sendall(b"GET /health HTTP/1.1\r\nHost: app\r\n\r\n")
        assert _status(connection) == 200
        time.sleep(UVICORN_DEFAULT_SECONDS + 1.5)
        connection.sendall(b"GET /health HTTP/1.1\r\nHost: app\r\n\r\n")
        assert _status(connection) == 200


def test_nginx_lets_go_of_idle_upstream_connections_first() -> None:
    upstream = re.search(r"upstream finagency_api \{(.*?)\}", NGINX_SITE.read_text(), re.S)
    assert upstream is not None
    timeout = re.search(r"keepalive_timeout (\d+)s;", upstream.group(1))
    assert timeout is not None
    assert int(timeout.group(1)) < KEEP_ALIVE_SECONDS
