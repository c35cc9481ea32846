"""Finding the deploy-file checkers (in the venv, in checkov's own venv, or on PATH)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from tests.fixtures.services import require_service

ROOT = Path(__file__).resolve().parents[2]
INFRA = ROOT / "infrastructure"
SCRIPTS = INFRA / "scripts"
KUBERNETES = INFRA / "kubernetes"
OVERLAYS = ("staging", "production")


def tool(name: str, why: str, extra_dirs: tuple[Path, ...] = ()) -> str:
    """The path of `name`, or fail/skip (require_service) saying what it is needed for."""
    for folder in (*extra_dirs, Path(sys.executable).parent):
        candidate = folder / name
        if candidate.is_file():
            return str(candidate)
    found = shutil.which(name)
    if found:
        return found
    require_service(name, f"not installed ({why})")
    raise AssertionError("unreachable")  # require_service failed or skipped


def kubectl() -> str:
    path = tool(
        "kubectl", "renders the kustomize overlays; infrastructure/scripts/install-kubectl.sh"
    )
    version = subprocess.run([path, "version", "--client"], capture_output=True, text=True)
    if "Kustomize Version: v5" not in version.stdout:
        require_service("kubectl", f"its kustomize is not v5: {version.stdout.strip()!r}")
    return path


def render_overlay(overlay: str) -> list[dict[str, Any]]:
    result = subprocess.run(
        [kubectl(), "kustomize", str(KUBERNETES / "overlays" / overlay)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return [document for document in yaml.safe_load_all(result.stdout) if document]
