#!/usr/bin/env bash
# Restore a backup made by backup.sh: verify its checksum, decrypt it if needed, and replace
# the target database's objects with pg_restore in one transaction.
set -euo pipefail

usage() {
  cat <<'USAGE'
Usage: restore.sh -f FILE|latest [-i DIR] [-d DATABASE_URL | -D FILE] [-p PASSPHRASE_FILE] -y [-h]

  -f FILE   the backup (.dump or .dump.gpg) with its .sha256 beside it; 'latest' takes the
            newest backup in DIR
  -i DIR    folder searched by -f latest (default: $BACKUP_DIR or ./backups)
  -d URL    database to restore into (default: $FINAGENCY_DATABASE_URL); postgresql:// only
  -D FILE   read the database URL from FILE (a mounted secret)
  -p FILE   passphrase file for an encrypted backup (default: $BACKUP_PASSPHRASE_FILE)
  -y        confirm: the objects in the target database are replaced
  -h        this help
USAGE
}

die() {
  echo "restore.sh: $*" >&2
  exit 1
}

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
passphrase_file="${BACKUP_PASSPHRASE_FILE:-}"
backup_file=""
confirmed=false

while getopts ":f:i:d:D:p:yh" option; do
  case "$option" in
    f) backup_file="$OPTARG" ;;
    i) backup_dir="$OPTARG" ;;
    d) database_url="$OPTARG" ;;
    D) database_url="$(read_url_file "$OPTARG")" ;;
    p) passphrase_file="$OPTARG" ;;
    y) confirmed=true ;;
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

[[ -n "$backup_file" ]] || die "no backup: give -f FILE or -f latest"
[[ -n "$database_url" ]] || die "no database: give -d URL or set FINAGENCY_DATABASE_URL"
[[ "$database_url" =~ ^postgres(ql)?(\+[A-Za-z0-9_]+)?:// ]] ||
  die "only PostgreSQL can be restored this way (got $(masked "$database_url"))"

if [[ "$backup_file" == "latest" ]]; then
  # Names carry a sortable UTC time stamp.
  backup_file="$(find "$backup_dir" -maxdepth 1 -type f \( -name 'finagency-*.dump' -o -name 'finagency-*.dump.gpg' \) |
    sort | tail -n 1)"
  [[ -n "$backup_file" ]] || die "no backup found in $backup_dir"
fi
[[ -f "$backup_file" ]] || die "$backup_file does not exist"
[[ -f "${backup_file}.sha256" ]] || die "${backup_file}.sha256 is missing: cannot verify the backup"
(cd "$(dirname "$backup_file")" && sha256sum --quiet --check "$(basename "$backup_file").sha256") ||
  die "checksum mismatch: $backup_file is damaged; nothing was restored"

[[ "$confirmed" == true ]] ||
  die "this replaces the data in $(masked "$database_url"); add -y to confirm"
command -v pg_restore >/dev/null || die "pg_restore is not installed (Debian: postgresql-client)"

url="$(libpq_url "$database_url")"
restore=(pg_restore --clean --if-exists --no-owner --no-privileges --single-transaction
  --exit-on-error --dbname="$url")
echo "restoring $backup_file into $(masked "$database_url")" >&2
if [[ "$backup_file" == *.gpg ]]; then
  [[ -n "$passphrase_file" && -r "$passphrase_file" ]] ||
    die "$backup_file is encrypted: give the passphrase file with -p"
  command -v gpg >/dev/null || die "gpg is needed to decrypt but is not installed"
  GNUPGHOME="$(mktemp -d)"
  export GNUPGHOME
  trap 'rm -rf "$GNUPGHOME"' EXIT
  gpg --batch --quiet --pinentry-mode loopback --passphrase-file "$passphrase_file" \
    --decrypt "$backup_file" | "${restore[@]}"
else
  "${restore[@]}" "$backup_file"
fi
echo "restored $backup_file" >&2
