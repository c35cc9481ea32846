"""infrastructure/nginx/ loaded by a real nginx on loopback, in front of the real app."""

from __future__ import annotations

import contextlib
import gzip
import json
import socket
import ssl
import threading
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.fixtures.servers import RunningProcess
from tests.fixtures.services import free_port
from tests.infra.fixtures_app import embedded_app, wait_for_records
from tests.infra.fixtures_nginx import Edge, check_config, render_nginx, running_nginx

SECURITY_HEADERS = {
    "strict-transport-security": "max-age=63072000; includeSubDomains",
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "strict-origin-when-cross-origin",
}


@pytest.fixture(scope="module")
def app_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningProcess]:
    with embedded_app(tmp_path_factory.mktemp("app"), embedded_worker="false") as server:
        yield server


@pytest.fixture(scope="module")
def edge(app_server: RunningProcess, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Edge]:
    rendered = render_nginx(tmp_path_factory.mktemp("edge"), f"127.0.0.1:{app_server.port}")
    with running_nginx(rendered) as running:
        yield running


def client(edge: Edge, source: str = "127.0.0.1", **kwargs: Any) -> httpx.Client:
    """An HTTPS client of the edge whose connections come from `source` (a loopback address)."""
    transport = httpx.HTTPTransport(local_address=source, verify=edge.ssl_context())
    return httpx.Client(transport=transport, base_url=edge.https_url, timeout=10, **kwargs)


def problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert body["request_id"] == response.headers["x-request-id"]
    return body


def app_requests(server: RunningProcess, client_address: str, path: str) -> list[dict[str, Any]]:
    return [
        record
        for record in server.json_logs()
        if record.get("event") == "request"
        and record.get("client") == client_address
        and record.get("path", record.get("route")) == path
    ]


@pytest.mark.parametrize("entry", ["nginx.conf", "nginx.bench.conf"])
def test_nginx_accepts_the_config(entry: str, tmp_path: Path) -> None:
    result = check_config(render_nginx(tmp_path, "127.0.0.1:8000", entry))
    assert result.returncode == 0, result.stderr
    assert "test is successful" in result.stderr


def test_tls_terminates_with_tls12_or_newer_and_forward_secret_ciphers(edge: Edge) -> None:
    for version in (ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3):
        context = edge.ssl_context()
        context.minimum_version = context.maximum_version = version
        with (
            socket.create_connection(("127.0.0.1", edge.https_port), timeout=5) as raw,
            context.wrap_socket(raw, server_hostname="localhost") as tls,
        ):
            assert tls.version() == version.name.replace("_", ".")
            cipher = tls.cipher()
            assert cipher is not None
            assert "GCM" in cipher[0] or "CHACHA20" in cipher[0]
    # TLS 1.1 is refused by nginx: the client is opened up to offer it, and the alert is the
    # server's "protocol version", not a client that could not offer anything.
    old = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    old.check_hostname = False
    old.verify_mode = ssl.CERT_NONE
    old.set_ciphers("DEFAULT:@SECLEVEL=0")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        old.minimum_version = ssl.TLSVersion.TLSv1
        old.maximum_version = ssl.TLSVersion.TLSv1_1
    with (
        socket.create_connection(("127.0.0.1", edge.https_port), timeout=5) as raw,
        pytest.raises(ssl.SSLError, match="PROTOCOL_VERSION"),
    ):
        old.wrap_socket(raw, server_hostname="localhost")


def test_https_passes_the_api_with_security_headers(edge: Edge) -> None:
    with client(edge) as http:
        response = http.get("/health")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"
    assert response.http_version in {"HTTP/1.1", "HTTP/2"}
    for name, value in SECURITY_HEADERS.items():
        assert response.headers[name] == value
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    assert "server" not in response.headers or "/" not in response.headers["server"]
    # One request id, not the app's echo plus nginx's.
    assert len(response.headers.get_list("x-request-id")) == 1


def test_plain_http_redirects_to_https_except_health(edge: Edge) -> None:
    with httpx.Client(base_url=edge.http_url, timeout=10) as http:
        redirect = http.get("/api/v1/content?status=draft")
        health = http.get("/health")
    assert redirect.status_code == 301
    assert redirect.headers["location"] == "https://127.0.0.1/api/v1/content?status=draft"
    assert health.status_code == 200
    assert health.json()["status"] == "ok"


