"""bench/pipeline.py at a tiny size: eight requests through one real Celery worker, on
PostgreSQL and Redis, print the figures and pass the exactly-once check, without touching the
published figures; and the check itself fails loudly on a lost or doubled delivery."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from bench.pipeline import exactly_once
from bench.pipeline_desk import Journey

from bench import report
from tests.fixtures.services import postgres_problem, redis_problem, require_service

ROOT = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def _bench_env() -> dict[str, str]:
    """Ours without the app's settings (the bench sets its own), keeping where the services are."""
    return {
        name: value
        for name, value in os.environ.items()
        if not name.startswith("FINAGENCY_") or name.startswith("FINAGENCY_TEST_")
    }


def test_eight_requests_through_one_worker_are_measured_and_delivered_once() -> None:
    require_service("PostgreSQL", postgres_problem())
    require_service("Redis", redis_problem())
    published = report.DOC.read_text() if report.DOC.exists() else None
    command = ["bench/pipeline.py", "--requests", "5", "--paced", "3", "--workers", "1"]
    run = subprocess.run(
        [sys.executable, *command, "--noop", "100"],
        cwd=ROOT,
        env=_bench_env(),
        capture_output=True,
        text=True,
        timeout=110,
    )
    assert run.returncode == 0, run.stderr[-4000:]
    out = run.stdout
    figures = {
        "baseline": r"\| no-op task \(`celery.accumulate`\), 100 queued at once \| [\d,]+/s \|",
        "pipeline": r"\| \*\*pipeline\*\*, 5 requests at once: .* \| \*\*[\d.]+ requests/s\*\* \|",
        "ratio": r"\| pipeline / no-op \| \*\*[\d.]+%\*\* \((met|MISSED)\) \| ≥ 10 % \|",
        "lag": r"\| \*\*publish lag\*\*, 3 requests .* \| [\d.]+ s / [\d.]+ s \((met|MISSED)\) at ",
        "stages": r"\| burst: request stored → delivered, p50 / p99 \| [\d.]+ s / [\d.]+ s \|",
        "task times": r"\| worker time per `content.generate` \(tasks × mean\) \| \d+ × [\d.]+ ms",
        "memory": r"after the warm-up → after the run \| \d+ / \d+ MB → \d+ / \d+ MB \|",
    }  # fmt: skip
    missing = [name for name, figure in figures.items() if not re.search(figure, out)]
    assert not missing, f"no figure for {missing} in:\n{out}"
    # Two warm-up requests, five at once, three paced: each one line in the outbox.
    assert "| 8 of 8 requests delivered exactly once (10 outbox lines for 10 publications" in out
    # Without --write the published figures stay as they were.
    assert (report.DOC.read_text() if report.DOC.exists() else None) == published


def _journey(request_id: int, publication_id: int) -> Journey:
    return Journey(request_id, publication_id, "published", NOW, NOW, NOW, NOW)


def _outbox(tmp_path: Path, publication_ids: list[int]) -> Path:
    path = tmp_path / "bench-outbox.jsonl"
    path.write_text("".join(json.dumps({"publication_id": p}) + "\n" for p in publication_ids))
    return path


def test_the_exactly_once_check_passes_one_line_per_request(tmp_path: Path) -> None:
    journeys = [_journey(1, 10), _journey(2, 11)]
    verdict = exactly_once(_outbox(tmp_path, [11, 10, 9]), [1, 2], journeys, [9, 10, 11])
    assert verdict.startswith("2 of 2 requests delivered exactly once (3 outbox lines")


@pytest.mark.parametrize(
    ("lines", "problem"),
    [
        ([10], "publications never delivered': [11]"),
        ([10, 11, 11], "publications delivered twice': [11]"),
        ([10, 11, 12], "lines of no publication': [12]"),
    ],
)
def test_the_exactly_once_check_fails_loudly(
    tmp_path: Path, lines: list[int], problem: str
) -> None:
    journeys = [_journey(1, 10), _journey(2, 11)]
    with pytest.raises(SystemExit, match="EXACTLY-ONCE CHECK FAILED") as failed:
        exactly_once(_outbox(tmp_path, lines), [1, 2], journeys, [10, 11])
    assert problem in str(failed.value)


def test_a_request_without_its_publication_fails_the_check(tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match="requests without exactly one publication': \\[2\\]"):
        exactly_once(_outbox(tmp_path, [10]), [1, 2], [_journey(1, 10)], [10])
