"""A real Prometheus, loaded with infrastructure/monitoring/prometheus.yml, scrapes the real app."""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import yaml

from tests.fixtures.services import free_port, wait_for_port
from tests.infra.fixtures_app import embedded_app
from tests.infra.fixtures_monitoring import MONITORING, RULES, tool


def render(root: Path, api_port: int) -> Path:
    """prometheus.yml with its paths under root, fast intervals, and only the app as a target."""
    shutil.copytree(MONITORING, root)
    targets = root / "targets"
    shutil.rmtree(targets)
    targets.mkdir()
    # Only the app: no other job's file exists, so nothing outside loopback is looked up.
    (targets / "finagency-api.yml").write_text(
        yaml.safe_dump([{"targets": [f"127.0.0.1:{api_port}"], "labels": {"deployment": "test"}}])
    )
    config = root / "prometheus.yml"
    text = config.read_text()
    for old, new in [
        ("/etc/prometheus/", f"{root}/"),
        ("scrape_interval: 15s", "scrape_interval: 1s"),
        ("scrape_timeout: 10s", "scrape_timeout: 1s"),
        ("evaluation_interval: 15s", "evaluation_interval: 1s"),
    ]:
        assert old in text, old
        text = text.replace(old, new)
    config.write_text(text)
    return config


@contextlib.contextmanager
def prometheus(config: Path, storage: Path) -> Iterator[str]:
    port = free_port()
    command = [
        tool("prometheus"),
        f"--config.file={config}",
        f"--storage.tsdb.path={storage}",
        f"--web.listen-address=127.0.0.1:{port}",
    ]
    with (storage.parent / "prometheus.log").open("wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_for_port(port, timeout=30)
        yield f"http://127.0.0.1:{port}/api/v1"
    finally:
        process.terminate()
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


def poll(read: Callable[[], Any], done: Callable[[Any], bool], timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = read()
        if done(value) or time.monotonic() > deadline:
            return value
        time.sleep(0.25)


def test_prometheus_scrapes_the_app_and_evaluates_every_rule(tmp_path: Path) -> None:
    with embedded_app(tmp_path / "app", embedded_worker="false") as app:
        for _ in range(3):
            httpx.get(f"{app.base_url}/health", timeout=5)
        config = render(tmp_path / "prometheus", app.port)
        with prometheus(config, tmp_path / "tsdb") as api, httpx.Client(timeout=5) as http:

            def query(promql: str) -> list[dict[str, Any]]:
                body = http.get(f"{api}/query", params={"query": promql}).json()
                assert body["status"] == "success", body
                result: list[dict[str, Any]] = body["data"]["result"]
                return result

            requests = poll(
                lambda: query('http_requests_total{job="finagency-api", route="/health"}'),
                lambda result: bool(result),
            )
            assert requests, (tmp_path / "prometheus.log").read_text()
            sample = requests[0]
            assert sample["metric"]["instance"] == f"127.0.0.1:{app.port}"
            assert sample["metric"]["deployment"] == "test"
            assert sample["metric"]["status"] == "200"
            assert float(sample["value"][1]) >= 3
            assert float(query('up{job="finagency-api"}')[0]["value"][1]) == 1
            # The embedded API reports its queues and its in-process worker.
            queues = {
                r["metric"]["queue"] for r in query("max by (queue) (finagency_queue_length)")
            }
            assert queues == {"default", "market", "content", "publishing"}

            # Every rule group loads and evaluates without an error against real data.
            def rule_groups() -> list[dict[str, Any]]:
                groups: list[dict[str, Any]] = http.get(f"{api}/rules").json()["data"]["groups"]
                return groups

            groups = poll(
                rule_groups,
                lambda groups: (
                    bool(groups)
                    and all(
                        rule.get("lastEvaluation", "0001").startswith("20")
                        for g in groups
                        for rule in g["rules"]
                    )
                ),
            )
            assert len(groups) == len(RULES)
            unhealthy = [
                (rule["name"], rule.get("lastError"))
                for group in groups
                for rule in group["rules"]
                if rule["health"] != "ok"
            ]
            assert not unhealthy

            # The API is up and answers scrapes: its availability alerts are not even pending.
            def availability_alerts() -> list[dict[str, Any]]:
                alerts: list[dict[str, Any]] = http.get(f"{api}/alerts").json()["data"]["alerts"]
                names = {"ApiDown", "ApiInstanceDown"}
                return [alert for alert in alerts if alert["labels"]["alertname"] in names]

            assert poll(availability_alerts, lambda alerts: not alerts) == []
