#!/usr/bin/env bash
# Entry point of the AI Finance Agency image: one role per container, exec'd so that the app
# receives SIGTERM directly (tini, PID 1, forwards it).
set -euo pipefail

usage() {
  cat <<'USAGE'
Usage: docker-entrypoint.sh ROLE [ARGS...]

Roles:
  api [ARGS]          finagency serve on 0.0.0.0:$PORT with $WEB_CONCURRENCY processes
                      (set FINAGENCY_MIGRATE_ON_START=true to migrate first)
  worker [ARGS]       finagency worker (Celery); ARGS such as --queues market --concurrency 4
  beat                finagency beat (exactly one per deployment)
  migrate [REVISION]  finagency migrate
  check               finagency check (configuration and connectivity)
  healthcheck [URL]   exit 0 when URL answers 200 (default http://127.0.0.1:$PORT/health);
                      the image has no curl
  anything else       run as given (e.g. bash, pytest)

Environment: PORT (8000), HOST (0.0.0.0), WEB_CONCURRENCY (1), FINAGENCY_MIGRATE_ON_START,
FINAGENCY_HEALTHCHECK_URL, and the FINAGENCY_* settings of the README.
USAGE
}

role="${1:-api}"
[[ $# -gt 0 ]] && shift

case "$role" in
  -h | --help | help)
    usage
    ;;
  api)
    if [[ "${FINAGENCY_MIGRATE_ON_START:-false}" == "true" ]]; then
      finagency migrate
    fi
    exec finagency serve --host "${HOST:-0.0.0.0}" --port "${PORT:-8000}" \
      --workers "${WEB_CONCURRENCY:-1}" "$@"
    ;;
  worker)
    exec finagency worker "$@"
    ;;
  beat | migrate | check)
    exec finagency "$role" "$@"
    ;;
  healthcheck)
    url="${1:-${FINAGENCY_HEALTHCHECK_URL:-http://127.0.0.1:${PORT:-8000}/health}}"
    exec python3 - "$url" <<'PY'
import sys
import urllib.error
import urllib.request

try:
    with urllib.request.urlopen(sys.argv[1], timeout=4) as response:  # noqa: S310 (own URL)
        sys.exit(0 if response.status == 200 else 1)
except (urllib.error.URLError, OSError) as error:
    print(f"healthcheck {sys.argv[1]}: {error}", file=sys.stderr)
    sys.exit(1)
PY
    ;;
  *)
    exec "$role" "$@"
    ;;
esac
