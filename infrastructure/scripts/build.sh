#!/usr/bin/env bash
# Build (and optionally scan and push) the AI Finance Agency images with docker buildx.
set -euo pipefail

usage() {
  cat <<'USAGE'
Usage: build.sh [-e ENV] [-t TAG] [-r REGISTRY] [-p] [--scan] [--no-cache] [--platform LIST] [-h]

  -e ENV           development | staging | production (default: production); development
                   builds the 'development' stage, the others 'runtime' plus the backup image
  -t TAG           image tag (default: sha-<git sha>); the sha-<git sha> tag is always added
  -r REGISTRY      registry and namespace (default: $REGISTRY or ghcr.io/ai-finance-agency)
  -p, --push       push a multi-arch image (--platform) to the registry
  --scan           scan each image with Trivy before it is pushed (fails on HIGH/CRITICAL)
  --no-cache       build without the layer cache
  --platform LIST  platforms when pushing (default: linux/amd64,linux/arm64)
  -h, --help       this help

Images: REGISTRY/ai-finance-agency and REGISTRY/ai-finance-agency-backup (pg_dump, gpg).
Environment: GIT_SHA (default: git rev-parse HEAD), SOURCE_DATE_EPOCH (image creation time).
USAGE
}

die() {
  echo "build.sh: $*" >&2
  exit 1
}

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
environment="production"
tag=""
registry="${REGISTRY:-ghcr.io/ai-finance-agency}"
push=false
scan=false
no_cache=false
platforms="linux/amd64,linux/arm64"
builder="finagency-builder"

while [[ $# -gt 0 ]]; do
  case "$1" in
    -e | --environment)
      environment="${2:?-e needs a value}"
      shift
      ;;
    -t | --tag)
      tag="${2:?-t needs a value}"
      shift
      ;;
    -r | --registry)
      registry="${2:?-r needs a value}"
      shift
      ;;
    -p | --push) push=true ;;
    --scan) scan=true ;;
    --no-cache) no_cache=true ;;
    --platform)
      platforms="${2:?--platform needs a value}"
      shift
      ;;
    -h | --help)
      usage
      exit 0
      ;;
    *) die "unknown argument: $1 (see -h)" ;;
  esac
  shift
done

case "$environment" in
  development) target="development" ;;
  staging | production) target="runtime" ;;
  *) die "-e must be development, staging or production, got '$environment'" ;;
esac
[[ -z "$tag" || "$tag" =~ ^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$ ]] || die "invalid tag '$tag'"

command -v docker >/dev/null || die "docker is not installed"
if [[ "$scan" == true ]] && ! command -v trivy >/dev/null; then
  die "--scan needs Trivy, which is not installed: install trivy (see Trivy's installation guide) or build without --scan"
fi
docker buildx version >/dev/null 2>&1 || die "docker buildx is not available (install the buildx plugin)"

git_sha="${GIT_SHA:-$(git -C "$root" rev-parse HEAD 2>/dev/null || echo unknown)}"
short_sha="${git_sha:0:12}"
[[ -n "$tag" ]] || tag="sha-${short_sha}"
created="$(date -u -d "@${SOURCE_DATE_EPOCH:-$(date +%s)}" +%Y-%m-%dT%H:%M:%SZ)"

# image name and Dockerfile stage per image
images=("ai-finance-agency:${target}")
[[ "$environment" != "development" ]] && images+=("ai-finance-agency-backup:backup")

build() { # build REPOSITORY STAGE OUTPUT... : one buildx invocation
  local repository="$1" stage="$2"
  shift 2
  local command=(docker buildx build --file "$root/infrastructure/docker/Dockerfile"
    --target "$stage"
    --build-arg "VERSION=$tag" --build-arg "REVISION=$git_sha" --build-arg "CREATED=$created"
    --label "org.opencontainers.image.version=$tag"
    --label "org.opencontainers.image.revision=$git_sha"
    --label "org.opencontainers.image.created=$created"
    --tag "$registry/$repository:$tag")
  [[ "$tag" != "sha-${short_sha}" ]] && command+=(--tag "$registry/$repository:sha-${short_sha}")
  [[ "$no_cache" == true ]] && command+=(--no-cache)
  "${command[@]}" "$@" "$root"
}

if [[ "$push" == true ]]; then
  # Multi-arch images need a docker-container builder; the default docker driver cannot.
  docker buildx inspect "$builder" >/dev/null 2>&1 ||
    docker buildx create --name "$builder" --driver docker-container >/dev/null
fi

for image in "${images[@]}"; do
  repository="${image%%:*}"
  stage="${image##*:}"
  if [[ "$scan" == true ]]; then
    # Scan a local build for this machine's platform before anything is pushed.
    build "$repository" "$stage" --load
    trivy image --exit-code 1 --severity HIGH,CRITICAL --ignore-unfixed --no-progress \
      "$registry/$repository:$tag" || die "Trivy found HIGH/CRITICAL vulnerabilities in $registry/$repository:$tag; not pushed"
  fi
  if [[ "$push" == true ]]; then
    build "$repository" "$stage" --builder "$builder" --platform "$platforms" --push
  elif [[ "$scan" == false ]]; then
    build "$repository" "$stage" --load
  fi
  echo "$registry/$repository:$tag"
done
