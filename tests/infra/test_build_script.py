"""infrastructure/scripts/build.sh with recording stand-ins for docker and trivy."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.infra.standins import Standins, make_standins
from tests.infra.tools import ROOT, SCRIPTS

BUILD = SCRIPTS / "build.sh"
SHA = "0123456789abcdef0123456789abcdef01234567"
REGISTRY = "ghcr.io/ai-finance-agency"


@pytest.fixture
def standins(tmp_path: Path) -> Standins:
    made = make_standins(tmp_path, ("docker", "trivy"))
    made.env.update({"GIT_SHA": SHA, "SOURCE_DATE_EPOCH": "0"})
    return made


@pytest.fixture
def without_trivy(tmp_path: Path) -> Standins:
    made = make_standins(tmp_path, ("docker",))
    made.env.update({"GIT_SHA": SHA, "SOURCE_DATE_EPOCH": "0"})
    return made


def build_call(repository: str, stage: str, tag: str, *output: str) -> str:
    tags = f"--tag {REGISTRY}/{repository}:{tag}"
    if tag != f"sha-{SHA[:12]}":
        tags += f" --tag {REGISTRY}/{repository}:sha-{SHA[:12]}"
    return (
        f"docker buildx build --file {ROOT}/infrastructure/docker/Dockerfile --target {stage} "
        f"--build-arg VERSION={tag} --build-arg REVISION={SHA} "
        "--build-arg CREATED=1970-01-01T00:00:00Z "
        f"--label org.opencontainers.image.version={tag} "
        f"--label org.opencontainers.image.revision={SHA} "
        "--label org.opencontainers.image.created=1970-01-01T00:00:00Z "
        f"{tags} {' '.join(output)} {ROOT}"
    )


PUSH = ("--builder finagency-builder", "--platform linux/amd64,linux/arm64", "--push")


def test_production_push_builds_both_images_multi_arch(standins: Standins) -> None:
    standins.answer("docker", "buildx inspect finagency-builder", code=1)

    result = standins.run(BUILD, "-e", "production", "-t", "v1.0.0", "-p")

    assert result.returncode == 0, result.stderr
    assert standins.calls() == [
        "docker buildx version",
        "docker buildx inspect finagency-builder",
        "docker buildx create --name finagency-builder --driver docker-container",
        build_call("ai-finance-agency", "runtime", "v1.0.0", *PUSH),
        build_call("ai-finance-agency-backup", "backup", "v1.0.0", *PUSH),
    ]
    assert result.stdout.split() == [
        f"{REGISTRY}/ai-finance-agency:v1.0.0",
        f"{REGISTRY}/ai-finance-agency-backup:v1.0.0",
    ]


def test_existing_builder_is_reused_and_no_cache_and_registry_are_passed(
    standins: Standins,
) -> None:
    result = standins.run(BUILD, "-e", "staging", "-r", "registry.local/team", "-p", "--no-cache")

    assert result.returncode == 0, result.stderr
    calls = standins.calls()
    assert "docker buildx create --name finagency-builder --driver docker-container" not in calls
    builds = [call for call in calls if call.startswith("docker buildx build")]
    assert len(builds) == 2
    for call in builds:
        assert "--no-cache" in call.split()
        assert "--tag registry.local/team/ai-finance-agency" in call
        assert f":sha-{SHA[:12]} " in call  # the git SHA tag is the default tag


def test_development_builds_the_development_stage_locally_only(standins: Standins) -> None:
    result = standins.run(BUILD, "-e", "development")

    assert result.returncode == 0, result.stderr
    assert standins.calls() == [
        "docker buildx version",
        build_call("ai-finance-agency", "development", f"sha-{SHA[:12]}", "--load"),
    ]


def test_scan_without_trivy_fails_clearly_before_building(without_trivy: Standins) -> None:
    result = without_trivy.run(BUILD, "-e", "production", "--scan", "-p")

    assert result.returncode == 1
    assert "--scan needs Trivy, which is not installed" in result.stderr
    assert without_trivy.calls() == []  # not even docker was asked


def test_scan_then_push_scans_each_image_before_pushing_it(standins: Standins) -> None:
    result = standins.run(BUILD, "-e", "production", "-t", "v2.0.0", "--scan", "-p")

    assert result.returncode == 0, result.stderr
    trivy = "trivy image --exit-code 1 --severity HIGH,CRITICAL --ignore-unfixed --no-progress"
    assert standins.calls() == [
        "docker buildx version",
        "docker buildx inspect finagency-builder",
        build_call("ai-finance-agency", "runtime", "v2.0.0", "--load"),
        f"{trivy} {REGISTRY}/ai-finance-agency:v2.0.0",
        build_call("ai-finance-agency", "runtime", "v2.0.0", *PUSH),
        build_call("ai-finance-agency-backup", "backup", "v2.0.0", "--load"),
        f"{trivy} {REGISTRY}/ai-finance-agency-backup:v2.0.0",
        build_call("ai-finance-agency-backup", "backup", "v2.0.0", *PUSH),
    ]


def test_vulnerable_image_is_never_pushed(standins: Standins) -> None:
    standins.answer("trivy", "image *ai-finance-agency:v2.0.0", code=1, output="CRITICAL: 1")

    result = standins.run(BUILD, "-e", "production", "-t", "v2.0.0", "--scan", "-p")

    assert result.returncode == 1
    assert "Trivy found HIGH/CRITICAL vulnerabilities" in result.stderr
    assert not [call for call in standins.calls() if "--push" in call]


def test_failed_build_stops_the_script(standins: Standins) -> None:
    standins.answer("docker", "buildx build *", code=1, output="ERROR: failed to solve")

    result = standins.run(BUILD, "-e", "production", "-t", "v1.0.0")

    assert result.returncode == 1
    assert len([call for call in standins.calls() if "buildx build" in call]) == 1


def test_missing_buildx_is_reported(standins: Standins) -> None:
    standins.answer("docker", "buildx version", code=1)

    result = standins.run(BUILD, "-e", "production")

    assert result.returncode == 1
    assert "docker buildx is not available" in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("-e", "qa"), "-e must be development, staging or production"),
        (("-t", "bad tag!"), "invalid tag"),
        (("--bogus",), "unknown argument: --bogus"),
    ],
)
def test_bad_arguments_exit_before_docker(
    standins: Standins, args: tuple[str, ...], message: str
) -> None:
    result = standins.run(BUILD, *args)

    assert result.returncode == 1
    assert message in result.stderr
    assert standins.calls() == []


def test_help(standins: Standins) -> None:
    result = standins.run(BUILD, "-h")

    assert result.returncode == 0
    assert "--scan" in result.stdout
    assert "-p, --push" in result.stdout
