"""Reading infrastructure/monitoring/: alert rules, dashboards and the PromQL inside them."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from tests.fixtures.services import require_service
from tests.infra.fixtures_app import REPO

MONITORING = REPO / "infrastructure" / "monitoring"
RULES = sorted((MONITORING / "rules").glob("*.yml"))
RULE_TESTS = sorted((MONITORING / "rule-tests").glob("*.yml"))
DASHBOARDS = sorted((MONITORING / "grafana" / "dashboards").glob("*.json"))
RUNBOOKS = REPO / "docs" / "runbooks.md"
# The app's own metrics: the names a test checks against its /metrics.
APP_METRIC = re.compile(r"\b((?:finagency|http)_[a-z0-9_]+)\b")


def tool(name: str) -> str:
    """The path of a Prometheus tool, or fail/skip the test when it is not installed."""
    found = shutil.which(name) or ""
    require_service(name, None if found else f"{name} is not installed (apt prometheus packages)")
    return found


def run_tool(*command: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [tool(command[0]), *command[1:]],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=cwd,
    )


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


@dataclass
class Alert:
    name: str
    expr: str
    labels: dict[str, str]
    annotations: dict[str, str]
    source: Path


def alerts() -> list[Alert]:
    found = []
    for path in RULES:
        for group in load_yaml(path)["groups"]:
            for rule in group["rules"]:
                if "alert" in rule:
                    found.append(
                        Alert(
                            rule["alert"],
                            rule["expr"],
                            rule.get("labels", {}),
                            rule.get("annotations", {}),
                            path,
                        )
                    )
    return found


@dataclass
class PanelQuery:
    dashboard: str
    panel: str
    datasource: str
    expr: str


def panels(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    """Every panel, including those nested in collapsed rows."""
    found = []
    for panel in dashboard.get("panels", []):
        found.append(panel)
        found.extend(panel.get("panels", []))
    return found


def dashboard_queries() -> list[PanelQuery]:
    found = []
    for path in DASHBOARDS:
        dashboard = json.loads(path.read_text())
        for panel in panels(dashboard):
            for target in panel.get("targets", []):
                datasource = (target.get("datasource") or panel.get("datasource") or {})["uid"]
                found.append(PanelQuery(path.name, panel["title"], datasource, target["expr"]))
    return found


def promql_expressions() -> list[tuple[str, str]]:
    """(where, PromQL) for every alert rule and every Prometheus panel query."""
    exprs = [(f"{alert.source.name}:{alert.name}", alert.expr) for alert in alerts()]
    exprs += [
        (f"{query.dashboard}:{query.panel}", query.expr)
        for query in dashboard_queries()
        if query.datasource == "prometheus"
    ]
    return exprs


def base_metric(name: str) -> str:
    """The metric family a series name belongs to (histogram parts → the histogram)."""
    return re.sub(r"_(bucket|count|sum)$", "", name)


def used_app_metrics() -> dict[str, set[str]]:
    """App metric family → the labels that rules and dashboards select it by."""
    used: dict[str, set[str]] = {}
    for _where, expr in promql_expressions():
        for match in re.finditer(r"\b((?:finagency|http)_[a-z0-9_]+)\s*(\{[^}]*\})?", expr):
            labels = set(re.findall(r"([a-z_]+)\s*(?:=~|!~|!=|=)", match.group(2) or ""))
            labels.discard("job")  # added by Prometheus at scrape time, not by the app
            used.setdefault(base_metric(match.group(1)), set()).update(labels)
    return used


# Labels Prometheus adds (target labels) or the histogram carries, not the app's to export.
SCRAPE_LABELS = {"le", "instance", "job", "namespace", "pod", "node"}


def grouping_uses() -> list[tuple[str, set[str], set[str]]]:
    """(where, app metric families, grouping labels) of expressions naming only app metrics."""
    found = []
    for where, expr in promql_expressions():
        names = {base_metric(name) for name in APP_METRIC.findall(expr)}
        selectors = set(re.findall(r"\b([a-z][a-z0-9_]*)\s*[{\[]", expr))
        if not names or selectors - {f for f in selectors if APP_METRIC.fullmatch(f)}:
            continue  # mixes in another exporter's metrics (or none of ours)
        grouping: set[str] = set()
        for clause in re.findall(r"\b(?:by|on|without)\s*\(([^)]*)\)", expr):
            grouping.update(label.strip() for label in clause.split(",") if label.strip())
        if grouping - SCRAPE_LABELS:
            found.append((where, names, grouping - SCRAPE_LABELS))
    return found
