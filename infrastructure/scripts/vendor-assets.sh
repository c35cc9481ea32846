#!/usr/bin/env bash
# Fetch the dashboard's third-party assets from the npm registry and record what was taken.
set -euo pipefail

usage() {
  cat <<'USAGE'
Usage: vendor-assets.sh [-h]

Fetches the pinned htmx and uPlot releases with `npm pack`, copies only their minified dist
files (and each licence) into src/finagency/web/static/vendor/ and writes VENDORED.md there:
package, version, tarball, integrity and the sha256 of every file. Needs npm, tar, sha256sum.
To upgrade: change a version below, run this, commit the files and VENDORED.md together.
USAGE
}

while getopts ":h" option; do
  case "$option" in
    h) usage; exit 0 ;;
    *) usage >&2; exit 2 ;;
  esac
done

# htmx stays on 2.0.x: 4.x changed its attribute and event API.
HTMX_VERSION="2.0.11"
UPLOT_VERSION="1.6.32"

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
vendor="$root/src/finagency/web/static/vendor"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# package@version, then "path-in-tarball:file-name-here" pairs.
assets=(
  "htmx.org@$HTMX_VERSION dist/htmx.min.js:htmx.min.js LICENSE:htmx.LICENSE.txt"
  "uplot@$UPLOT_VERSION dist/uPlot.iife.min.js:uPlot.iife.min.js dist/uPlot.min.css:uPlot.min.css LICENSE:uPlot.LICENSE.txt"
)

mkdir -p "$vendor"
record="$work/VENDORED.md"
{
  echo "# Vendored static assets"
  echo
  echo "Written by \`infrastructure/scripts/vendor-assets.sh\`; do not edit by hand. The tests check"
  echo "every file below against its sha256."
  echo
  echo "| package | version | licence | tarball | integrity |"
  echo "|---|---|---|---|---|"
} >"$record"
files_table="$work/files.md"
: >"$files_table"

for line in "${assets[@]}"; do
  read -r spec pairs <<<"$line"
  name="${spec%@*}"
  version="${spec##*@}"
  tarball="$(npm view "$spec" dist.tarball)"
  integrity="$(npm view "$spec" dist.integrity)"
  licence="$(npm view "$spec" license)"
  (cd "$work" && npm pack --silent "$spec" >/dev/null)
  unpacked="$work/$name"
  mkdir -p "$unpacked"
  tar -xzf "$work/$name-$version.tgz" -C "$unpacked"
  echo "| $name | $version | $licence | $tarball | \`$integrity\` |" >>"$record"
  read -r -a pair_list <<<"$pairs"
  for pair in "${pair_list[@]}"; do
    source_path="${pair%%:*}"
    target="${pair##*:}"
    cp "$unpacked/package/$source_path" "$vendor/$target"
    sum="$(sha256sum "$vendor/$target" | cut -d' ' -f1)"
    echo "| $target | $name@$version | package/$source_path | $sum |" >>"$files_table"
  done
done

{
  echo
  echo "## Files"
  echo
  echo "| file | from | path in tarball | sha256 |"
  echo "|---|---|---|---|"
  cat "$files_table"
} >>"$record"
cp "$record" "$vendor/VENDORED.md"
echo "vendored into $vendor"
