"""The request log line, read from a real `finagency serve` process."""

from pathlib import Path

import httpx

from tests.fixtures.servers import process_env, run_finagency
from tests.fixtures.services import free_port


def test_one_json_line_per_request_with_its_id_and_no_secrets(
    tmp_path: Path, database_url: str, backend: str
) -> None:
    port = free_port()
    env = process_env(data_dir=str(tmp_path), database_url=database_url, embedded_worker="false")
    with run_finagency(
        ["serve", "--port", str(port)], tmp_path / "serve.log", env, port=port
    ) as server:
        response = httpx.get(
            f"{server.base_url}/ready",
            headers={
                "X-Request-ID": "req-abc.123",
                "Authorization": "Bearer top-secret-token",
                "Cookie": "session=cookie-secret",
            },
        )
        assert response.headers["x-request-id"] == "req-abc.123"
        # An id that could forge log lines is replaced by one of ours.
        forged = httpx.get(f"{server.base_url}/health", headers={"X-Request-ID": "a\tb" * 100})
        assert forged.headers["x-request-id"] != "a\tb" * 100
        httpx.get(f"{server.base_url}/api/v1/unknown?token=query-secret")
        server.stop()

    requests = [r for r in server.json_logs() if r.get("event") == "request"]
    ready = [r for r in requests if r.get("request_id") == "req-abc.123"]
    assert len(ready) == 1
    line = ready[0]
    assert line["method"] == "GET"
    assert line["route"] == "/ready"
    assert line["status"] == 200
    assert isinstance(line["duration_ms"], float)
    assert line["level"] == "info"
    unmatched = [r for r in requests if r["route"] == "unmatched"]
    assert unmatched[0]["path"] == "/api/v1/unknown"
    text = server.log_path.read_text()
    for secret in ("top-secret-token", "cookie-secret", "query-secret"):
        assert secret not in text
