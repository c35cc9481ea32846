"""Where a benchmark's figures go: its own section of docs/performance.md.

Every benchmark takes `--write`: it then replaces, in docs/performance.md, the block between
`<!-- results:NAME -->` and `<!-- /results:NAME -->` (appended at the end the first time) with
the tables it printed, headed by the machine, the command and the date. Without `--write` it
only prints, so a quick or smoke run never overwrites the published figures. The prose around
a block (what is measured, the targets, what was done about a miss) is written by hand.
"""

from __future__ import annotations

import os
import platform
import shlex
import sys
from datetime import UTC, datetime
from pathlib import Path

DOC = Path(__file__).resolve().parent.parent / "docs" / "performance.md"


def machine() -> str:
    """The facts a reader needs to weigh the figures: cores, Python, load at the start."""
    load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    return (
        f"{platform.system()} {platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, load average {load}"
    )


def header() -> str:
    command = " ".join(shlex.quote(part) for part in [".venv/bin/python", *sys.argv])
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return f"Measured {when} on {machine()}.\nCommand: `{command}`"


def write_section(name: str, body: str, doc: Path = DOC) -> None:
    """Put `body` (markdown) in the named results block of the document, replacing the old one."""
    begin, end = f"<!-- results:{name} -->", f"<!-- /results:{name} -->"
    block = f"{begin}\n{header()}\n\n{body.strip()}\n{end}"
    current = doc.read_text() if doc.exists() else ""
    first, found, rest = current.partition(begin)
    if found and end in rest:
        updated = first + block + rest.split(end, 1)[1]
    else:
        updated = current.rstrip("\n") + "\n\n" + block + "\n"
    doc.write_text(updated)
