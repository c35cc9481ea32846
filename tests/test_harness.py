"""The harness's promise: without a service, tests skip on a laptop and fail in CI."""

import os
import subprocess
import sys
from pathlib import Path

from tests.fixtures.services import free_port

ROOT = Path(__file__).resolve().parent.parent


def _run_health_tests(require: bool) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FINAGENCY_")}
    env["FINAGENCY_TEST_POSTGRES_URL"] = f"postgresql://postgres@127.0.0.1:{free_port()}/postgres"
    if require:
        env["FINAGENCY_REQUIRE_SERVICES"] = "1"
    return subprocess.run(
        [sys.executable, "-m", "pytest", "tests/system/test_health.py", "-k", "postgresql"]
        + ["-p", "no:cacheprovider", "-q", "-rs"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_a_missing_service_skips_with_the_reason_by_default() -> None:
    result = _run_health_tests(require=False)
    assert result.returncode == 0, result.stdout
    assert "PostgreSQL is not available" in result.stdout
    assert " passed" not in result.stdout.splitlines()[-1]


def test_a_missing_service_fails_the_run_when_services_are_required() -> None:
    result = _run_health_tests(require=True)
    assert result.returncode == 1, result.stdout
    assert "FINAGENCY_REQUIRE_SERVICES=1" in result.stdout
