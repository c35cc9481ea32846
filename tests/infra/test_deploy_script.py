"""infrastructure/scripts/deploy.sh with a recording stand-in for kubectl."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.infra.standins import Standins, make_standins
from tests.infra.tools import KUBERNETES, SCRIPTS
from tests.infra.tools import kubectl as kubectl_binary

DEPLOY = SCRIPTS / "deploy.sh"
K = "kubectl --namespace ai-finance-agency"
SECRETS = [
    f"{K} get secret {name} --output=name"
    for name in ("ai-finance-secrets", "postgres-credentials", "backup-encryption")
]
DEPLOYMENTS = ("ai-finance-app", "celery-worker", "celery-beat")


def rollout(wait: int) -> list[str]:
    return [f"{K} rollout status deployment/{name} --timeout={wait}s" for name in DEPLOYMENTS]


def undo() -> list[str]:
    return [f"{K} rollout undo deployment/{name}" for name in DEPLOYMENTS]


def job(cronjob: str, wait: int) -> list[str]:
    return [
        f"{K} create job {cronjob}-42 --from=cronjob/{cronjob}",
        f"{K} wait --for=condition=complete job/{cronjob}-42 --timeout={wait}s",
    ]


READY = (
    f"{K} exec deployment/ai-finance-app -- docker-entrypoint.sh healthcheck "
    "http://127.0.0.1:8000/ready"
)
PREPARE = "kubectl apply -k <kustomization> --selector finagency.io/deploy-phase=prepare"
APPLY = "kubectl apply -k <kustomization>"


@pytest.fixture
def kubectl(tmp_path: Path) -> Standins:
    made = make_standins(tmp_path, ("kubectl",))
    made.env["DEPLOY_ID"] = "42"
    return made


def test_production_backs_up_migrates_applies_waits_and_checks_ready(kubectl: Standins) -> None:
    result = kubectl.run(DEPLOY, "-e", "production", "-i", "v1.0.0", "-w", "600")

    assert result.returncode == 0, result.stderr
    assert kubectl.calls() == [
        *SECRETS,
        f"{K} get cronjob database-backup --output=name",
        *job("database-backup", 600),
        PREPARE,
        *job("database-migrate", 600),
        APPLY,
        *rollout(600),
        READY,
    ]
    assert "deployed v1.0.0 to production" in result.stdout


def test_the_kustomization_sets_the_tag_on_the_overlay(kubectl: Standins) -> None:
    result = kubectl.run(DEPLOY, "-e", "staging", "-i", "v1.2.3", "-r", "registry.local/fin")

    assert result.returncode == 0, result.stderr
    kustomization = yaml.safe_load(kubectl.kustomization())
    assert kustomization["resources"][0].endswith("infrastructure/kubernetes/overlays/staging")
    assert kustomization["images"] == [
        {
            "name": "ghcr.io/ai-finance-agency/ai-finance-agency",
            "newName": "registry.local/fin",
            "newTag": "v1.2.3",
        },
        {
            "name": "ghcr.io/ai-finance-agency/ai-finance-agency-backup",
            "newName": "registry.local/fin-backup",
            "newTag": "v1.2.3",
        },
    ]


def render_captured(kubectl: Standins, tmp_path: Path) -> list[dict[str, Any]]:
    """What the real kustomize makes of the kustomization deploy.sh applied. With TMPDIR set to
    tmp_path, deploy.sh's folder was tmp_path/tmp.XXXX: tmp_path/rendered is as deep, so the
    relative path to the overlay holds there too."""
    folder = tmp_path / "rendered"
    folder.mkdir()
    (folder / "kustomization.yaml").write_text(kubectl.kustomization())
    result = subprocess.run(
        [kubectl_binary(), "kustomize", str(folder)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    return [document for document in yaml.safe_load_all(result.stdout) if document]


def test_another_namespace_moves_everything_that_names_it(
    kubectl: Standins, tmp_path: Path
) -> None:
    kubectl.env["TMPDIR"] = str(tmp_path)
    result = kubectl.run(DEPLOY, "-e", "production", "-i", "v1.0.0", "-n", "fin-prod")

    assert result.returncode == 0, result.stderr
    assert all(
        call.startswith("kubectl --namespace fin-prod ") or call.startswith("kubectl apply -k ")
        for call in kubectl.calls()
    ), kubectl.calls()
    rendered = render_captured(kubectl, tmp_path)
    for manifest in rendered:
        if manifest["kind"] == "Namespace":
            assert manifest["metadata"]["name"] == "fin-prod"
        else:
            assert manifest["metadata"]["namespace"] == "fin-prod", manifest["kind"]
        if manifest["kind"] == "RoleBinding":
            assert {s["namespace"] for s in manifest["subjects"]} == {"fin-prod"}
        if manifest["kind"] == "Ingress":
            annotations = manifest["metadata"]["annotations"]
            assert annotations["nginx.ingress.kubernetes.io/custom-headers"] == (
                "fin-prod/ai-finance-security-headers"
            )
    assert "ai-finance-agency/" not in yaml.safe_dump_all(rendered).replace(
        "ghcr.io/ai-finance-agency/", ""
    )


def test_invalid_namespace_touches_no_cluster(kubectl: Standins) -> None:
    result = kubectl.run(DEPLOY, "-e", "staging", "-i", "v1", "-n", "Bad_Name")

    assert result.returncode == 1
    assert "invalid namespace" in result.stderr
    assert kubectl.calls() == []


def test_the_image_names_match_the_base(kubectl: Standins) -> None:
    # The image transformer matches by name: deploy.sh must use the base's names.
    base = yaml.safe_load((KUBERNETES / "base/kustomization.yaml").read_text())
    names = {image["newName"] for image in base["images"]}
    assert 'base_repository="ghcr.io/ai-finance-agency/ai-finance-agency"' in DEPLOY.read_text()
    assert names == {
        "ghcr.io/ai-finance-agency/ai-finance-agency",
        "ghcr.io/ai-finance-agency/ai-finance-agency-backup",
    }


def test_staging_takes_no_backup(kubectl: Standins) -> None:
    result = kubectl.run(DEPLOY, "-e", "staging", "-i", "v1.0.0")

    assert result.returncode == 0, result.stderr
    assert kubectl.calls() == [
        *SECRETS,
        PREPARE,
        *job("database-migrate", 300),
        APPLY,
        *rollout(300),
        READY,
    ]


def test_first_production_deployment_has_no_backup_to_take(kubectl: Standins) -> None:
    kubectl.answer("kubectl", "--namespace ai-finance-agency get cronjob database-backup *", 1)

    result = kubectl.run(DEPLOY, "-e", "production", "-i", "v1.0.0")

    assert result.returncode == 0, result.stderr
    assert not [call for call in kubectl.calls() if "create job database-backup" in call]
    assert "first deployment" in result.stderr


def test_failed_backup_deploys_nothing(kubectl: Standins) -> None:
    kubectl.answer("kubectl", "--namespace ai-finance-agency wait * job/database-backup-42 *", 1)

    result = kubectl.run(DEPLOY, "-e", "production", "-i", "v1.0.0")

    assert result.returncode == 1
    assert "the backup failed; nothing was deployed" in result.stderr
    assert kubectl.calls()[-1] == f"{K} logs job/database-backup-42 --tail=50"
    assert not [call for call in kubectl.calls() if call.startswith("kubectl apply")]


def test_failed_migration_leaves_the_running_version(kubectl: Standins) -> None:
    kubectl.answer("kubectl", "--namespace ai-finance-agency wait * job/database-migrate-42 *", 1)

    result = kubectl.run(DEPLOY, "-e", "staging", "-i", "v1.0.0")

    assert result.returncode == 1
    assert "the migration failed; the running version was not changed" in result.stderr
    assert APPLY not in kubectl.calls()
    assert not [call for call in kubectl.calls() if "rollout" in call]


def test_rollout_timeout_rolls_back_every_deployment(kubectl: Standins) -> None:
    # The new worker never becomes ready; after the undo it does.
    kubectl.answer("kubectl", "*rollout status deployment/celery-worker*", 1, times=1)

    result = kubectl.run(DEPLOY, "-e", "staging", "-i", "v1.0.0", "--no-migrate")

    assert result.returncode == 1
    assert "did not finish within 300s; rolled back" in result.stderr
    assert kubectl.calls() == [
        *SECRETS,
        APPLY,
        rollout(300)[0],
        rollout(300)[1],  # fails here: celery-beat is not waited for
        *undo(),
        *rollout(300),
    ]


def test_rollback_that_does_not_become_ready_asks_for_a_human(kubectl: Standins) -> None:
    kubectl.answer("kubectl", "*rollout status deployment/celery-worker*", 1)

    result = kubectl.run(DEPLOY, "-e", "staging", "-i", "v1.0.0", "--no-migrate")

    assert result.returncode == 1
    assert "the rolled-back version did not become ready either: act by hand" in result.stderr
    assert kubectl.calls()[-5:-2] == undo()


def test_ready_failure_after_rollout_rolls_back(kubectl: Standins) -> None:
    kubectl.answer("kubectl", "* exec deployment/ai-finance-app -- *", 1)

    result = kubectl.run(DEPLOY, "-e", "staging", "-i", "v1.0.0", "--no-migrate")

    assert result.returncode == 1
    assert "rolled out but /ready fails; rolled back" in result.stderr
    assert kubectl.calls() == [*SECRETS, APPLY, *rollout(300), READY, *undo(), *rollout(300)]


def test_failed_undo_asks_for_a_human(kubectl: Standins) -> None:
    kubectl.answer("kubectl", "* exec deployment/ai-finance-app -- *", 1)
    kubectl.answer("kubectl", "* rollout undo deployment/ai-finance-app", 1)

    result = kubectl.run(DEPLOY, "-e", "staging", "-i", "v1.0.0", "--no-migrate")

    assert result.returncode == 1
    assert "rollback of ai-finance-app failed: act by hand" in result.stderr


def test_manual_rollback(kubectl: Standins) -> None:
    result = kubectl.run(DEPLOY, "--rollback", "-e", "production", "-n", "fin-prod", "-w", "60")

    assert result.returncode == 0, result.stderr
    k = "kubectl --namespace fin-prod"
    assert kubectl.calls() == [
        *[f"{k} rollout undo deployment/{name}" for name in DEPLOYMENTS],
        *[f"{k} rollout status deployment/{name} --timeout=60s" for name in DEPLOYMENTS],
        f"{k} exec deployment/ai-finance-app -- docker-entrypoint.sh healthcheck "
        "http://127.0.0.1:8000/ready",
    ]


def test_missing_secret_stops_before_any_change(kubectl: Standins) -> None:
    kubectl.answer("kubectl", "* get secret postgres-credentials *", 1)

    result = kubectl.run(DEPLOY, "-e", "production", "-i", "v1.0.0")

    assert result.returncode == 1
    assert "secret ai-finance-agency/postgres-credentials is missing" in result.stderr
    assert "secret.example.yaml" in result.stderr
    assert kubectl.calls() == SECRETS[:2]


def test_dry_run_changes_nothing(kubectl: Standins) -> None:
    result = kubectl.run(DEPLOY, "-e", "production", "-i", "v1.0.0", "--dry-run")

    assert result.returncode == 0, result.stderr
    assert kubectl.calls() == [*SECRETS, f"{APPLY} --dry-run=server"]


def test_no_backup_and_no_migrate(kubectl: Standins) -> None:
    result = kubectl.run(DEPLOY, "-e", "production", "-i", "v1", "--no-backup", "--no-migrate")

    assert result.returncode == 0, result.stderr
    assert kubectl.calls() == [*SECRETS, APPLY, *rollout(300), READY]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("-i", "v1"), "-e ENV is required"),
        (("-e", "qa", "-i", "v1"), "-e must be staging or production"),
        (("-e", "staging"), "-i TAG is required"),
        (("-e", "staging", "-i", "v1", "-w", "soon"), "-w wants a number of seconds"),
        (("-e", "staging", "-i", "bad tag"), "invalid image tag"),
    ],
)
def test_bad_arguments_touch_no_cluster(
    kubectl: Standins, args: tuple[str, ...], message: str
) -> None:
    result = kubectl.run(DEPLOY, *args)

    assert result.returncode == 1
    assert message in result.stderr
    assert kubectl.calls() == []


def test_help(kubectl: Standins) -> None:
    result = kubectl.run(DEPLOY, "--help")

    assert result.returncode == 0
    for flag in ("--rollback", "--dry-run", "--no-backup", "--no-migrate", "-w SECONDS"):
        assert flag in result.stdout
