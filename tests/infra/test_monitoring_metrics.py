"""Every app metric that an alert rule or a dashboard names is exported, with the labels used.

The app runs as in the full stack (API + a Celery worker on PostgreSQL and Redis), is exercised,
and the union of what the API's and the worker's /metrics serve is compared with the names in
infrastructure/monitoring/. Metrics that a feature issue promises but that are not built yet are
listed in AWAITING_FEATURE: the test fails when a metric is neither exported nor listed, and when
a listed one has become exported (then delete it from the list), so the list only shrinks.
"""

from __future__ import annotations

import time
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from finagency import tasks
from finagency.settings import load_settings
from tests.fixtures.servers import create_user, process_env, run_finagency
from tests.fixtures.services import free_port
from tests.infra.fixtures_monitoring import grouping_uses, used_app_metrics

# Metric family → the issue that builds it (names from DESIGN.md §7 and the issues' Metrics).
AWAITING_FEATURE: dict[str, str] = {}


def exported_metrics(*texts: str) -> dict[str, set[str]]:
    """Metric name (as PromQL sees it) → the label names of its samples, from /metrics texts."""
    exported: dict[str, set[str]] = {}
    for text in texts:
        for family in text_string_to_metric_families(text):
            name = f"{family.name}_total" if family.type == "counter" else family.name
            labels = exported.setdefault(name, set())
            for sample in family.samples:
                labels.update(set(sample.labels) - {"le"})
    return exported


def _wait_for_text(url: str, needle: str, timeout: float = 30.0) -> str:
    deadline = time.monotonic() + timeout
    text = ""
    while time.monotonic() < deadline:
        text = httpx.get(url, timeout=5).text
        if needle in text:
            return text
        time.sleep(0.2)
    raise AssertionError(f"{needle!r} never appeared at {url}:\n{text}")


PASSWORD = "plum-velvet-harbour-73"


def _signed_in(base_url: str, env: dict[str, str], email: str, role: str) -> dict[str, str]:
    create_user(env, email, role, PASSWORD)
    login = {"email": email, "password": PASSWORD}
    token = httpx.post(f"{base_url}/api/v1/auth/login", json=login, timeout=10).json()
    return {"Authorization": f"Bearer {token['access_token']}"}


def _add_expiring_channel(base_url: str, env: dict[str, str]) -> None:
    headers = _signed_in(base_url, env, "admin@example.com", "admin")
    body = {
        "type": "x",
        "name": "x-main",
        "credentials": {"access_token": "not-a-real-token", "expires_at": "2027-01-01T00:00:00Z"},
    }
    created = httpx.post(f"{base_url}/api/v1/channels", json=body, headers=headers, timeout=10)
    assert created.status_code == 201, created.text


def _request_content(base_url: str, env: dict[str, str]) -> None:
    headers = _signed_in(base_url, env, "analyst@example.com", "analyst")
    body = {"type": "market_update", "symbols": ["^GSPC"], "channels": ["x"]}
    response = httpx.post(f"{base_url}/api/v1/content/requests", json=body, headers=headers)
    assert response.status_code == 202, response.text
    location = f"{base_url}{response.headers['location']}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        state = httpx.get(location, headers=headers, timeout=10).json()
        if state["status"] in {"done", "failed"}:
            assert state["status"] == "done", state
            return
        time.sleep(0.2)
    raise AssertionError("the content request never finished")


def test_every_metric_in_rules_and_dashboards_is_exported_with_its_labels(
    tmp_path: Path, committed_database_url: str, redis_url: tuple[str, str]
) -> None:
    url, prefix = redis_url
    feed = Path(__file__).resolve().parent.parent / "research" / "data" / "markets.rss"
    settings = {
        "database_url": committed_database_url,
        "redis_url": url,
        "redis_prefix": prefix,
        # Finnhub without a key fails at once (no network): a provider error to count.
        "market_providers": "simulated,finnhub",
        "research_feeds": feed.as_uri(),
    }
    worker_port, api_port = free_port(), free_port()
    celery = tasks.create_celery(
        load_settings(data_dir=tmp_path, redis_url=url, redis_prefix=prefix)
    )
    try:
        with (
            run_finagency(
                ["worker", "--concurrency", "1", "--metrics-port", str(worker_port)],
                tmp_path / "worker.log",
                process_env(data_dir=str(tmp_path / "worker"), **settings),
                port=worker_port,
                wait="port",
            ),
            run_finagency(
                ["serve", "--host", "127.0.0.1", "--port", str(api_port)],
                tmp_path / "serve.log",
                process_env(data_dir=str(tmp_path / "api"), **settings),
                port=api_port,
            ) as api,
        ):
            # Exercise the app: health, readiness, errors, a failed login, a bad token, a task.
            for path in ("/health", "/ready", "/openapi.json", "/api/v1/no-such-route"):
                httpx.get(f"{api.base_url}{path}", timeout=10)
            login = {"email": "nobody@example.com", "password": "not the password 1"}
            httpx.post(f"{api.base_url}/api/v1/auth/login", json=login, timeout=10)
            bad_token = {"Authorization": "Bearer not-a-token"}
            httpx.get(f"{api.base_url}/api/v1/auth/me", headers=bad_token, timeout=10)
            assert celery.send_task("system.ping", queue="default").get(timeout=30)["pong"]
            # A market refresh and a feed read, so that their metrics carry their labels.
            assert celery.send_task("market.refresh", queue="market").get(timeout=60)
            assert celery.send_task("research.fetch_feeds").get(timeout=60)["new_items"] > 0
            # A content request through the API, written by the worker and checked.
            cli_env = process_env(data_dir=str(tmp_path / "cli"), **settings)
            _request_content(api.base_url, cli_env)
            # A channel whose credential expires, so that its gauge has a series.
            _add_expiring_channel(api.base_url, cli_env)
            worker_text = _wait_for_text(
                f"http://127.0.0.1:{worker_port}/metrics", 'state="succeeded"'
            )
            api_text = _wait_for_text(f"{api.base_url}/metrics", "finagency_workers 1.0")
    finally:
        celery.close()

    exported = exported_metrics(api_text, worker_text)
    used = used_app_metrics()
    assert {"http_requests_total", "finagency_tasks_total", "finagency_workers"} <= set(used)

    missing = sorted(set(used) - set(exported) - set(AWAITING_FEATURE))
    assert not missing, f"named in rules/dashboards but not exported by the app: {missing}"
    landed = sorted(set(AWAITING_FEATURE) & set(exported))
    assert not landed, f"now exported: remove from AWAITING_FEATURE: {landed}"
    unused = sorted(set(AWAITING_FEATURE) - set(used))
    assert not unused, f"listed as awaited but named by no rule or dashboard: {unused}"

    for name, labels in used.items():
        if name in exported:
            assert labels <= exported[name], f"{name} has no label {labels - exported[name]}"
    for where, names, grouping in grouping_uses():
        if names <= set(exported):
            available = set().union(*(exported[name] for name in names))
            assert grouping <= available, f"{where}: {names} lack {grouping - available}"
