#!/usr/bin/env bash
# Back up the PostgreSQL database: pg_dump custom format, optionally gpg-encrypted, with a
# sha256 checksum beside it, then drop backups older than the retention period.
set -euo pipefail

usage() {
  cat <<'USAGE'
Usage: backup.sh [-d DATABASE_URL | -D FILE] [-o DIR] [-k DAYS] [-p PASSPHRASE_FILE] [-h]

  -d URL    database to back up (default: $FINAGENCY_DATABASE_URL); postgresql:// only
  -D FILE   read the database URL from FILE (a mounted secret)
  -o DIR    folder for the backups (default: $BACKUP_DIR or ./backups)
  -k DAYS   delete backups older than DAYS days (default: $BACKUP_RETENTION_DAYS or 30;
            0 keeps every backup)
  -p FILE   encrypt with gpg (AES256) using the passphrase in FILE
            (default: $BACKUP_PASSPHRASE_FILE; unset = not encrypted)
  -h        this help

Writes DIR/finagency-<database>-<UTC time>.dump (.dump.gpg when encrypted) and a .sha256
file beside it, checks that pg_restore can read it, and prints its path.
Compose: docker-compose -f infrastructure/docker/docker-compose.prod.yml run --rm \
  --entrypoint backup.sh backup -o /backups -p /run/secrets/backup_passphrase
USAGE
}

die() {
  echo "backup.sh: $*" >&2
  exit 1
}

# libpq wants postgresql://; SQLAlchemy-style URLs name a driver (postgresql+psycopg://).
libpq_url() {
  sed -E 's#^postgres(ql)?(\+[A-Za-z0-9_]+)?://#postgresql://#' <<<"$1"
}

read_url_file() {
  [[ -r "$1" ]] || die "cannot read the database URL file $1"
  tr -d '\n' <"$1"
}

masked() {
  sed -E 's#(://[^:/@]+):[^@]*@#\1:****@#' <<<"$1"
}

database_url="${FINAGENCY_DATABASE_URL:-}"
backup_dir="${BACKUP_DIR:-./backups}"
retention_days="${BACKUP_RETENTION_DAYS:-30}"
passphrase_file="${BACKUP_PASSPHRASE_FILE:-}"

while getopts ":d:D:o:k:p:h" option; do
  case "$option" in
    d) database_url="$OPTARG" ;;
    D) database_url="$(read_url_file "$OPTARG")" ;;
    o) backup_dir="$OPTARG" ;;
    k) retention_days="$OPTARG" ;;
    p) passphrase_file="$OPTARG" ;;
    h)
      usage
      exit 0
      ;;
    :) die "-$OPTARG needs a value (see -h)" ;;
    *) die "unknown option -$OPTARG (see -h)" ;;
  esac
done
shift $((OPTIND - 1))
[[ $# -eq 0 ]] || die "unexpected argument: $1 (see -h)"

[[ -n "$database_url" ]] || die "no database: give -d URL or set FINAGENCY_DATABASE_URL"
[[ "$database_url" =~ ^postgres(ql)?(\+[A-Za-z0-9_]+)?:// ]] ||
  die "only PostgreSQL can be backed up this way (got $(masked "$database_url")); for SQLite use: sqlite3 FILE '.backup COPY'"
[[ "$retention_days" =~ ^[0-9]+$ ]] || die "-k wants a whole number of days, got '$retention_days'"
if [[ -n "$passphrase_file" ]]; then
  [[ -r "$passphrase_file" ]] || die "passphrase file $passphrase_file is not readable"
  command -v gpg >/dev/null || die "gpg is needed to encrypt (-p) but is not installed"
fi
command -v pg_dump >/dev/null || die "pg_dump is not installed (Debian: postgresql-client)"

url="$(libpq_url "$database_url")"
database_name="${url##*/}"
database_name="${database_name%%\?*}"
[[ -n "$database_name" ]] || die "the URL names no database: $(masked "$database_url")"

mkdir -p "$backup_dir"
stamp="$(date -u +%Y%m%dT%H%M%SZ)"
name="finagency-${database_name}-${stamp}.dump"
[[ -n "$passphrase_file" ]] && name="${name}.gpg"
target="${backup_dir}/${name}"
[[ ! -e "$target" ]] || die "$target exists already"
partial="${target}.partial"
trap 'rm -f "$partial"' EXIT

echo "backing up $(masked "$database_url") to $target" >&2
if [[ -n "$passphrase_file" ]]; then
  # gpg needs a writable home; the container's root filesystem may be read-only.
  GNUPGHOME="$(mktemp -d)"
  export GNUPGHOME
  trap 'rm -f "$partial"; rm -rf "$GNUPGHOME"' EXIT
  pg_dump --format=custom --no-owner --dbname="$url" |
    gpg --batch --yes --quiet --pinentry-mode loopback --passphrase-file "$passphrase_file" \
      --symmetric --cipher-algo AES256 --output "$partial"
  # pg_restore --list stops reading after the table of contents, so gpg may see a broken
  # pipe: only pg_restore's verdict counts here.
  set +o pipefail
  readable=0
  gpg --batch --quiet --pinentry-mode loopback --passphrase-file "$passphrase_file" \
    --decrypt "$partial" 2>/dev/null | pg_restore --list >/dev/null || readable=$?
  set -o pipefail
  ((readable == 0)) || die "the encrypted backup cannot be read back"
else
  pg_dump --format=custom --no-owner --dbname="$url" --file="$partial"
  pg_restore --list "$partial" >/dev/null || die "the backup cannot be read back"
fi
mv "$partial" "$target"
(cd "$backup_dir" && sha256sum "$name" >"${name}.sha256")

if ((retention_days > 0)); then
  find "$backup_dir" -maxdepth 1 -type f -name 'finagency-*' -mtime "+${retention_days}" \
    -print -delete | sed 's/^/removed old backup /' >&2
fi
echo "$target"
