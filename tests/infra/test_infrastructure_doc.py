"""docs/INFRASTRUCTURE.md: every path, script flag and Kubernetes name it gives is real."""

from __future__ import annotations

import re

import pytest
import yaml

from tests.infra.tools import ROOT, SCRIPTS, render_overlay

DOC = (ROOT / "docs/INFRASTRUCTURE.md").read_text()
CODE = "\n".join(re.findall(r"```sh\n(.*?)```", DOC, re.DOTALL))


def test_paths_exist() -> None:
    paths = set(re.findall(r"(?<![\w/])((?:infrastructure|\.github|docs)/[\w./<>-]*[\w/>])", DOC))
    assert len(paths) > 15
    for path in sorted(paths):
        if "<" in path:
            for environment in ("staging", "production"):
                assert (ROOT / path.replace("<env>", environment)).exists(), path
        else:
            assert (ROOT / path).exists(), path


@pytest.mark.parametrize("script", ["build.sh", "deploy.sh", "backup.sh", "restore.sh"])
def test_script_flags_in_commands_exist(script: str) -> None:
    usage = (SCRIPTS / script).read_text()
    lines = [line for line in CODE.splitlines() if f"scripts/{script}" in line]
    assert lines, f"no {script} command in the doc"
    for line in lines:
        for flag in re.findall(r"\s(--?[a-z][\w-]*)", line.split(script, 1)[1]):
            assert re.search(rf"(^|\s){re.escape(flag)}[\s,=]", usage, re.MULTILINE), (
                f"{script} {flag}"
            )


def test_kubernetes_names_exist() -> None:
    rendered = render_overlay("production")
    names = {(m["kind"], m["metadata"]["name"]) for m in rendered}
    kinds = {
        "deployment": "Deployment",
        "cronjob": "CronJob",
        "hpa": "HorizontalPodAutoscaler",
        "vpa": "VerticalPodAutoscaler",
    }
    referenced = set(re.findall(r"\b(deployment|cronjob)/([\w-]+)", DOC))
    referenced |= set(re.findall(r"kubectl (?:patch|get|describe) (hpa|vpa) ([a-z][\w-]+)", DOC))
    assert len(referenced) >= 6
    for kind, name in referenced:
        assert (kinds[kind], name) in names, f"{kind}/{name}"
    assert "-n ai-finance-agency" in CODE
    assert ("StatefulSet", "postgres") in names  # postgres-0 in the commands


def test_replacement_table_covers_the_guides_broken_commands() -> None:
    table = DOC.split("## What replaces the guide's commands", 1)[1]
    for replacement in (
        "kubectl apply -k infrastructure/kubernetes/overlays/<env>",
        "docker-compose -f infrastructure/docker/docker-compose.yml ps",
        "finagency check",
        "GRAFANA_ADMIN_PASSWORD",
        "docker-entrypoint.sh healthcheck",
    ):
        assert replacement in table, replacement


def test_every_alert_is_listed_with_its_severity_and_runbook() -> None:
    section = DOC.split("### Alerts", 1)[1].split("\n## ", 1)[0]
    listed = {
        name: (anchor, severity)
        for name, anchor, severity in re.findall(
            r"^\| \[(\w+)\]\(runbooks\.md#([\w-]+)\) \| (\w+) \| .+ \|$", section, re.MULTILINE
        )
    }
    rules = {
        rule["alert"]: rule["labels"]["severity"]
        for path in sorted((ROOT / "infrastructure/monitoring/rules").glob("*.yml"))
        for group in yaml.safe_load(path.read_text())["groups"]
        for rule in group["rules"]
        if "alert" in rule
    }
    assert set(listed) == set(rules)
    runbooks = (ROOT / "docs/runbooks.md").read_text()
    for name, (anchor, severity) in listed.items():
        assert anchor == name.lower(), name
        assert severity == rules[name], name
        assert re.search(rf"^### {name}$", runbooks, re.MULTILINE), name