def test_a_burst_of_logins_is_cut_with_429_by_nginx(edge: Edge, app_server: RunningProcess) -> None:
    source = "127.0.0.4"
    login = {"email": "burst@example.com", "password": "not the password 1"}
    with client(edge, source) as http:
        started = time.monotonic()
        statuses = [http.post("/api/v1/auth/login", json=login).status_code for _ in range(30)]
        elapsed = time.monotonic() - started
        refused = http.post(
            "/api/v1/auth/login", json=login, headers={"X-Request-ID": "burst-refused"}
        )
    # The app limits logins too (same rate), so count what reached it, from its own log.
    answered = [status for status in statuses if status != 429]
    wait_for_records(
        app_server,
        lambda r: r in app_requests(app_server, source, "/api/v1/auth/login"),
        len(answered),
    )
    time.sleep(0.3)
    reached = app_requests(app_server, source, "/api/v1/auth/login")
    # nginx let through burst 10 + the first + 5/s refilled while the burst ran, no more.
    assert len(answered) <= len(reached) <= 11 + int(5 * elapsed) + 1, statuses
    assert statuses.count(429) >= 30 - len(reached) > 0
    # The last one was refused by nginx itself: a JSON problem, and the app never saw it.
    body = problem(refused, 429)
    assert body["title"] == "Too Many Requests"
    assert body["request_id"] == "burst-refused"
    assert refused.headers["retry-after"] == "1"
    assert not [r for r in app_server.json_logs() if r.get("request_id") == "burst-refused"]


def test_the_dashboard_sign_in_form_shares_the_auth_zone(edge: Edge) -> None:
    form = {"email": "burst@example.com", "password": "not the password 1", "csrf_token": "x"}
    with client(edge, "127.0.0.12") as http:
        started = time.monotonic()
        statuses = [http.post("/login", data=form).status_code for _ in range(30)]
        elapsed = time.monotonic() - started
    passed = [status for status in statuses if status != 429]
    # burst 10 + the first + 5/s refilled while the burst ran (general traffic would allow 21+).
    assert len(passed) <= 11 + int(5 * elapsed) + 1, statuses
    assert statuses.count(429) >= 30 - len(passed) > 0


def test_general_traffic_is_throttled_at_10_per_second_and_recovers(edge: Edge) -> None:
    with client(edge, "127.0.0.3") as http:
        started = time.monotonic()
        statuses = [http.get("/openapi.json").status_code for _ in range(40)]
        elapsed = time.monotonic() - started
        passed = statuses.count(200)
        # burst 20 + the first + 10/s during the run.
        assert 21 <= passed <= 21 + int(10 * elapsed) + 1, statuses
        assert statuses.count(429) == 40 - passed
        time.sleep(0.5)  # 10 r/s: five requests' worth of budget comes back
        assert http.get("/openapi.json").status_code == 200


def test_api_traffic_has_the_higher_api_rate(edge: Edge) -> None:
    # 60 quick calls are far beyond the general zone's burst but within the API zone's.
    with client(edge, "127.0.0.5") as http:
        statuses = {http.get("/api/v1/no-such-thing").status_code for _ in range(60)}
    assert statuses == {404}


def test_health_is_never_throttled(edge: Edge) -> None:
    with client(edge, "127.0.0.6") as http:
        statuses = {http.get("/health").status_code for _ in range(60)}
    assert statuses == {200}


def test_oversize_bodies_get_413(edge: Edge, app_server: RunningProcess) -> None:
    with client(edge, "127.0.0.7") as http:
        too_big_upload = http.post("/api/v1/media", content=b"x" * (10 * 1024 * 1024 + 1))
        upload = http.post("/api/v1/media", content=b"x" * (2 * 1024 * 1024))
        too_big_json = http.post("/api/v1/content/requests", content=b"x" * (1024 * 1024 + 1))
    assert problem(too_big_upload, 413)["title"] == "Payload Too Large"
    assert upload.status_code == 401  # 2 MiB is a fine upload: it reached the app (who is it?)
    problem(too_big_json, 413)
    assert not app_requests(app_server, "127.0.0.7", "/api/v1/content/requests")


def test_json_html_and_css_are_gzipped(edge: Edge) -> None:
    (edge.static_dir / "app.css").write_text("body { color: #123456; }\n" * 200)
    with client(edge, "127.0.0.8", headers={"Accept-Encoding": "gzip"}) as http:
        for path, kind in [
            ("/openapi.json", "application/json"),
            ("/docs", "text/html"),
            ("/static/app.css", "text/css"),
        ]:
            # Read the raw bytes to see the encoding on the wire, not httpx's decoded text.
            with http.stream("GET", path) as response:
                raw = b"".join(response.iter_raw())
            assert response.status_code == 200
            assert response.headers["content-type"].startswith(kind)
            assert response.headers["content-encoding"] == "gzip", path
            assert "Accept-Encoding" in response.headers["vary"]
            assert len(gzip.decompress(raw)) > len(raw)


def test_static_files_are_served_by_nginx_with_a_long_cache(
    edge: Edge, app_server: RunningProcess
) -> None:
    (edge.static_dir / "chart.js").write_text("console.log('chart');\n")
    with client(edge, "127.0.0.9") as http:
        response = http.get("/static/chart.js")
        missing = http.get("/static/absent.js")
        escape = http.get("/static/../etc/nginx.conf")
    assert response.status_code == 200
    assert response.text == "console.log('chart');\n"
    assert response.headers["content-type"].startswith("application/javascript")
    assert response.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert missing.status_code == 404
    assert escape.status_code in {400, 404}
    assert not app_requests(app_server, "127.0.0.9", "/static/chart.js")


