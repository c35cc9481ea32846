"""Recording stand-ins for docker, kubectl, trivy and finagency: each call is appended to a log,
answered from per-test rules (glob pattern on the arguments -> exit code and output)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

STANDIN = r"""#!/usr/bin/env bash
name="$(basename "$0")"
args="$*"
printf '%s %s\n' "$name" "$args" >>"$STANDIN_DIR/calls.log"
previous=""
for argument in "$@"; do
  if [[ "$previous" == "-k" && -f "$argument/kustomization.yaml" ]]; then
    cp "$argument/kustomization.yaml" "$STANDIN_DIR/kustomization.yaml"
  fi
  previous="$argument"
done
if [[ -f "$STANDIN_DIR/$name.rules" ]]; then
  line=0
  while IFS=$'\x1f' read -r pattern code output times; do
    line=$((line + 1))
    # shellcheck disable=SC2053
    if [[ "$args" == $pattern ]]; then
      if [[ -n "$times" ]]; then  # a rule that answers only its first `times` matches
        counter="$STANDIN_DIR/$name.$line.count"
        used=$(($(cat "$counter" 2>/dev/null || echo 0) + 1))
        echo "$used" >"$counter"
        ((used <= times)) || continue
      fi
      [[ -n "$output" ]] && printf '%b\n' "$output"
      exit "$code"
    fi
  done <"$STANDIN_DIR/$name.rules"
fi
exit 0
"""

# What the scripts may use from the machine; nothing else (no real docker, kubectl or trivy).
SYSTEM_TOOLS = (
    "bash basename cat cp date dirname echo env find git grep head mktemp python3 realpath rm sed "
    "sort tail tr wc"
).split()


@dataclass
class Standins:
    folder: Path
    bin: Path
    env: dict[str, str] = field(default_factory=dict)

    def answer(
        self, command: str, pattern: str, code: int = 0, output: str = "", times: int = 0
    ) -> None:
        """Calls of `command` whose arguments match the glob `pattern` exit `code` (only the
        first `times` such calls when times > 0); the first matching rule wins."""
        with (self.folder / f"{command}.rules").open("a") as rules:
            # \x1f (unit separator): tabs would merge empty fields in `read`.
            rules.write("\x1f".join([pattern, str(code), output, str(times or "")]) + "\n")

    def calls(self, command: str | None = None) -> list[str]:
        log = self.folder / "calls.log"
        lines = log.read_text().splitlines() if log.exists() else []
        lines = [re.sub(r" -k \S+", " -k <kustomization>", line) for line in lines]
        if command:
            lines = [line for line in lines if line.split(" ", 1)[0] == command]
        return lines

    def kustomization(self) -> str:
        return (self.folder / "kustomization.yaml").read_text()

    def run(
        self, script: Path, *args: str, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(script), *args],
            env={**self.env, **(env or {})},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )


def make_standins(folder: Path, commands: tuple[str, ...]) -> Standins:
    """A PATH holding only the stand-ins and the few system tools the scripts need."""
    bin_dir = folder / "bin"
    bin_dir.mkdir(parents=True)
    for command in commands:
        path = bin_dir / command
        path.write_text(STANDIN)
        path.chmod(0o755)
    for name in SYSTEM_TOOLS:
        # The interpreter running the tests (PATH may hold only a pyenv shim).
        real = os.path.realpath(sys.executable) if name == "python3" else _which(name)
        if real and not (bin_dir / name).exists():
            (bin_dir / name).symlink_to(real)
    env = {
        "PATH": str(bin_dir),
        "HOME": str(folder),
        "STANDIN_DIR": str(folder),
        "LANG": "C.UTF-8",
    }
    return Standins(folder=folder, bin=bin_dir, env=env)


def _which(name: str) -> str | None:
    for directory in os.environ.get("PATH", "").split(os.pathsep) + ["/usr/bin", "/bin"]:
        candidate = Path(directory) / name
        if candidate.is_file() and os.access(candidate, os.X_OK) and ".venv" not in directory:
            return str(candidate)
    return None
