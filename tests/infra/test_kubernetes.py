"""The kustomize overlays: they render, validate strictly, pass checkov, and keep the guide's
names and the issue's promises (security context, probes, autoscaling, jobs, policies)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.infra.tools import KUBERNETES, OVERLAYS, ROOT, SCRIPTS, kubectl, render_overlay, tool

Manifest = dict[str, Any]
# Every kustomization that is applied: the overlays (deploy.sh) and the cluster-scoped RBAC (once,
# by a cluster admin).
KUSTOMIZATIONS = (*(f"overlays/{overlay}" for overlay in OVERLAYS), "cluster")


@pytest.fixture(scope="module", params=OVERLAYS)
def rendered(request: pytest.FixtureRequest) -> list[Manifest]:
    return render_overlay(str(request.param))


@pytest.fixture(scope="module")
def production() -> list[Manifest]:
    return render_overlay("production")


@pytest.fixture(scope="module")
def staging() -> list[Manifest]:
    return render_overlay("staging")


def find(manifests: list[Manifest], kind: str, name: str | None = None) -> list[Manifest]:
    return [
        m
        for m in manifests
        if m["kind"] == kind and (name is None or m["metadata"]["name"] == name)
    ]


def one(manifests: list[Manifest], kind: str, name: str) -> Manifest:
    found = find(manifests, kind, name)
    assert len(found) == 1, f"{kind}/{name}: {len(found)} found"
    return found[0]


def pod_spec(manifest: Manifest) -> dict[str, Any] | None:
    spec = manifest.get("spec", {})
    if manifest["kind"] == "CronJob":
        return dict(spec["jobTemplate"]["spec"]["template"]["spec"])
    if "template" in spec and "spec" in spec["template"]:
        return dict(spec["template"]["spec"])
    return None


@pytest.mark.parametrize("kustomization", KUSTOMIZATIONS)
def test_kubernetes_validate_strict(kustomization: str, tmp_path: Path) -> None:
    validator = tool("kubernetes-validate", "validates the rendered manifests; PyPI")
    rendered_file = tmp_path / f"{kustomization.replace('/', '-')}.yaml"
    result = subprocess.run(
        [kubectl(), "kustomize", str(KUBERNETES / kustomization)],
        capture_output=True,
        text=True,
        check=True,
    )
    rendered_file.write_text(result.stdout)
    for version in ("1.29.0", "1.33.0"):
        check = subprocess.run(
            [validator, "--strict", "--quiet", "-k", version, str(rendered_file)],
            capture_output=True,
            text=True,
            check=False,
        )
        assert check.returncode == 0, check.stdout + check.stderr
        assert "ERROR" not in check.stdout


def test_checkov_finds_nothing_unskipped(tmp_path: Path) -> None:
    checkov = tool("checkov", "scans the manifests; own venv", (ROOT / ".venv-checkov/bin",))
    for kustomization in KUSTOMIZATIONS:
        result = subprocess.run(
            [kubectl(), "kustomize", str(KUBERNETES / kustomization)],
            capture_output=True,
            text=True,
            check=True,
        )
        (tmp_path / f"{kustomization.replace('/', '-')}.yaml").write_text(result.stdout)
    scan = subprocess.run(
        [
            checkov,
            "--skip-download",
            "--quiet",
            "--compact",
            "--framework",
            "kubernetes",
            "-d",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    assert scan.returncode == 0, scan.stdout + scan.stderr
    assert "Failed checks: 0" in scan.stdout


def test_names_the_guide_uses(rendered: list[Manifest]) -> None:
    one(rendered, "Namespace", "ai-finance-agency")
    one(rendered, "Deployment", "ai-finance-app")
    one(rendered, "Deployment", "celery-worker")
    one(rendered, "HorizontalPodAutoscaler", "ai-finance-app-hpa")
    one(rendered, "CronJob", "database-backup")
    one(rendered, "CronJob", "database-restore")
    for ingress in find(rendered, "Ingress"):
        secrets = {tls["secretName"] for tls in ingress["spec"]["tls"]}
        assert secrets <= {"ai-finance-tls", "ai-finance-monitoring-tls"}
    assert one(rendered, "Ingress", "ai-finance-app")["spec"]["tls"][0]["secretName"] == (
        "ai-finance-tls"
    )


def test_everything_lives_in_the_namespace(rendered: list[Manifest]) -> None:
    for manifest in rendered:
        if manifest["kind"] != "Namespace":
            assert manifest["metadata"].get("namespace") == "ai-finance-agency", manifest["kind"]


def test_namespace_enforces_restricted_pod_security(rendered: list[Manifest]) -> None:
    labels = one(rendered, "Namespace", "ai-finance-agency")["metadata"]["labels"]
    assert labels["pod-security.kubernetes.io/enforce"] == "restricted"


def test_no_secret_is_shipped(rendered: list[Manifest]) -> None:
    assert find(rendered, "Secret") == []


def test_every_pod_is_locked_down(rendered: list[Manifest]) -> None:
    pods = [(m, spec) for m in rendered if (spec := pod_spec(m)) is not None]
    assert len(pods) >= 8
    for manifest, spec in pods:
        where = f"{manifest['kind']}/{manifest['metadata']['name']}"
        assert spec["securityContext"]["runAsNonRoot"] is True, where
        assert spec["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault", where
        assert spec["securityContext"]["runAsUser"] >= 10000, where
        for container in spec["containers"]:
            context = container["securityContext"]
            assert context["allowPrivilegeEscalation"] is False, where
            assert context["readOnlyRootFilesystem"] is True, where
            assert context["capabilities"]["drop"] == ["ALL"], where
            assert {"cpu", "memory"} <= set(container["resources"]["requests"]), where
            assert {"cpu", "memory"} <= set(container["resources"]["limits"]), where


def test_referenced_secrets_are_in_the_example(rendered: list[Manifest]) -> None:
    example = yaml.safe_load_all((KUBERNETES / "base/secret.example.yaml").read_text())
    documented = {doc["metadata"]["name"]: set(doc["stringData"]) for doc in example if doc}
    documented["monitoring-basic-auth"] = {"auth"}  # created with htpasswd (component docs)
    for manifest in rendered:
        spec = pod_spec(manifest)
        if spec is None:
            continue
        for container in spec["containers"]:
            for source in container.get("envFrom", []):
                if "secretRef" in source:
                    assert source["secretRef"]["name"] in documented
        for volume in spec.get("volumes", []):
            if "secret" in volume:
                name = volume["secret"]["secretName"]
                keys = {item["key"] for item in volume["secret"].get("items", [])}
                assert name in documented
                assert keys <= documented[name]
    deploy = (SCRIPTS / "deploy.sh").read_text()
    assert "secrets=(ai-finance-secrets postgres-credentials backup-encryption)" in deploy
    assert {"ai-finance-secrets", "postgres-credentials", "backup-encryption"} <= set(documented)


def test_api_deployment(rendered: list[Manifest]) -> None:
    api = one(rendered, "Deployment", "ai-finance-app")
    assert api["spec"]["replicas"] == 3
    assert api["spec"]["strategy"] == {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0},
    }
    spec = api["spec"]["template"]["spec"]
    container = spec["containers"][0]
    assert container["startupProbe"]["httpGet"]["path"] == "/health"
    assert container["livenessProbe"]["httpGet"]["path"] == "/health"
    assert container["readinessProbe"]["httpGet"]["path"] == "/ready"
    assert {c["topologyKey"] for c in spec["topologySpreadConstraints"]} >= {
        "kubernetes.io/hostname"
    }
    mounts = {mount["mountPath"] for mount in container["volumeMounts"]}
    assert {"/tmp", "/var/lib/finagency"} <= mounts  # writable with a read-only root
    assert container["image"].startswith("ghcr.io/ai-finance-agency/ai-finance-agency:")
    assert spec["automountServiceAccountToken"] is False


def test_hpa_is_exactly_the_guides(rendered: list[Manifest]) -> None:
    # In every overlay: `kubectl get hpa` must show what the guide promises.
    hpa = one(rendered, "HorizontalPodAutoscaler", "ai-finance-app-hpa")["spec"]
    assert hpa["scaleTargetRef"]["name"] == "ai-finance-app"
    assert (hpa["minReplicas"], hpa["maxReplicas"]) == (3, 10)
    targets = {
        m["resource"]["name"]: m["resource"]["target"]["averageUtilization"] for m in hpa["metrics"]
    }
    assert targets == {"cpu": 70, "memory": 80}
    assert hpa["behavior"]["scaleUp"]["policies"] == [
        {"type": "Percent", "value": 100, "periodSeconds": 60}
    ]
    assert hpa["behavior"]["scaleDown"]["policies"] == [
        {"type": "Percent", "value": 50, "periodSeconds": 60}
    ]
    one(rendered, "HorizontalPodAutoscaler", "celery-worker-hpa")


def test_workers_beat_and_stateful_services(rendered: list[Manifest]) -> None:
    worker = one(rendered, "Deployment", "celery-worker")["spec"]["template"]["spec"]
    assert worker["containers"][0]["args"][0] == "worker"
    assert worker["containers"][0]["ports"][0]["containerPort"] == 9808
    beat = one(rendered, "Deployment", "celery-beat")["spec"]
    assert (beat["replicas"], beat["strategy"]["type"]) == (1, "Recreate")
    for name in ("postgres", "redis"):
        statefulset = one(rendered, "StatefulSet", name)
        assert statefulset["spec"]["volumeClaimTemplates"]
        assert one(rendered, "Service", name)["spec"]["clusterIP"] == "None"
    one(rendered, "PersistentVolumeClaim", "database-backups")
    assert {p["metadata"]["name"] for p in find(rendered, "PodDisruptionBudget")} >= {
        "ai-finance-app",
        "celery-worker",
    }


def test_jobs(rendered: list[Manifest]) -> None:
    backup = one(rendered, "CronJob", "database-backup")["spec"]
    assert backup["schedule"] == "0 2 * * *"
    assert not backup.get("suspend", False)
    args = backup["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["args"]
    assert args[args.index("-k") + 1] == "30"
    assert "-p" in args
    restore = one(rendered, "CronJob", "database-restore")["spec"]
    assert restore["suspend"] is True
    assert restore["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["command"] == [
        "restore.sh"
    ]
    migrate = one(rendered, "CronJob", "database-migrate")
    assert migrate["spec"]["suspend"] is True
    assert migrate["metadata"]["labels"]["finagency.io/deploy-phase"] == "prepare"
    container = migrate["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]
    assert container["args"] == ["migrate"]
    api_image = one(rendered, "Deployment", "ai-finance-app")["spec"]["template"]["spec"][
        "containers"
    ][0]["image"]
    assert container["image"] == api_image


def test_prepare_phase_holds_what_the_migration_needs(rendered: list[Manifest]) -> None:
    prepared = {
        (m["kind"], m["metadata"]["name"])
        for m in rendered
        if m["metadata"].get("labels", {}).get("finagency.io/deploy-phase") == "prepare"
    }
    config = next(
        m
        for m in find(rendered, "ConfigMap")
        if m["metadata"]["name"].startswith("ai-finance-config")
    )
    assert {
        ("CronJob", "database-migrate"),
        ("ServiceAccount", "ai-finance-migrate"),
        ("StatefulSet", "postgres"),
        ("Service", "postgres"),
        ("ConfigMap", config["metadata"]["name"]),
        ("NetworkPolicy", "database-egress"),
    } <= prepared
    assert ("Deployment", "ai-finance-app") not in prepared


def test_network_policies(rendered: list[Manifest]) -> None:
    deny = one(rendered, "NetworkPolicy", "default-deny-all")["spec"]
    assert deny["podSelector"] == {}
    assert set(deny["policyTypes"]) == {"Ingress", "Egress"}
    api = one(rendered, "NetworkPolicy", "api-ingress")["spec"]
    namespaces = {
        peer["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"]
        for peer in api["ingress"][0]["from"]
    }
    assert "ingress-nginx" in namespaces
    postgres = one(rendered, "NetworkPolicy", "postgres-ingress")["spec"]
    clients = postgres["ingress"][0]["from"][0]["podSelector"]["matchLabels"]
    labelled = {
        m["metadata"]["name"]
        for m in rendered
        if pod_spec(m) is not None
        and all(
            (m["spec"].get("template") or m["spec"]["jobTemplate"]["spec"]["template"])["metadata"][
                "labels"
            ].get(key)
            == value
            for key, value in clients.items()
        )
    }
    assert {
        "ai-finance-app",
        "celery-worker",
        "celery-beat",
        "database-migrate",
        "database-backup",
    } <= labelled
    egress = one(rendered, "NetworkPolicy", "worker-egress-https")["spec"]["egress"]
    assert egress == [{"ports": [{"protocol": "TCP", "port": 443}]}]


def test_ingress(production: list[Manifest], staging: list[Manifest]) -> None:
    public = [m for m in find(production, "Ingress") if m["metadata"]["name"] != "monitoring"]
    paths = {m["spec"]["rules"][0]["http"]["paths"][0]["path"]: m for m in public}
    assert set(paths) == {"/", "/api", "/api/v1/auth", "/api/v1/media", "/metrics"}
    limits = {
        p: m["metadata"]["annotations"]["nginx.ingress.kubernetes.io/limit-rps"]
        for p, m in paths.items()
        if p != "/metrics"
    }
    assert limits == {"/": "10", "/api": "100", "/api/v1/auth": "5", "/api/v1/media": "1"}
    auth_paths = [p["path"] for p in paths["/api/v1/auth"]["spec"]["rules"][0]["http"]["paths"]]
    assert auth_paths == ["/api/v1/auth", "/login"]  # the dashboard's sign-in form too
    uploads = paths["/api/v1/media"]["metadata"]["annotations"]
    # The same upload limit as infrastructure/nginx.
    assert uploads["nginx.ingress.kubernetes.io/proxy-body-size"] == "10m"
    deny = paths["/metrics"]["metadata"]["annotations"]
    assert deny["nginx.ingress.kubernetes.io/denylist-source-range"] == "0.0.0.0/0,::/0"
    for ingress in public:
        annotations = ingress["metadata"]["annotations"]
        assert annotations["cert-manager.io/cluster-issuer"] == "letsencrypt"
        assert annotations["nginx.ingress.kubernetes.io/force-ssl-redirect"] == "true"
        assert annotations["nginx.ingress.kubernetes.io/enable-modsecurity"] == "true"
        assert annotations["nginx.ingress.kubernetes.io/enable-owasp-core-rules"] == "true"
        assert annotations["nginx.ingress.kubernetes.io/enable-cors"] == "true"
    headers = one(production, "ConfigMap", "ai-finance-security-headers")["data"]
    assert headers["Strict-Transport-Security"].startswith("max-age=31536000")
    for ingress in find(staging, "Ingress"):
        assert ingress["spec"]["rules"][0]["host"] == "staging.ai-finance-agency.com"
        assert (
            "nginx.ingress.kubernetes.io/enable-modsecurity"
            not in ingress["metadata"]["annotations"]
        )


def test_vpa_recommends_only(rendered: list[Manifest]) -> None:
    vpas = find(rendered, "VerticalPodAutoscaler")
    assert {v["spec"]["targetRef"]["name"] for v in vpas} == {"ai-finance-app", "celery-worker"}
    assert {v["spec"]["updatePolicy"]["updateMode"] for v in vpas} == {"Off"}


def test_configuration_per_environment(production: list[Manifest], staging: list[Manifest]) -> None:
    def config(manifests: list[Manifest]) -> dict[str, str]:
        found = [
            m
            for m in find(manifests, "ConfigMap")
            if m["metadata"]["name"].startswith("ai-finance-config-")
        ]
        assert len(found) == 1
        return dict(found[0]["data"])

    assert config(production)["FINAGENCY_ENV"] == "production"
    assert config(staging)["FINAGENCY_ENV"] == "staging"
    assert config(production)["FINAGENCY_DATA_DIR"] == "/var/lib/finagency"


# --- the monitoring component ------------------------------------------------------------


def test_monitoring_manifests_are_generated_from_infrastructure_monitoring() -> None:
    result = subprocess.run(
        ["python3", str(SCRIPTS / "render-monitoring.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr


def test_prometheus_rule_holds_every_rule_file(production: list[Manifest]) -> None:
    rule = one(production, "PrometheusRule", "ai-finance-agency-rules")
    expected = []
    for path in sorted((ROOT / "infrastructure/monitoring/rules").glob("*.yml")):
        expected.extend(yaml.safe_load(path.read_text()).get("groups", []))
    assert rule["spec"]["groups"] == expected
    assert expected, "no rule files found"


def test_dashboards_become_configmaps(production: list[Manifest]) -> None:
    dashboards = sorted((ROOT / "infrastructure/monitoring/grafana/dashboards").glob("*.json"))
    shipped = {
        key: value
        for m in find(production, "ConfigMap")
        if m["metadata"].get("labels", {}).get("grafana_dashboard") == "1"
        for key, value in m["data"].items()
    }
    assert shipped == {path.name: path.read_text() for path in dashboards}


def test_render_script_notices_a_changed_rule(tmp_path: Path) -> None:
    output = tmp_path / "generated"
    script = str(SCRIPTS / "render-monitoring.py")
    subprocess.run(["python3", script, "--output", str(output)], check=True, capture_output=True)
    (output / "prometheus-rules.yaml").write_text("# edited by hand\n")

    result = subprocess.run(
        ["python3", script, "--check", "--output", str(output)], capture_output=True, text=True
    )

    assert result.returncode == 1
    assert "prometheus-rules.yaml" in result.stderr


def test_service_monitors_match_the_rules_job_names(production: list[Manifest]) -> None:
    jobs = {
        monitor["spec"]["endpoints"][0]["relabelings"][0]["replacement"]
        for monitor in find(production, "ServiceMonitor")
    }
    assert jobs == {"finagency-api", "finagency-worker"}
    services = {s["metadata"]["name"]: s for s in find(production, "Service")}
    for monitor in find(production, "ServiceMonitor"):
        selector = monitor["spec"]["selector"]["matchLabels"]
        matching = [
            s
            for s in services.values()
            if selector.items() <= s["metadata"].get("labels", {}).items()
        ]
        assert matching, monitor["metadata"]["name"]
        ports = {p["name"] for s in matching for p in s["spec"]["ports"]}
        assert monitor["spec"]["endpoints"][0]["port"] in ports
    ingress = one(production, "Ingress", "monitoring")["metadata"]["annotations"]
    assert ingress["nginx.ingress.kubernetes.io/auth-type"] == "basic"


# The deployer's rights: `kubectl apply -k` of every overlay and component, and deploy.sh's other
# kubectl calls, must be allowed by the Role and ClusterRole of ServiceAccount ai-finance-deployer,
# and by nothing wider.

DEPLOYER = "ai-finance-deployer"
NAMESPACE = "ai-finance-agency"
# Client-side `kubectl apply` (also with --dry-run=server) reads each object, then creates or
# patches it. On an existing cluster-scoped object it needs get and patch only.
APPLY_VERBS = frozenset({"get", "create", "patch"})
APPLY_EXISTING_VERBS = frozenset({"get", "patch"})
# deploy.sh's other kubectl calls and what they need.
SCRIPT_NEEDS: dict[tuple[str, str], frozenset[str]] = {
    ("", "secrets"): frozenset({"get"}),  # get secret NAME
    ("batch", "cronjobs"): frozenset({"get"}),  # get cronjob; create job --from=cronjob/...
    # create job; wait --for=condition=complete job/...; logs job/...
    ("batch", "jobs"): frozenset({"create", "get", "list", "watch"}),
    # rollout status (watches), rollout undo (patches), exec deployment/...
    ("apps", "deployments"): frozenset({"get", "list", "watch", "patch"}),
    ("apps", "replicasets"): frozenset({"list"}),  # rollout undo finds the previous revision
    ("", "pods"): frozenset({"get", "list"}),  # logs job/..., exec deployment/...
    ("", "pods/log"): frozenset({"get"}),
    ("", "pods/exec"): frozenset({"create"}),  # the /ready check
}
# Verbs that would let the deployer grant or act as more than it holds.
ESCALATING_VERBS = frozenset({"escalate", "bind", "impersonate"})
IRREGULAR_PLURALS = {"Endpoints": "endpoints"}


def api_group(manifest: Manifest) -> str:
    api_version = str(manifest["apiVersion"])
    return api_version.split("/")[0] if "/" in api_version else ""


def resource_of(kind: str) -> str:
    """The API resource of a kind, pluralised as Kubernetes' code generators do."""
    if kind in IRREGULAR_PLURALS:
        return IRREGULAR_PLURALS[kind]
    lower = kind.lower()
    if lower.endswith("y"):
        return lower[:-1] + "ies"
    if lower.endswith(("s", "x", "ch", "sh")):
        return lower + "es"
    return lower + "s"


