"""A real nginx, loaded with infrastructure/nginx/ rendered for loopback, in front of the app.

The config files are used as they are, with only the deployment-specific strings swapped: the
paths (/etc/nginx/, /tmp/, /srv/finagency/), the upstream address, the listen ports and the log
targets. Every swap must match at least once, so a renamed path breaks the test, not the edge.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import ssl
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tests.fixtures.certificates import write_certificate
from tests.fixtures.services import free_port, require_service, wait_for_port
from tests.infra.fixtures_app import REPO

NGINX_DIR = REPO / "infrastructure" / "nginx"


def nginx_binary() -> str:
    found = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else "")
    require_service("nginx", None if found else "the nginx binary is not installed (apt nginx)")
    return found


@dataclass
class Edge:
    """A rendered nginx config (and, once started, the running nginx)."""

    root: Path
    conf: Path
    http_port: int
    https_port: int
    status_port: int
    ca_file: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def https_url(self) -> str:
        return f"https://127.0.0.1:{self.https_port}"

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def static_dir(self) -> Path:
        return self.root / "srv" / "static"

    @property
    def access_log(self) -> Path:
        return self.root / "logs" / "access.log"

    @property
    def error_log(self) -> Path:
        return self.root / "logs" / "error.log"

    def ssl_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.ca_file))

    def command(self, *extra: str) -> list[str]:
        # As root, workers must read the test's 0700 temp folders; production runs unprivileged.
        globals_ = "daemon off;" + (" user root root;" if os.geteuid() == 0 else "")
        return [
            nginx_binary(),
            "-p",
            f"{self.root}/",
            "-c",
            str(self.conf),
            "-e",
            str(self.error_log),
            "-g",
            globals_,
            *extra,
        ]


def render_nginx(
    root: Path,
    upstream: str,
    entry: str = "nginx.conf",
    extra: dict[str, str] | None = None,
) -> Edge:
    """Copy infrastructure/nginx/ under `root` and point it at `upstream` and free ports."""
    conf_dir = root / "etc"
    shutil.copytree(NGINX_DIR, conf_dir)
    for folder in ("run", "logs", "srv/static", "srv/media"):
        (root / folder).mkdir(parents=True, exist_ok=True)
    write_certificate(conf_dir / "certs")
    edge = Edge(
        root=root,
        conf=conf_dir / entry,
        http_port=free_port(),
        https_port=free_port(),
        status_port=free_port(),
        ca_file=conf_dir / "certs" / "tls.crt",
    )
    swaps = {
        "/etc/nginx/": f"{conf_dir}/",
        "/tmp/": f"{root}/run/",
        "/srv/finagency/": f"{root}/srv/",
        "api:8000": upstream,
        "listen 8080": f"listen 127.0.0.1:{edge.http_port}",
        "listen 8443": f"listen 127.0.0.1:{edge.https_port}",
        "listen 8081": f"listen 127.0.0.1:{edge.status_port}",
        "/dev/stdout": str(edge.access_log),
        "/dev/stderr": str(edge.error_log),
        **(extra or {}),
    }
    pattern = re.compile("|".join(re.escape(key) for key in sorted(swaps, key=len, reverse=True)))
    used: set[str] = set()

    def swap(match: re.Match[str]) -> str:
        used.add(match.group(0))
        return swaps[match.group(0)]

    for path in conf_dir.rglob("*"):
        if path.is_file() and path.suffix in {".conf", ".types"}:
            # One pass, so a replacement (which contains /tmp/) is never swapped again.
            path.write_text(pattern.sub(swap, path.read_text()))
    unused = set(swaps) - used
    assert not unused, f"the nginx config no longer contains {sorted(unused)}"
    return edge


def check_config(edge: Edge) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        edge.command("-t"), capture_output=True, text=True, timeout=30, check=False
    )


@contextlib.contextmanager
def running_nginx(edge: Edge) -> Iterator[Edge]:
    """Start nginx in the foreground on the edge's ports; stop it (and its workers) after."""
    with (edge.root / "logs" / "nginx.out").open("wb") as out:
        edge.process = subprocess.Popen(
            edge.command(), stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        try:
            for port in (edge.http_port, edge.https_port, edge.status_port):
                wait_for_port(port, timeout=15)
        except TimeoutError as error:
            log = edge.error_log.read_text() if edge.error_log.exists() else ""
            raise AssertionError(f"nginx did not start: {error}\n{log}") from None
        yield edge
    finally:
        if edge.process.poll() is None:
            edge.process.send_signal(signal.SIGQUIT)  # graceful: workers finish and exit
            try:
                edge.process.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(edge.process.pid, signal.SIGKILL)  # nginx's own group: master + workers
                edge.process.wait(5)
        edge.process = None
