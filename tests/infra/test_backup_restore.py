"""backup.sh and restore.sh, for real, against the local PostgreSQL (databases of their own)."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from tests.fixtures.services import (
    create_database,
    drop_database,
    postgres_problem,
    random_name,
    require_service,
)
from tests.infra.tools import SCRIPTS

BACKUP = SCRIPTS / "backup.sh"
RESTORE = SCRIPTS / "restore.sh"


def run(
    script: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    environment = {
        k: v for k, v in os.environ.items() if not k.startswith(("FINAGENCY_", "BACKUP_"))
    }
    return subprocess.run(
        [str(script), *args],
        env={**environment, **(env or {})},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture
def databases() -> Iterator[tuple[str, str]]:
    """A filled source database and an empty target, both dropped afterwards."""
    require_service("PostgreSQL", postgres_problem())
    for tool in ("pg_dump", "pg_restore"):
        require_service(tool, None if shutil.which(tool) else "not on PATH (postgresql-client)")
    source, target = random_name("fin_backup_src"), random_name("fin_backup_dst")
    try:
        source_url = create_database(source)
        target_url = create_database(target)
        with psycopg.connect(source_url, autocommit=True) as connection:
            connection.execute(
                "CREATE TABLE publication (id bigint PRIMARY KEY, channel text NOT NULL, "
                "body text NOT NULL, amount numeric(12, 4))"
            )
            connection.execute(
                "INSERT INTO publication SELECT g, 'channel-' || (g % 7), md5(g::text) || "
                "repeat('é', g % 5), g * 1.2345 FROM generate_series(1, 2500) AS g"
            )
        yield source_url, target_url
    finally:
        drop_database(source)
        drop_database(target)


def fingerprint(url: str) -> tuple[int, str]:
    with psycopg.connect(url) as connection:
        row = connection.execute(
            "SELECT count(*), md5(string_agg(id || '|' || channel || '|' || body || '|' || "
            "amount, ',' ORDER BY id)) FROM publication"
        ).fetchone()
    assert row is not None
    return int(row[0]), str(row[1])


def table_exists(url: str) -> bool:
    with psycopg.connect(url) as connection:
        row = connection.execute("SELECT to_regclass('public.publication') IS NOT NULL").fetchone()
    return bool(row and row[0])


@pytest.mark.parametrize("encrypted", [False, True], ids=["plain", "gpg"])
def test_backup_then_restore_gives_the_same_rows(
    databases: tuple[str, str], tmp_path: Path, encrypted: bool
) -> None:
    source, target = databases
    folder = tmp_path / "backups"
    passphrase: list[str] = []
    if encrypted:
        require_service("gpg", None if shutil.which("gpg") else "not on PATH (Debian: gnupg)")
        key = tmp_path / "passphrase"
        key.write_text("correct horse battery staple\n")
        passphrase = ["-p", str(key)]

    # A SQLAlchemy-style URL, as FINAGENCY_DATABASE_URL may hold it.
    driver_url = source.replace("postgresql://", "postgresql+psycopg://")
    backed_up = run(
        BACKUP, "-o", str(folder), *passphrase, env={"FINAGENCY_DATABASE_URL": driver_url}
    )
    assert backed_up.returncode == 0, backed_up.stderr
    backup_file = Path(backed_up.stdout.strip())
    assert backup_file.parent == folder
    assert backup_file.name.endswith(".dump.gpg" if encrypted else ".dump")
    assert Path(f"{backup_file}.sha256").read_text().split()[1] == backup_file.name
    if encrypted:
        assert not backup_file.read_bytes().startswith(b"PGDMP")  # not a readable dump

    restored = run(RESTORE, "-f", "latest", "-i", str(folder), "-d", target, *passphrase, "-y")
    assert restored.returncode == 0, restored.stderr

    assert fingerprint(target) == fingerprint(source)
    assert fingerprint(target)[0] == 2500


def test_restore_replaces_what_the_target_holds(databases: tuple[str, str], tmp_path: Path) -> None:
    source, target = databases
    backed_up = run(BACKUP, "-d", source, "-o", str(tmp_path))
    assert backed_up.returncode == 0, backed_up.stderr
    assert run(RESTORE, "-f", backed_up.stdout.strip(), "-d", target, "-y").returncode == 0
    with psycopg.connect(target, autocommit=True) as connection:
        connection.execute("DELETE FROM publication WHERE id > 100")

    again = run(RESTORE, "-f", backed_up.stdout.strip(), "-d", target, "-y")

    assert again.returncode == 0, again.stderr
    assert fingerprint(target) == fingerprint(source)


def test_damaged_backup_is_refused_and_restores_nothing(
    databases: tuple[str, str], tmp_path: Path
) -> None:
    source, target = databases
    backed_up = run(BACKUP, "-d", source, "-o", str(tmp_path))
    backup_file = Path(backed_up.stdout.strip())
    data = bytearray(backup_file.read_bytes())
    data[len(data) // 2] ^= 0xFF
    backup_file.write_bytes(bytes(data))

    restored = run(RESTORE, "-f", str(backup_file), "-d", target, "-y")

    assert restored.returncode == 1
    assert "checksum mismatch" in restored.stderr
    assert not table_exists(target)


def test_restore_needs_confirmation(databases: tuple[str, str], tmp_path: Path) -> None:
    source, target = databases
    backed_up = run(BACKUP, "-d", source, "-o", str(tmp_path))

    restored = run(RESTORE, "-f", backed_up.stdout.strip(), "-d", target)

    assert restored.returncode == 1
    assert "add -y to confirm" in restored.stderr
    assert not table_exists(target)


def test_encrypted_backup_needs_the_passphrase(databases: tuple[str, str], tmp_path: Path) -> None:
    require_service("gpg", None if shutil.which("gpg") else "not on PATH (Debian: gnupg)")
    source, target = databases
    key = tmp_path / "passphrase"
    key.write_text("s3cret\n")
    backed_up = run(BACKUP, "-d", source, "-o", str(tmp_path / "b"), "-p", str(key))
    assert backed_up.returncode == 0, backed_up.stderr
    wrong = tmp_path / "wrong"
    wrong.write_text("not it\n")

    without = run(RESTORE, "-f", backed_up.stdout.strip(), "-d", target, "-y")
    mistaken = run(RESTORE, "-f", backed_up.stdout.strip(), "-d", target, "-y", "-p", str(wrong))

    assert without.returncode == 1
    assert "give the passphrase file with -p" in without.stderr
    assert mistaken.returncode != 0
    assert not table_exists(target)


def test_database_url_from_a_file(databases: tuple[str, str], tmp_path: Path) -> None:
    source, target = databases
    url_file = tmp_path / "FINAGENCY_DATABASE_URL"
    url_file.write_text(source + "\n")  # as a mounted secret may end

    backed_up = run(BACKUP, "-D", str(url_file), "-o", str(tmp_path / "b"))

    assert backed_up.returncode == 0, backed_up.stderr
    assert run(RESTORE, "-f", backed_up.stdout.strip(), "-d", target, "-y").returncode == 0
    assert fingerprint(target) == fingerprint(source)


def test_old_backups_are_removed_after_the_retention_period(
    databases: tuple[str, str], tmp_path: Path
) -> None:
    source, _ = databases
    old = tmp_path / "finagency-x-20200101T000000Z.dump"
    old.write_bytes(b"old")
    recent = tmp_path / "finagency-x-20990101T000000Z.dump"
    recent.write_bytes(b"recent")
    unrelated = tmp_path / "notes.txt"
    unrelated.write_text("keep me")
    forty_days_ago = time.time() - 40 * 86400
    for path in (old, unrelated):
        os.utime(path, (forty_days_ago, forty_days_ago))

    backed_up = run(BACKUP, "-d", source, "-o", str(tmp_path), "-k", "30")

    assert backed_up.returncode == 0, backed_up.stderr
    assert not old.exists()
    assert recent.exists()
    assert unrelated.exists()
    assert Path(backed_up.stdout.strip()).exists()
    assert f"removed old backup {old}" in backed_up.stderr


@pytest.mark.parametrize(
    ("script", "args", "message"),
    [
        (BACKUP, ("-d", "sqlite:///var/finagency.db"), "only PostgreSQL can be backed up"),
        (BACKUP, (), "no database"),
        (BACKUP, ("-d", "postgresql://u@h/db", "-k", "soon"), "-k wants a whole number"),
        (RESTORE, ("-d", "postgresql://u@h/db"), "no backup"),
        (RESTORE, ("-f", "/nonexistent.dump", "-d", "postgresql://u@h/db", "-y"), "does not exist"),
    ],
)
def test_bad_arguments(script: Path, args: tuple[str, ...], message: str) -> None:
    result = run(script, *args)

    assert result.returncode == 1
    assert message in result.stderr


def test_passwords_are_masked_in_messages(tmp_path: Path) -> None:
    result = run(
        RESTORE, "-f", "latest", "-i", str(tmp_path), "-d", "postgresql://app:hunter2@h/db"
    )

    assert result.returncode == 1
    assert "hunter2" not in result.stderr