def granted(
    rules: list[dict[str, Any]], group: str, resource: str, name: str | None = None
) -> set[str]:
    """The verbs `rules` allow on `resource`: on any object, or also on the one called `name`
    (rules limited by resourceNames count only for a named object; never for create)."""
    verbs: set[str] = set()
    for rule in rules:
        if group not in rule.get("apiGroups", []) or resource not in rule.get("resources", []):
            continue
        names = rule.get("resourceNames")
        if not names or (name is not None and name in names):
            verbs |= set(rule["verbs"])
    return verbs


def render_kustomization(path: Path) -> list[Manifest]:
    result = subprocess.run(
        [kubectl(), "kustomize", str(path)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    return [document for document in yaml.safe_load_all(result.stdout) if document]


@pytest.fixture(scope="module")
def applied(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[Manifest]]:
    """What deploy.sh applies: each overlay, and each component production uses rendered on
    its own (so that a component's kinds are checked even if an overlay stops using it)."""
    sources = {f"overlays/{overlay}": render_overlay(overlay) for overlay in OVERLAYS}
    production = yaml.safe_load((KUBERNETES / "overlays/production/kustomization.yaml").read_text())
    components = [
        (KUBERNETES / "overlays/production" / c).resolve() for c in production["components"]
    ]
    assert {c.name for c in components} >= {"vpa", "monitoring", "volume-snapshots"}
    for component in components:
        folder = tmp_path_factory.mktemp(component.name)
        # kustomize wants relative paths to what it builds on.
        (folder / "kustomization.yaml").write_text(
            yaml.safe_dump(
                {
                    "apiVersion": "kustomize.config.k8s.io/v1beta1",
                    "kind": "Kustomization",
                    "namespace": NAMESPACE,
                    "components": [os.path.relpath(component, folder)],
                }
            )
        )
        sources[f"components/{component.name}"] = render_kustomization(folder)
        assert sources[f"components/{component.name}"], component.name
    return sources


@pytest.fixture(scope="module")
def cluster_rbac() -> list[Manifest]:
    return render_kustomization(KUBERNETES / "cluster")


def deployer_rules(
    applied: dict[str, list[Manifest]], cluster_rbac: list[Manifest]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The rules of the deployer's Role (the same in every overlay) and of its ClusterRole."""
    roles = [m["rules"] for source in applied.values() for m in find(source, "Role", DEPLOYER)]
    assert len(roles) == len(OVERLAYS), "every overlay ships the deployer's Role"
    assert all(rules == roles[0] for rules in roles)
    cluster_role = one(cluster_rbac, "ClusterRole", f"{DEPLOYER}-namespace")
    return roles[0], cluster_role["rules"]


def test_the_deployer_is_bound_to_its_roles(
    applied: dict[str, list[Manifest]], cluster_rbac: list[Manifest]
) -> None:
    subject = {"kind": "ServiceAccount", "name": DEPLOYER, "namespace": NAMESPACE}
    for overlay in OVERLAYS:
        binding = one(applied[f"overlays/{overlay}"], "RoleBinding", DEPLOYER)
        assert binding["roleRef"] == {
            "apiGroup": "rbac.authorization.k8s.io",
            "kind": "Role",
            "name": DEPLOYER,
        }
        assert binding["subjects"] == [subject]
    binding = one(cluster_rbac, "ClusterRoleBinding", f"{DEPLOYER}-namespace")
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "ClusterRole",
        "name": f"{DEPLOYER}-namespace",
    }
    assert binding["subjects"] == [subject]
    # Only RBAC for the deployer, cluster-wide; nothing namespaced sneaks in there.
    assert {m["kind"] for m in cluster_rbac} == {"ClusterRole", "ClusterRoleBinding"}


def test_the_deployer_can_apply_every_rendered_kind(
    applied: dict[str, list[Manifest]], cluster_rbac: list[Manifest]
) -> None:
    role, cluster_role = deployer_rules(applied, cluster_rbac)
    seen: set[tuple[str, str]] = set()
    for source, manifests in applied.items():
        for manifest in manifests:
            group, kind = api_group(manifest), manifest["kind"]
            resource, name = resource_of(kind), manifest["metadata"]["name"]
            seen.add((group, kind))
            where = f"{source}: {kind}/{name} ({group or 'core'}/{resource})"
            if "namespace" in manifest["metadata"]:
                assert manifest["metadata"]["namespace"] == NAMESPACE, where
                allowed = granted(role, group, resource, name)
                missing = set(APPLY_VERBS - allowed)
                # create can never be limited to a name.
                if "create" not in granted(role, group, resource):
                    missing.add("create")
            else:  # cluster-scoped: must exist already; read and patched by name only
                allowed = granted(cluster_role, group, resource, name)
                missing = set(APPLY_EXISTING_VERBS - allowed)
                assert not granted(cluster_role, group, resource), f"{where}: not by name"
            assert not missing, f"{where}: the deployer lacks {sorted(missing)}"
    # The kinds the review found missing are among those checked.
    assert {
        ("", "Namespace"),
        ("autoscaling.k8s.io", "VerticalPodAutoscaler"),
        ("monitoring.coreos.com", "ServiceMonitor"),
        ("monitoring.coreos.com", "PrometheusRule"),
        ("rbac.authorization.k8s.io", "Role"),
        ("rbac.authorization.k8s.io", "RoleBinding"),
    } <= seen


def test_the_deployer_can_run_the_rest_of_deploy_sh(
    applied: dict[str, list[Manifest]], cluster_rbac: list[Manifest]
) -> None:
    role, _ = deployer_rules(applied, cluster_rbac)
    for (group, resource), verbs in SCRIPT_NEEDS.items():
        missing = verbs - granted(role, group, resource)
        assert not missing, f"{group or 'core'}/{resource}: the deployer lacks {sorted(missing)}"


def test_the_deployer_holds_what_the_roles_it_applies_grant(
    applied: dict[str, list[Manifest]], cluster_rbac: list[Manifest]
) -> None:
    """RBAC's escalation check: a subject may write a Role, or bind it, only if it holds every
    permission in it (or has `escalate`/`bind`, which the deployer must not have)."""
    role, _ = deployer_rules(applied, cluster_rbac)
    for source, manifests in applied.items():
        for applied_role in find(manifests, "Role"):
            for rule in applied_role["rules"]:
                names = rule.get("resourceNames") or [None]
                for group in rule["apiGroups"]:
                    for resource in rule["resources"]:
                        for name in names:
                            missing = set(rule["verbs"]) - granted(role, group, resource, name)
                            assert not missing, (
                                f"{source}: Role/{applied_role['metadata']['name']} grants "
                                f"{sorted(missing)} on {group or 'core'}/{resource}, "
                                "which the deployer does not hold"
                            )
        for binding in find(manifests, "RoleBinding"):
            # Bindings to ClusterRoles would need the ClusterRole's rights in the namespace.
            assert binding["roleRef"]["kind"] == "Role", binding["metadata"]["name"]
            one(manifests, "Role", binding["roleRef"]["name"])


def test_no_rule_grants_everything_or_escalates(
    applied: dict[str, list[Manifest]], cluster_rbac: list[Manifest]
) -> None:
    role, cluster_role = deployer_rules(applied, cluster_rbac)
    every_role = [
        (m["kind"], m["metadata"]["name"], rule)
        for manifests in (*applied.values(), cluster_rbac)
        for m in manifests
        if m["kind"] in {"Role", "ClusterRole"}
        for rule in m.get("rules", [])
    ]
    assert every_role
    for kind, name, rule in every_role:
        for field in ("apiGroups", "resources", "verbs", "resourceNames", "nonResourceURLs"):
            assert "*" not in rule.get(field, []), f"{kind}/{name}: * in {field}"
        assert not ESCALATING_VERBS & set(rule["verbs"]), f"{kind}/{name}: {rule['verbs']}"
    assert granted(role, "", "secrets") == {"get"}  # deploy.sh never writes secrets
    # Nothing cluster-wide in the Role (a Role cannot grant it anyway: keep it honest).
    assert not granted(role, "", "namespaces")
    # The ClusterRole: only the one Namespace, read and patched; no create, update or delete.
    assert cluster_role == [
        {
            "apiGroups": [""],
            "resources": ["namespaces"],
            "resourceNames": [NAMESPACE],
            "verbs": ["get", "patch"],
        }
    ]
