"""infrastructure/monitoring/ checked by the real tools: promtool, amtool and Alertmanager."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.fixtures.services import free_port, wait_for_port
from tests.infra.fixtures_monitoring import (
    DASHBOARDS,
    MONITORING,
    RULE_TESTS,
    RULES,
    RUNBOOKS,
    alerts,
    dashboard_queries,
    load_yaml,
    panels,
    promql_expressions,
    run_tool,
)

AREAS = {"system", "application", "database", "workers", "publishing", "business", "security"}
AREAS |= {"certificates"}
DASHBOARD_TITLES = {
    "System Overview",
    "Application Performance",
    "Database Monitoring",
    "Business Metrics",
    "Security",
}


def render_prometheus(tmp_path: Path, config: str = "prometheus.yml") -> Path:
    """The monitoring folder copied under tmp_path with /etc/prometheus/ pointing at it."""
    root = tmp_path / "prometheus"
    shutil.copytree(MONITORING, root)
    target = root / config
    text = target.read_text()
    assert "/etc/prometheus/" in text
    target.write_text(text.replace("/etc/prometheus/", f"{root}/"))
    return target


def runbook_anchors() -> set[str]:
    """GitHub-style anchors of the headings of docs/runbooks.md."""
    anchors = set()
    for heading in re.findall(r"^#{1,6}\s+(.+?)\s*$", RUNBOOKS.read_text(), re.MULTILINE):
        anchors.add(re.sub(r"[^a-z0-9 _-]", "", heading.lower()).replace(" ", "-"))
    return anchors


# --- Prometheus ----------------------------------------------------------------------------


def test_promtool_accepts_the_prometheus_config_and_its_rules(tmp_path: Path) -> None:
    result = run_tool("promtool", "check", "config", str(render_prometheus(tmp_path)))
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(RULES)} rule files found" in result.stdout


def test_the_kubernetes_config_is_valid_apart_from_service_discovery(tmp_path: Path) -> None:
    # Debian's Prometheus is built without Kubernetes discovery, so promtool cannot read
    # kubernetes_sd_configs: check the roles here and let promtool check everything else.
    config_path = render_prometheus(tmp_path, "prometheus-kubernetes.yml")
    config = yaml.safe_load(config_path.read_text())
    discovered = 0
    for job in config["scrape_configs"]:
        for sd in job.pop("kubernetes_sd_configs", []):
            assert sd["role"] in {"pod", "service", "node", "endpoints", "endpointslice"}
            discovered += 1
            job.setdefault("static_configs", [])
    assert discovered >= 4
    # The service account's token and CA, as Kubernetes mounts them into the pod.
    account = tmp_path / "serviceaccount"
    account.mkdir()
    (account / "token").write_text("token")
    (account / "ca.crt").write_text("")
    text = yaml.safe_dump(config).replace(
        "/var/run/secrets/kubernetes.io/serviceaccount", str(account)
    )
    config_path.write_text(text)
    result = run_tool("promtool", "check", "config", str(config_path))
    assert result.returncode == 0, result.stdout + result.stderr


def test_both_configs_scrape_the_jobs_the_rules_select() -> None:
    compose = load_yaml(MONITORING / "prometheus.yml")
    jobs = {job["job_name"] for job in compose["scrape_configs"]}
    selected = set()
    for alert in alerts():
        selected.update(re.findall(r'job="([^"]+)"', alert.expr))
    assert selected <= jobs, selected - jobs
    for job in jobs - {"prometheus", "blackbox-health"}:
        assert (MONITORING / "targets" / f"{job}.yml").exists(), job
    kubernetes = (MONITORING / "prometheus-kubernetes.yml").read_text()
    assert "__meta_kubernetes_pod_annotation_prometheus_io_job" in kubernetes
    assert "blackbox-health" in kubernetes


def test_promtool_accepts_every_rule_file() -> None:
    result = run_tool("promtool", "check", "rules", *map(str, RULES))
    assert result.returncode == 0, result.stdout + result.stderr
    for path in RULES:
        # Plain Prometheus rule files (a PrometheusRule is generated from them).
        assert set(load_yaml(path)) == {"groups"}, path


def test_every_alert_is_ready_for_the_person_it_wakes() -> None:
    anchors = runbook_anchors()
    names = [alert.name for alert in alerts()]
    assert len(names) == len(set(names)), "alert names must be unique"
    assert len(names) >= 30
    for alert in alerts():
        assert alert.labels.get("severity") in {"critical", "warning"}, alert.name
        assert alert.labels.get("area") in AREAS, alert.name
        assert alert.annotations.get("summary"), alert.name
        assert alert.annotations.get("description"), alert.name
        assert alert.annotations["runbook_url"] == f"docs/runbooks.md#{alert.name.lower()}"
        assert alert.name.lower() in anchors, f"docs/runbooks.md has no section {alert.name}"


def test_the_areas_of_the_guide_are_all_covered() -> None:
    by_area: dict[str, set[str]] = {}
    for alert in alerts():
        by_area.setdefault(alert.labels["area"], set()).add(alert.name)
    assert AREAS <= set(by_area)
    assert {"critical", "warning"} == {alert.labels["severity"] for alert in alerts()}


def test_promtool_unit_tests_pass() -> None:
    result = run_tool("promtool", "test", "rules", *map(str, RULE_TESTS))
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("SUCCESS") == len(RULE_TESTS)


def test_every_alert_has_a_unit_test_that_fires_and_one_that_stays_silent() -> None:
    fires: set[str] = set()
    silent: set[str] = set()
    tested_files: set[Path] = set()
    for path in RULE_TESTS:
        suite = load_yaml(path)
        tested_files.update((path.parent / f).resolve() for f in suite["rule_files"])
        for case in suite["tests"]:
            for check in case.get("alert_rule_test", []):
                (fires if check["exp_alerts"] else silent).add(check["alertname"])
    assert tested_files == {path.resolve() for path in RULES}
    names = {alert.name for alert in alerts()}
    assert names - fires == set(), "alerts never shown to fire"
    assert names - silent == set(), "alerts never shown to stay silent"


# --- Alertmanager --------------------------------------------------------------------------


def render_alertmanager(tmp_path: Path, dead_port: int) -> Path:
    """alertmanager.yml with its paths under tmp_path and every receiver pointed at loopback."""
    root = tmp_path / "alertmanager"
    shutil.copytree(MONITORING / "alertmanager", root)
    secrets = root / "secrets"
    secrets.mkdir()
    (secrets / "pagerduty_routing_key").write_text("test-routing-key")
    (secrets / "smtp_password").write_text("test-password")
    (secrets / "slack_webhook_url").write_text(f"http://127.0.0.1:{dead_port}/slack")
    config = root / "alertmanager.yml"
    text = config.read_text().replace("/etc/alertmanager/", f"{root}/")
    text = text.replace("smtp.finagency.example:587", f"127.0.0.1:{dead_port}")
    text = text.replace(
        "https://events.pagerduty.com/v2/enqueue", f"http://127.0.0.1:{dead_port}/pd"
    )
    config.write_text(text)
    return config


def test_amtool_accepts_the_config(tmp_path: Path) -> None:
    result = run_tool("amtool", "check-config", str(render_alertmanager(tmp_path, free_port())))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "4 inhibit rules" in result.stdout


@pytest.mark.parametrize(
    ("labels", "receiver"),
    [
        (["severity=critical", "alertname=ApiDown"], "pager-and-email"),
        (["severity=warning", "alertname=HostDiskSpaceLow"], "chat"),
        (["alertname=Watchdog"], "chat"),
    ],
)
def test_alerts_are_routed_by_severity(tmp_path: Path, labels: list[str], receiver: str) -> None:
    config = render_alertmanager(tmp_path, free_port())
    result = run_tool("amtool", "config", "routes", "test", f"--config.file={config}", *labels)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.split() == [receiver]


def test_a_critical_alert_inhibits_its_warning_in_a_real_alertmanager(tmp_path: Path) -> None:
    binary = (
        "prometheus-alertmanager" if shutil.which("prometheus-alertmanager") else "alertmanager"
    )
    config = render_alertmanager(tmp_path, free_port())
    port, cluster = free_port(), free_port()
    command = [
        shutil.which(binary) or run_tool(binary).args[0],
        f"--config.file={config}",
        f"--storage.path={tmp_path / 'data'}",
        f"--web.listen-address=127.0.0.1:{port}",
        f"--cluster.listen-address=127.0.0.1:{cluster}",
        "--cluster.advertise-address=127.0.0.1:9094",
    ]
    with (tmp_path / "alertmanager.log").open("wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_for_port(port, timeout=20)
        base = f"http://127.0.0.1:{port}/api/v2"
        disk = {"area": "system", "instance": "db-1:9100", "mountpoint": "/var/lib/postgresql"}
        posted = [
            {"labels": {"alertname": "HostDiskSpaceCritical", "severity": "critical", **disk}},
            {"labels": {"alertname": "HostDiskSpaceLow", "severity": "warning", **disk}},
            # The same warning on another disk is news of its own.
            {
                "labels": {
                    "alertname": "HostDiskSpaceLow",
                    "severity": "warning",
                    **disk,
                    "mountpoint": "/",
                }
            },
        ]
        assert httpx.post(f"{base}/alerts", json=posted, timeout=5).status_code == 200
        states: dict[tuple[str, str], Any] = {}
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            listed = httpx.get(f"{base}/alerts", timeout=5).json()
            states = {
                (a["labels"]["alertname"], a["labels"]["mountpoint"]): a["status"] for a in listed
            }
            if states.get(("HostDiskSpaceLow", "/var/lib/postgresql"), {}).get("inhibitedBy"):
                break
            time.sleep(0.2)
        assert states[("HostDiskSpaceLow", "/var/lib/postgresql")]["state"] == "suppressed"
        assert states[("HostDiskSpaceCritical", "/var/lib/postgresql")]["state"] == "active"
        assert states[("HostDiskSpaceLow", "/")]["state"] == "active"
    finally:
        process.terminate()
        process.wait(15)


# --- Grafana -------------------------------------------------------------------------------


def test_grafana_provisions_the_datasources_the_dashboards_use() -> None:
    provisioning = MONITORING / "grafana" / "provisioning"
    sources = load_yaml(provisioning / "datasources" / "datasources.yml")["datasources"]
    uids = {source["uid"]: source["type"] for source in sources}
    assert uids == {"prometheus": "prometheus", "loki": "loki"}
    provider = load_yaml(provisioning / "dashboards" / "dashboards.yml")["providers"][0]
    assert provider["type"] == "file"
    assert provider["options"]["path"] == "/var/lib/grafana/dashboards"
    for query in dashboard_queries():
        assert query.datasource in uids, f"{query.dashboard}: {query.panel}"


def test_the_five_dashboards_are_valid_and_distinct() -> None:
    assert len(DASHBOARDS) == 5
    titles, uids = set(), set()
    for path in DASHBOARDS:
        dashboard: dict[str, Any] = json.loads(path.read_text())
        titles.add(dashboard["title"])
        uids.add(dashboard["uid"])
        assert dashboard["schemaVersion"] >= 30
        assert "id" not in dashboard or dashboard["id"] is None
        ids = [panel["id"] for panel in panels(dashboard)]
        assert len(ids) == len(set(ids)), f"{path.name}: duplicate panel ids"
        for panel in panels(dashboard):
            assert panel["title"], path.name
            assert {"h", "w", "x", "y"} <= set(panel["gridPos"]), panel["title"]
            assert panel["gridPos"]["x"] + panel["gridPos"]["w"] <= 24, panel["title"]
            if panel["type"] != "row":
                assert panel["targets"], f"{path.name}: {panel['title']} shows nothing"
    assert titles == DASHBOARD_TITLES
    assert len(uids) == 5


def test_promtool_parses_every_promql_expression(tmp_path: Path) -> None:
    # Each expression becomes a recording rule, so promtool's parser checks it.
    expressions = promql_expressions()
    assert len(expressions) > 100
    rules = [
        {"record": f"check:expression_{index}", "expr": expr}
        for index, (_where, expr) in enumerate(expressions)
    ]
    path = tmp_path / "expressions.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "expressions", "rules": rules}]}))
    result = run_tool("promtool", "check", "rules", str(path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(rules)} rules found" in result.stdout


# --- Loki and promtail ---------------------------------------------------------------------


def test_loki_keeps_logs_for_a_month_and_enforces_it() -> None:
    loki = load_yaml(MONITORING / "loki" / "loki.yml")
    assert loki["auth_enabled"] is False
    assert loki["limits_config"]["retention_period"] == "744h"
    # Retention is applied only by a compactor with retention enabled.
    assert loki["compactor"]["retention_enabled"] is True
    assert loki["compactor"]["delete_request_store"] == "filesystem"
    schema = loki["schema_config"]["configs"][-1]
    assert (schema["store"], schema["schema"], schema["index"]["period"]) == ("tsdb", "v13", "24h")
    assert loki["server"]["http_listen_port"] == 3100


def test_promtail_ships_the_json_logs_with_few_labels() -> None:
    promtail = load_yaml(MONITORING / "promtail" / "promtail.yml")
    loki_port = load_yaml(MONITORING / "loki" / "loki.yml")["server"]["http_listen_port"]
    assert promtail["clients"][0]["url"] == f"http://loki:{loki_port}/loki/api/v1/push"
    grafana = load_yaml(MONITORING / "grafana" / "provisioning" / "datasources" / "datasources.yml")
    loki_source = next(s for s in grafana["datasources"] if s["type"] == "loki")
    assert loki_source["url"] == f"http://loki:{loki_port}"
    jobs = {job["job_name"]: job for job in promtail["scrape_configs"]}
    assert set(jobs) == {"docker", "kubernetes-pods"}
    for job in jobs.values():
        matches = [stage["match"] for stage in job["pipeline_stages"] if "match" in stage]
        assert {match["selector"] for match in matches} == {'{app="finagency"}', '{app="nginx"}'}
        for match in matches:
            stages = {key: value for stage in match["stages"] for key, value in stage.items()}
            assert "request_id" in stages["json"]["expressions"]
            # The request id is searched in the line, never made a label (one stream per id).
            assert "request_id" not in stages.get("labels", {})
            assert stages["timestamp"]["source"] in stages["json"]["expressions"]


def test_promtail_reads_the_fields_the_app_and_nginx_really_write() -> None:
    promtail = load_yaml(MONITORING / "promtail" / "promtail.yml")
    fields: dict[str, set[str]] = {}
    for stage in promtail["scrape_configs"][0]["pipeline_stages"]:
        if "match" in stage:
            app = stage["match"]["selector"].split('"')[1]
            for inner in stage["match"]["stages"]:
                if "json" in inner:
                    fields[app] = set(inner["json"]["expressions"].values())
    nginx_conf = (MONITORING.parent / "nginx" / "conf.d" / "finagency.conf").read_text()
    log_format = nginx_conf.split("log_format finagency_json", 1)[1].split(";", 1)[0]
    assert fields["nginx"] <= set(re.findall(r'"([a-z_]+)":', log_format))
    # The app's request line (see tests/observability/test_request_logs.py) carries these.
    assert fields["finagency"] <= {"level", "timestamp", "request_id", "event", "route", "status"}
