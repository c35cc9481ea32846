"""Compose files and GitHub workflows: their JSON schemas (offline, check-jsonschema's
vendored copies) and what the issue promises of them."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.infra.tools import INFRA, ROOT, tool

COMPOSE = INFRA / "docker/docker-compose.yml"
COMPOSE_PROD = INFRA / "docker/docker-compose.prod.yml"
WORKFLOWS = sorted((ROOT / ".github/workflows").glob("*.yml"))
APP_SERVICES = ("api", "worker", "beat", "migrate")


def load(path: Path) -> dict[str, Any]:
    return dict(yaml.safe_load(path.read_text()))


def check_jsonschema(schema: str, *files: Path) -> subprocess.CompletedProcess[str]:
    checker = tool("check-jsonschema", "validates Compose files and workflows; PyPI")
    return subprocess.run(
        [checker, "--builtin-schema", schema, *map(str, files)],
        capture_output=True,
        text=True,
        check=False,
    )


def test_compose_files_match_the_compose_specification() -> None:
    result = check_jsonschema("vendor.compose-spec", COMPOSE, COMPOSE_PROD)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_compose_schema_check_can_fail(tmp_path: Path) -> None:
    broken = load(COMPOSE)
    broken["services"]["api"]["depends_on"]["postgres"]["condition"] = "service_ready"
    path = tmp_path / "docker-compose.yml"
    path.write_text(yaml.safe_dump(broken))

    assert check_jsonschema("vendor.compose-spec", path).returncode == 1


def test_workflows_match_the_github_workflow_schema() -> None:
    assert WORKFLOWS
    result = check_jsonschema("vendor.github-workflows", *WORKFLOWS)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("path", [COMPOSE, COMPOSE_PROD], ids=["dev", "prod"])
def test_bind_mounts_exist(path: Path) -> None:
    services = load(path)["services"]
    for name, service in services.items():
        for volume in service.get("volumes", []):
            source = volume.split(":", 1)[0]
            if source.startswith("../"):
                assert (path.parent / source).resolve().exists() or source.endswith(
                    "web/static"  # the dashboard's static files (may not exist yet)
                ), f"{name}: {source}"


def test_development_stack() -> None:
    compose = load(COMPOSE)
    services = compose["services"]
    assert {
        "api",
        "worker",
        "beat",
        "postgres",
        "redis",
        "nginx",
        "prometheus",
        "alertmanager",
        "grafana",
        "loki",
        "mailpit",
    } <= set(services)
    assert services["postgres"]["image"].startswith("postgres:15")
    assert services["redis"]["image"].startswith("redis:7")
    assert services["api"]["command"] == ["api", "--reload"]
    assert "../../src:/app/src" in services["api"]["volumes"]
    assert services["api"]["build"]["target"] == "development"
    assert services["api"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert services["api"]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert services["loki"]["profiles"] == ["logging"]
    assert services["mailpit"]["profiles"] == ["mail"]
    assert "../nginx/nginx.conf:/etc/nginx/nginx.conf:ro" in services["nginx"]["volumes"]
    for name, service in services.items():
        if "image" in service and "volumes" in service:
            named = [v.split(":")[0] for v in service["volumes"] if not v.startswith(("/", "."))]
            assert set(named) <= set(compose["volumes"]), name


@pytest.mark.parametrize("path", [COMPOSE, COMPOSE_PROD], ids=["dev", "prod"])
def test_health_checks_and_grafana_password(path: Path) -> None:
    services = load(path)["services"]
    for name in ("api", "worker", "postgres", "redis", "nginx", "grafana"):
        test = services[name]["healthcheck"]["test"]
        assert "curl" not in " ".join(test), name  # the images have no curl
    assert services["api"]["healthcheck"]["test"] == ["CMD", "docker-entrypoint.sh", "healthcheck"]
    password = services["grafana"]["environment"]["GF_SECURITY_ADMIN_PASSWORD"]
    assert re.fullmatch(r"\$\{GRAFANA_ADMIN_PASSWORD:\?.+\}", password)  # required, no default


def test_production_stack() -> None:
    compose = load(COMPOSE_PROD)
    services = compose["services"]
    for name, service in services.items():
        for volume in service.get("volumes", []):
            assert "src" not in volume.split(":")[0], f"{name} mounts source code"
        assert service.get("restart") in {"unless-stopped", "no"}, name
        assert "build" not in service, name
    for name in (*APP_SERVICES[:3], "postgres", "redis", "nginx", "backup"):
        assert services[name]["deploy"]["resources"]["limits"], name
    assert services["api"]["deploy"]["replicas"] >= 2
    assert services["beat"]["deploy"]["replicas"] == 1
    for name in APP_SERVICES:
        assert services[name]["read_only"] is True
        assert services[name]["cap_drop"] == ["ALL"]
        assert services[name]["image"].endswith(":${TAG:?set TAG to the release to run}")
    assert services["postgres"]["environment"]["POSTGRES_PASSWORD_FILE"] == (
        "/run/secrets/postgres_password"
    )
    backup = services["backup"]
    assert "ai-finance-agency-backup" in backup["image"]
    assert "backup.sh -o /backups -k 30 -p /run/secrets/backup_passphrase" in backup["command"][0]
    assert set(compose["secrets"]) == {"postgres_password", "backup_passphrase"}


def workflow(name: str) -> dict[str, Any]:
    # PyYAML reads the key `on` as True.
    document: dict[Any, Any] = load(ROOT / ".github/workflows" / name)
    document["on"] = document.pop(True, document.get("on"))
    return document


def test_ci_workflow() -> None:
    ci = workflow("ci.yml")
    assert {"push", "pull_request"} <= set(ci["on"])
    services = ci["jobs"]["test"]["services"]
    assert services["postgres"]["image"].startswith("postgres:15")
    assert services["redis"]["image"].startswith("redis:7")
    steps = yaml.safe_dump(ci["jobs"])
    for check in (
        "ruff check",
        "mypy",
        "pytest",
        "hadolint",
        "kubernetes-validate --strict",
        "vendor.compose-spec",
        "vendor.github-workflows",
        "checkov --skip-download",
        "render-monitoring.py --check",
        "bandit",
        "pip-audit",
    ):
        assert check in steps, check


def test_release_workflow() -> None:
    release = workflow("release.yml")
    assert release["on"]["push"]["tags"] == ["v*"]
    steps = yaml.safe_dump(release["jobs"])
    assert "build.sh -e production" in steps
    assert "--scan -p" in steps
    assert "setup-trivy" in steps
    assert "setup-qemu-action" in steps
    assert "sbom-action" in steps


def test_deploy_workflow() -> None:
    deploy = workflow("deploy.yml")
    jobs = deploy["jobs"]
    assert jobs["staging"]["environment"] == "staging"
    assert jobs["production"]["environment"] == "production"  # required reviewers live there
    assert "deploy.sh -e production" in yaml.safe_dump(jobs["production"])
    assert deploy["on"]["workflow_run"]["workflows"] == ["Release"]
    assert deploy["on"]["workflow_dispatch"]["inputs"]["action"]["options"] == [
        "deploy",
        "rollback",
    ]
    assert "--rollback" in yaml.safe_dump(jobs["manual"])


def test_workflows_run_scripts_that_exist() -> None:
    for path in WORKFLOWS:
        for script in re.findall(r"infrastructure/scripts/[\w.-]+", path.read_text()):
            assert (ROOT / script).exists(), f"{path.name}: {script}"


@pytest.mark.parametrize("path", [COMPOSE, COMPOSE_PROD], ids=["dev", "prod"])
def test_every_prometheus_target_is_a_compose_service(path: Path) -> None:
    # Otherwise `up == 0` for a target nobody runs fires PostgresDown, RedisDown, NginxDown ...
    services = set(load(path)["services"])
    hosts = set()
    for targets in sorted((INFRA / "monitoring/targets").glob("*.yml")):
        for group in yaml.safe_load(targets.read_text()):
            addresses = [*group["targets"], group.get("labels", {}).get("__blackbox_exporter", "")]
            for address in filter(None, addresses):
                hosts.add(re.sub(r"^\w+://", "", address).split(":")[0].split("/")[0])
    assert hosts, "no targets found"
    assert hosts <= services, hosts - services