def test_metrics_only_from_internal_addresses(edge: Edge, app_server: RunningProcess) -> None:
    with client(edge, "127.0.0.1") as inside:
        allowed = inside.get("/metrics")
    with client(edge, "127.0.0.2") as outside:
        refused = outside.get("/metrics")
    assert allowed.status_code == 200
    assert "http_requests_total" in allowed.text
    assert refused.status_code == 403
    assert "http_requests_total" not in refused.text
    assert not app_requests(app_server, "127.0.0.2", "/metrics")
    with httpx.Client(timeout=5) as http:
        status = http.get(f"http://127.0.0.1:{edge.status_port}/stub_status")
    assert status.status_code == 200
    assert "Active connections" in status.text


def test_the_request_id_reaches_the_app_and_both_logs(
    edge: Edge, app_server: RunningProcess
) -> None:
    with client(edge, "127.0.0.10") as http:
        given = http.get("/api/v1/ping-1", headers={"X-Request-ID": "edge-test.42"})
        made = http.get("/api/v1/ping-2")
        forged = http.get("/api/v1/ping-3", headers={"X-Request-ID": 'x" injected'})
        # X-Forwarded-For from the client is kept, but the app believes only nginx's append.
        spoofed = http.get("/api/v1/ping-4", headers={"X-Forwarded-For": "203.0.113.9"})
    assert given.headers["x-request-id"] == "edge-test.42"
    generated = made.headers["x-request-id"]
    assert len(generated) == 32
    assert forged.headers["x-request-id"] != 'x" injected'
    for response in (given, made, forged, spoofed):
        assert response.json()["request_id"] == response.headers["x-request-id"]

    records = wait_for_records(
        app_server, lambda r: str(r.get("path", "")).startswith("/api/v1/ping-"), 4
    )
    by_path = {record["path"]: record for record in records}
    assert by_path["/api/v1/ping-1"]["request_id"] == "edge-test.42"
    assert by_path["/api/v1/ping-2"]["request_id"] == generated
    assert by_path["/api/v1/ping-3"]["request_id"] == forged.headers["x-request-id"]
    assert by_path["/api/v1/ping-4"]["client"] == "127.0.0.10"

    access: dict[str, dict[str, Any]] = {}
    deadline = time.monotonic() + 5
    while len(access) < 4 and time.monotonic() < deadline:
        lines = edge.access_log.read_text().splitlines()
        access = {
            entry["uri"]: entry
            for entry in map(json.loads, lines)
            if entry["uri"].startswith("/api/v1/ping-")
        }
        time.sleep(0.05)
    entry = access["/api/v1/ping-1"]
    assert entry["request_id"] == "edge-test.42"
    assert entry["status"] == 404
    assert entry["upstream_addr"] == f"127.0.0.1:{app_server.port}"
    assert float(entry["upstream_response_time"]) >= 0
    assert entry["tls"] in {"TLSv1.2", "TLSv1.3"}
    assert access["/api/v1/ping-2"]["request_id"] == generated
    assert access["/api/v1/ping-4"]["x_forwarded_for"] == "203.0.113.9"


@contextlib.contextmanager
def silent_upstream() -> Iterator[int]:
    """A TCP server that accepts connections and never answers (a hung API)."""
    server = socket.create_server(("127.0.0.1", 0))
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.1)
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                accepted.append(server.accept()[0])

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield int(server.getsockname()[1])
    finally:
        stop.set()
        thread.join(5)
        for connection in accepted:
            connection.close()
        server.close()


def test_an_unreachable_or_hung_api_gives_json_502_and_504(tmp_path: Path) -> None:
    refused = render_nginx(tmp_path / "refused", f"127.0.0.1:{free_port()}")
    with running_nginx(refused), client(refused) as http:
        body = problem(http.get("/api/v1/anything"), 502)
    assert body["title"] == "Bad Gateway"

    with silent_upstream() as port:
        hung = render_nginx(
            tmp_path / "hung",
            f"127.0.0.1:{port}",
            extra={"proxy_read_timeout 60s": "proxy_read_timeout 1s"},
        )
        with running_nginx(hung), client(hung) as http:
            body = problem(http.get("/api/v1/anything"), 504)
    assert body["title"] == "Gateway Timeout"


def test_the_benchmark_variant_lifts_the_rate_limits(
    app_server: RunningProcess, tmp_path: Path
) -> None:
    bench = render_nginx(tmp_path, f"127.0.0.1:{app_server.port}", "nginx.bench.conf")
    # (Real logins would meet the app's own limiter; an unknown auth path shows nginx's.)
    with running_nginx(bench), client(bench, "127.0.0.11") as http:
        auth = {http.post("/api/v1/auth/no-such-thing", json={}).status_code for _ in range(40)}
        pages = {http.get("/openapi.json").status_code for _ in range(40)}
    assert 429 not in auth
    assert pages == {200}
