"""The `finagency` command line, run as a real process."""

import subprocess
from pathlib import Path

import httpx

from tests.fixtures.servers import FINAGENCY, process_env, run_finagency
from tests.fixtures.services import free_port


def run(
    args: list[str], env: dict[str, str], timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*FINAGENCY, *args], env=env, capture_output=True, text=True, timeout=timeout
    )


def test_a_bad_setting_exits_2_naming_the_variable(tmp_path: Path) -> None:
    env = process_env(data_dir=str(tmp_path), database_url="mysql://u@h/db")
    for command in (["check"], ["migrate"], ["serve"]):
        result = run(command, env)
        assert result.returncode == 2, result
        assert "FINAGENCY_DATABASE_URL" in result.stderr
        assert "Traceback" not in result.stderr + result.stdout


def test_production_without_a_secret_does_not_start(tmp_path: Path) -> None:
    env = process_env(
        data_dir=str(tmp_path), env="production", database_url="postgresql://u@127.0.0.1/x"
    )
    result = run(["serve"], env)
    assert result.returncode == 2
    assert "FINAGENCY_SECRET_KEY" in result.stderr
    assert not (tmp_path / "secret_key").exists()


def test_bad_arguments_exit_2(tmp_path: Path) -> None:
    env = process_env(data_dir=str(tmp_path))
    assert run(["serve", "--port", "0"], env).returncode == 2
    assert run(["serve", "--bogus"], env).returncode == 2
    multi = run(["serve", "--workers", "2"], env)
    assert multi.returncode == 2
    assert "FINAGENCY_REDIS_URL" in multi.stderr
    worker = run(["worker"], env)
    assert worker.returncode == 2
    assert "FINAGENCY_REDIS_URL" in worker.stderr


def test_unknown_queues_are_refused(tmp_path: Path, redis_url: tuple[str, str]) -> None:
    env = process_env(data_dir=str(tmp_path), redis_url=redis_url[0], redis_prefix=redis_url[1])
    result = run(["worker", "--queues", "default,nope", "--metrics-port", "0"], env)
    assert result.returncode == 2
    assert "nope" in result.stderr


def test_migrate_creates_the_embedded_database_and_is_repeatable(tmp_path: Path) -> None:
    env = process_env(data_dir=str(tmp_path))
    first = run(["migrate"], env)
    assert first.returncode == 0, first.stderr
    assert (tmp_path / "finagency.db").exists()
    again = run(["migrate"], env)
    assert again.returncode == 0, again.stderr
    assert "Database at head" in again.stdout


def test_check_masks_secrets_and_tests_each_service(
    tmp_path: Path, committed_database_url: str, redis_url: tuple[str, str]
) -> None:
    database_url = committed_database_url.replace("postgres@", "postgres:db-password@")
    env = process_env(
        data_dir=str(tmp_path),
        database_url=database_url,
        redis_url=redis_url[0],
        redis_prefix=redis_url[1],
        secret_key="s3cret-value-that-must-never-print-0123456789",
    )
    result = run(["check"], env)
    assert result.returncode == 0, result.stdout + result.stderr
    output = result.stdout
    assert "db-password" not in output
    assert "s3cret-value" not in output
    assert "FINAGENCY_SECRET_KEY" in output
    assert "database: ok" in output
    assert "redis: ok" in output


def test_check_fails_when_a_service_is_unreachable(tmp_path: Path) -> None:
    env = process_env(
        data_dir=str(tmp_path),
        database_url=f"postgresql://postgres@127.0.0.1:{free_port()}/gone",
    )
    result = run(["check"], env)
    assert result.returncode == 1
    assert "database:" in result.stdout
    assert "database: ok" not in result.stdout


def test_serve_with_several_workers_adds_up_their_metrics(
    tmp_path: Path, committed_database_url: str, redis_url: tuple[str, str]
) -> None:
    port = free_port()
    env = process_env(
        data_dir=str(tmp_path),
        database_url=committed_database_url,
        redis_url=redis_url[0],
        redis_prefix=redis_url[1],
    )
    with run_finagency(
        ["serve", "--port", str(port), "--workers", "2"], tmp_path / "serve.log", env, port=port
    ) as server:
        sent = 0
        # New connections until both processes have answered some (bounded), so that the
        # scrape below has samples of two processes to add up.
        while sent < 500 and (sent < 20 or len(_answering_processes(server.json_logs())) < 2):
            with httpx.Client() as http:
                assert http.get(f"{server.base_url}/ready").status_code == 200
            sent += 1
        assert len(_answering_processes(server.json_logs())) == 2
        with httpx.Client() as http:
            text = http.get(f"{server.base_url}/metrics").text
    line = 'http_requests_total{method="GET",route="/ready",status="200"}'
    counts = [float(row.rsplit(" ", 1)[1]) for row in text.splitlines() if row.startswith(line)]
    # One series, summed over both processes, whichever of them answered the scrape.
    assert counts == [float(sent)]


def _answering_processes(records: list[dict[str, object]]) -> set[object]:
    return {r.get("process") for r in records if r.get("event") == "request"}


def test_publishing_pause_and_resume_switch_every_worker_through_the_database(
    tmp_path: Path,
) -> None:
    import json
    import sqlite3

    env = process_env(data_dir=str(tmp_path))
    assert run(["migrate"], env).returncode == 0

    def stored() -> dict[str, object]:
        with sqlite3.connect(tmp_path / "finagency.db") as db:
            row = db.execute(
                "SELECT value FROM system_settings WHERE key = 'publishing_paused'"
            ).fetchone()
        return dict(json.loads(row[0]))

    paused = run(["publishing", "pause", "--reason", "exchange outage"], env)
    assert paused.returncode == 0, paused.stderr
    assert "paused" in paused.stdout
    assert stored()["paused"] is True
    assert stored()["reason"] == "exchange outage"
    resumed = run(["publishing", "resume"], env)
    assert resumed.returncode == 0, resumed.stderr
    assert stored()["paused"] is False
    bad = run(["publishing", "stop"], env)
    assert bad.returncode == 2
    with sqlite3.connect(tmp_path / "finagency.db") as db:
        actions = [a for (a,) in db.execute("SELECT action FROM audit_events ORDER BY id")]
    assert actions == ["publishing_paused", "publishing_resumed"]
