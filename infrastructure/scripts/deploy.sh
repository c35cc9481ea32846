#!/usr/bin/env bash
# Deploy a kustomize overlay to Kubernetes: backup (production), migration job, apply, wait for
# the rollout, check /ready, and roll back by itself when any of that fails.
set -euo pipefail

usage() {
  cat <<'USAGE'
Usage: deploy.sh -e ENV [-i TAG] [-n NAMESPACE] [-w SECONDS] [-r REPOSITORY] [options]

  -e ENV            staging | production (the overlay infrastructure/kubernetes/overlays/ENV)
  -i TAG            image tag to deploy (required unless --rollback)
  -n NAMESPACE      namespace to deploy into (default: ai-finance-agency); the overlay is
                    re-targeted to it (objects, RoleBinding subjects, Ingress header ConfigMap)
  -w SECONDS        how long to wait for each job and rollout (default: 300)
  -r REPOSITORY     image repository (default: the overlay's, e.g.
                    ghcr.io/ai-finance-agency/ai-finance-agency; the backup image is
                    REPOSITORY-backup)
  --rollback        undo the last rollout of the api, worker and beat Deployments
  --dry-run         render and validate on the server (kubectl apply --dry-run=server); change nothing
  --no-backup       production: skip the backup job before the migration
  --no-migrate      skip the migration job
  -h, --help        this help

Secrets are never written by this script: ai-finance-secrets, postgres-credentials and
backup-encryption must exist in the namespace (see infrastructure/kubernetes/base/secret.example.yaml).
USAGE
}

die() {
  echo "deploy.sh: $*" >&2
  exit 1
}

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
environment=""
tag=""
namespace="ai-finance-agency"
wait_seconds=300
# The image names as the base kustomization sets them (an image transformer matches by name).
base_repository="ghcr.io/ai-finance-agency/ai-finance-agency"
repository=""
rollback=false
dry_run=false
backup=true
migrate=true
deployments=(ai-finance-app celery-worker celery-beat)
secrets=(ai-finance-secrets postgres-credentials backup-encryption)
run_id="${DEPLOY_ID:-$(date -u +%Y%m%d%H%M%S)}"

while [[ $# -gt 0 ]]; do
  case "$1" in
    -e | --environment)
      environment="${2:?-e needs a value}"
      shift
      ;;
    -i | --image-tag)
      tag="${2:?-i needs a value}"
      shift
      ;;
    -n | --namespace)
      namespace="${2:?-n needs a value}"
      shift
      ;;
    -w | --wait)
      wait_seconds="${2:?-w needs a value}"
      shift
      ;;
    -r | --repository)
      repository="${2:?-r needs a value}"
      shift
      ;;
    --rollback) rollback=true ;;
    --dry-run) dry_run=true ;;
    --no-backup) backup=false ;;
    --no-migrate) migrate=false ;;
    -h | --help)
      usage
      exit 0
      ;;
    *) die "unknown argument: $1 (see -h)" ;;
  esac
  shift
done

[[ -n "$environment" ]] || die "-e ENV is required (staging or production)"
[[ "$environment" == staging || "$environment" == production ]] ||
  die "-e must be staging or production, got '$environment'"
[[ "$wait_seconds" =~ ^[1-9][0-9]*$ ]] || die "-w wants a number of seconds, got '$wait_seconds'"
[[ "$namespace" =~ ^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$ ]] || die "invalid namespace '$namespace'"
overlay="$root/infrastructure/kubernetes/overlays/$environment"
[[ -f "$overlay/kustomization.yaml" ]] || die "no overlay at $overlay"
command -v kubectl >/dev/null || die "kubectl is not installed"

k() { kubectl --namespace "$namespace" "$@"; }

wait_for_rollouts() {
  local deployment
  for deployment in "${deployments[@]}"; do
    k rollout status "deployment/$deployment" --timeout="${wait_seconds}s" || return 1
  done
}

check_ready() {
  # The image has no curl; its entry point checks a URL with Python.
  k exec deployment/ai-finance-app -- docker-entrypoint.sh healthcheck http://127.0.0.1:8000/ready
}

roll_back() {
  local deployment
  echo "rolling back ${deployments[*]} in $namespace" >&2
  for deployment in "${deployments[@]}"; do
    k rollout undo "deployment/$deployment" || die "rollback of $deployment failed: act by hand (kubectl rollout history deployment/$deployment -n $namespace)"
  done
  wait_for_rollouts || die "the rolled-back version did not become ready either: act by hand"
}

run_job() { # run_job CRONJOB WHAT: a Job from a CronJob, waited for
  local cronjob="$1" what="$2" job="$1-$run_id"
  echo "running $what (job/$job)" >&2
  k create job "$job" --from="cronjob/$cronjob"
  if ! k wait --for=condition=complete "job/$job" --timeout="${wait_seconds}s"; then
    k logs "job/$job" --tail=50 >&2 || true
    return 1
  fi
}

if [[ "$rollback" == true ]]; then
  roll_back
  check_ready || die "rolled back, but /ready still fails"
  echo "rolled back ${deployments[*]} in $namespace"
  exit 0
fi

[[ -n "$tag" ]] || die "-i TAG is required (the image tag to deploy)"
[[ "$tag" =~ ^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$ ]] || die "invalid image tag '$tag'"

for secret in "${secrets[@]}"; do
  k get secret "$secret" --output=name >/dev/null ||
    die "secret $namespace/$secret is missing: create it first (see infrastructure/kubernetes/base/secret.example.yaml); this script never writes secrets"
done

# A kustomization of our own on top of the overlay sets the image tag without editing files.
# kustomize wants a relative path to the overlay.
workdir="$(mktemp -d)"
trap 'rm -rf "$workdir"' EXIT
{
  echo "apiVersion: kustomize.config.k8s.io/v1beta1"
  echo "kind: Kustomization"
  echo "resources:"
  echo "  - $(realpath --relative-to="$workdir" "$overlay")"
  echo "images:"
  echo "  - name: $base_repository"
  echo "    newName: ${repository:-$base_repository}"
  echo "    newTag: \"$tag\""
  echo "  - name: $base_repository-backup"
  echo "    newName: ${repository:-$base_repository}-backup"
  echo "    newTag: \"$tag\""
  # -n: everything in that namespace, including what names it outside metadata.namespace.
  echo "namespace: $namespace"
  echo "patches:"
  echo "  - target: {kind: RoleBinding}"
  echo "    patch: '[{\"op\": \"replace\", \"path\": \"/subjects/0/namespace\", \"value\": \"$namespace\"}]'"
  echo "  - target: {kind: Ingress}"
  echo "    patch: '[{\"op\": \"replace\", \"path\": \"/metadata/annotations/nginx.ingress.kubernetes.io~1custom-headers\", \"value\": \"$namespace/ai-finance-security-headers\"}]'"
} >"$workdir/kustomization.yaml"

if [[ "$dry_run" == true ]]; then
  kubectl apply -k "$workdir" --dry-run=server
  echo "dry run: nothing was changed"
  exit 0
fi

if [[ "$environment" == production && "$backup" == true ]]; then
  if k get cronjob database-backup --output=name >/dev/null 2>&1; then
    run_job database-backup "the pre-deployment backup" || die "the backup failed; nothing was deployed"
  else
    echo "no cronjob/database-backup yet (first deployment): no backup to take" >&2
  fi
fi

if [[ "$migrate" == true ]]; then
  # Configuration, accounts and the migration CronJob first, with the new image.
  kubectl apply -k "$workdir" --selector finagency.io/deploy-phase=prepare
  run_job database-migrate "the database migration" ||
    die "the migration failed; the running version was not changed"
fi

kubectl apply -k "$workdir"
if ! wait_for_rollouts; then
  roll_back
  die "the rollout of $tag did not finish within ${wait_seconds}s; rolled back"
fi
if ! check_ready; then
  roll_back
  die "$tag rolled out but /ready fails; rolled back"
fi
echo "deployed $tag to $environment ($namespace)"
