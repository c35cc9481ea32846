"""Tools of bench/http_endpoints.py: wrk runs and their figures, who used the CPU during a run,
the machine, a process's memory, and a sampling profiler that says where a request's time goes."""

from __future__ import annotations

import contextlib
import json
import os
import platform
import re
import resource
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType

import greenlet  # type: ignore[import-untyped]
import psycopg
import redis
from tests.fixtures.servers import RunningProcess, wait_until_healthy
from tests.fixtures.services import free_port

# --- wrk -------------------------------------------------------------------------------------

MS_PER_UNIT = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3, "h": 3600e3}
UNIT = r"(us|ms|s|m|h)"


@dataclass(frozen=True)
class WrkResult:
    requests: int
    seconds: float
    rate: float  # requests/s
    p50_ms: float
    p99_ms: float
    bad_status: int  # answers outside 2xx and 3xx
    socket_errors: int  # connect, read, write and timeout errors


def wrk_version() -> str:
    found = subprocess.run(["wrk", "--version"], capture_output=True, text=True)
    first = (found.stdout or found.stderr).splitlines()[0]
    return first.split(" [")[0]


def run_wrk(
    url: str,
    headers: dict[str, str],
    body: str | None,
    threads: int,
    connections: int,
    seconds: int,
) -> WrkResult:
    """One wrk run; a POST body goes through a Lua script (wrk has no flag for it)."""
    command = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency"]
    # Slow answers are latency, not errors (wrk's default timeout is 2 s).
    command += ["--timeout", "10s", "-H", "Accept-Encoding: gzip"]
    for name, value in headers.items():
        command += ["-H", f"{name}: {value}"]
    with tempfile.NamedTemporaryFile("w", suffix=".lua") as script:
        if body is not None:
            script.write(f'wrk.method = "POST"\nwrk.body = {lua_string(body)}\n')
            script.flush()
            command += ["-s", script.name]
        done = subprocess.run(
            [*command, url], capture_output=True, text=True, timeout=seconds + 60, check=False
        )
    if done.returncode != 0 or "Requests/sec" not in done.stdout:
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stdout}\n{done.stderr}")
    return parse_wrk(done.stdout)


def lua_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def parse_wrk(output: str) -> WrkResult:
    """The figures of wrk's `--latency` report."""

    def latency(percent: int) -> float:
        found = re.search(rf"^\s*{percent}%\s+([\d.]+){UNIT}\s*$", output, re.MULTILINE)
        if found is None:
            raise ValueError(f"no {percent}% latency in wrk's output:\n{output}")
        return float(found[1]) * MS_PER_UNIT[found[2]]

    total = re.search(rf"(\d+) requests in ([\d.]+){UNIT}", output)
    rate = re.search(r"Requests/sec:\s+([\d.]+)", output)
    if total is None or rate is None:
        raise ValueError(f"no totals in wrk's output:\n{output}")
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    return WrkResult(
        requests=int(total[1]),
        seconds=float(total[2]) * MS_PER_UNIT[total[3]] / 1000,
        rate=float(rate[1]),
        p50_ms=latency(50),
        p99_ms=latency(99),
        bad_status=int(bad[1]) if bad else 0,
        socket_errors=sum(int(n) for n in errors.groups()) if errors else 0,
    )


# --- who used the CPU ------------------------------------------------------------------------

TICK = os.sysconf("SC_CLK_TCK")
PARTS = ("server", "nginx", "wrk", "postgres", "redis")


@dataclass(frozen=True)
class Watched:
    """The processes of one path under load."""

    server: int  # the uvicorn process
    nginx: int  # nginx's master; its workers are its children
    database: str  # PostgreSQL backends serving this database
    redis: int | None


@dataclass(frozen=True)
class Usage:
    """CPU seconds so far, per part (PostgreSQL per backend: they come and go)."""

    wall: float
    machine: float
    parts: dict[str, float]
    backends: dict[int, float] = field(default_factory=dict)

    def cores_since(self, before: Usage) -> dict[str, float]:
        seconds = max(1e-9, self.wall - before.wall)
        used = {part: self.parts[part] - before.parts[part] for part in self.parts}
        used["postgres"] = sum(
            t - before.backends.get(pid, 0.0) for pid, t in self.backends.items()
        )
        cores = {part: value / seconds for part, value in used.items()}
        machine = (self.machine - before.machine) / seconds
        cores["rest"] = max(0.0, machine - sum(cores[part] for part in PARTS))
        return cores


def _processes() -> dict[int, tuple[int, float, str]]:
    """pid -> (parent pid, own CPU seconds, command line)."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rpartition(")")[2].split()
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        found[int(entry.name)] = (
            int(fields[1]),
            (int(fields[11]) + int(fields[12])) / TICK,
            command,
        )
    return found


def usage_now(watched: Watched) -> Usage:
    with Path("/proc/stat").open() as stat:
        values = [int(value) for value in stat.readline().split()[1:]]
    machine = (sum(values[:8]) - values[3] - values[4]) / TICK  # all but idle and iowait
    processes = _processes()

    def own(pid: int | None) -> float:
        return processes[pid][1] if pid in processes else 0.0

    children = resource.getrusage(resource.RUSAGE_CHILDREN)  # wrk, once it has been reaped
    marker = f" {watched.database} "
    return Usage(
        wall=time.monotonic(),
        machine=machine,
        parts={
            "server": own(watched.server),
            "nginx": own(watched.nginx)
            + sum(t for parent, t, _ in processes.values() if parent == watched.nginx),
            "wrk": children.ru_utime + children.ru_stime,
            "redis": own(watched.redis),
        },
        backends={
            pid: t
            for pid, (_, t, command) in processes.items()
            if command.startswith("postgres: ") and marker in command
        },
    )


# --- the machine ---------------------------------------------------------------------------


def machine(load_before: float, postgres_url: str, redis_url: str) -> str:
    """When and on what the figures were taken, and how busy the machine was."""
    with psycopg.connect(postgres_url) as connection:
        row = connection.execute("SHOW server_version").fetchone()
    with redis.Redis.from_url(redis_url) as client:
        redis_version = client.info("server")["redis_version"]
    nginx = subprocess.run(["nginx", "-v"], capture_output=True, text=True).stderr.strip()
    return (
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {platform.node()}, {os.cpu_count()} cores, "
        f"load average {load_before:.2f} before the run and {os.getloadavg()[0]:.2f} after; "
        f"Python {platform.python_version()}, PostgreSQL {row[0] if row else '?'}, "
        f"Redis {redis_version}, {nginx.removeprefix('nginx version: ')}, {wrk_version()}"
    )


# --- memory ----------------------------------------------------------------------------------


def rss_mb(pid: int) -> tuple[float, float]:
    """(resident set size now, its peak) in MB, from /proc/<pid>/status."""
    status = Path(f"/proc/{pid}/status").read_text()
    kib = {
        name: int(value.split()[0])
        for name, value in (line.split(":", 1) for line in status.splitlines() if ":" in line)
        if name in {"VmRSS", "VmHWM"}
    }
    return kib["VmRSS"] / 1024, kib["VmHWM"] / 1024


# --- where the time goes: a sampling profiler ------------------------------------------------

LAYERS = {
    "database: SQLAlchemy, psycopg, greenlet": ("sqlalchemy", "psycopg", "greenlet"),
    "FastAPI and Starlette: routing, dependencies, responses": ("fastapi", "starlette"),
    "pydantic: validation and serialization": ("pydantic", "pydantic_core"),
    "HTTP server and event loop: uvicorn, asyncio": ("uvicorn", "asyncio", "selectors"),
    "thread pool (sync dependencies): anyio, threading": ("anyio", "threading", "concurrent"),
    "Redis client": ("redis",),
    "JWT": ("jwt", "hmac"),
    "logs and metrics: structlog, logging, prometheus_client": (
        "structlog",
        "logging",
        "prometheus_client",
    ),
    "our code (finagency)": ("finagency",),
}


# A `finagency serve` whose sampler starts on SIGUSR1 and stops on SIGUSR2, so that only the
# measured load is in the file. uvicorn re-raises SIGTERM once it has shut down gracefully; a
# handler that ignores it lets the process return and write the file.
SAMPLED_SERVE = """
import pathlib, signal, sys
sys.path.insert(0, {root!r})
from bench.http_load import StackSampler
from finagency.cli import app
sampler = StackSampler()
signal.signal(signal.SIGUSR1, lambda *_: sampler.start())
signal.signal(signal.SIGUSR2, lambda *_: sampler.stop())
signal.signal(signal.SIGTERM, lambda *_: None)
try:
    app(sys.argv[2:], standalone_mode=False)
finally:
    sampler.stop()
    sampler.dump(pathlib.Path(sys.argv[1]))
"""


@contextlib.contextmanager
def sampled_serve(samples: Path, log_path: Path, env: dict[str, str]) -> Iterator[RunningProcess]:
    """`finagency serve` on a free port, ready to be sampled; its samples in `samples` after."""
    port = free_port()
    script = SAMPLED_SERVE.format(root=str(Path(__file__).resolve().parent.parent))
    serve = ["serve", "--host", "127.0.0.1", "--port", str(port)]
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-c", script, str(samples), *serve],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
        )
    running = RunningProcess(process, log_path, port)
    try:
        wait_until_healthy(running.base_url)
        yield running
    finally:
        running.stop()


class StackSampler:
    """Samples the main thread's Python stack each `interval` s of the process's CPU time
    (SIGPROF; py-spy's idea without py-spy). Unlike cProfile it does not slow small calls
    down, a coroutine counts exactly while it runs, and waiting costs no samples. Time in C
    code counts for the Python frame that called it, or that runs next (the event loop's)."""

    def __init__(self, interval: float = 0.001) -> None:
        self.interval = interval
        self.samples: Counter[tuple[str, ...]] = Counter()
        self.cpu_seconds = 0.0  # the process's, while sampling (the timer's ticks may be coarser)

    def start(self) -> None:  # in the main thread
        self.cpu_seconds -= time.process_time()
        signal.signal(signal.SIGPROF, self._sample)
        signal.setitimer(signal.ITIMER_PROF, self.interval, self.interval)

    def stop(self) -> None:
        if signal.getitimer(signal.ITIMER_PROF)[0]:
            signal.setitimer(signal.ITIMER_PROF, 0, 0)
            self.cpu_seconds += time.process_time()

    def _sample(self, _signal: int, frame: FrameType | None) -> None:
        stack = []
        # SQLAlchemy's asyncio runs its sync code in a greenlet: go on in the one that awaits it.
        runner = greenlet.getcurrent()
        while frame is not None:
            code = frame.f_code
            stack.append(f"{code.co_filename}:{code.co_firstlineno}:{code.co_name}")
            frame = frame.f_back
            if frame is None and runner.parent is not None:
                runner = runner.parent
                frame = runner.gr_frame
        self.samples[tuple(reversed(stack))] += 1

    def dump(self, path: Path) -> None:
        samples = [[count, list(stack)] for stack, count in self.samples.items()]
        path.write_text(json.dumps({"cpu_seconds": self.cpu_seconds, "samples": samples}))


def package_of(frame: str) -> str:
    """The top-level package (or standard library module) of a sampled frame."""
    filename = frame.rsplit(":", 2)[0]
    if "/site-packages/" in filename:
        return filename.split("/site-packages/")[1].split("/")[0].removesuffix(".py")
    if "/finagency/" in filename:
        return "finagency"
    stdlib = re.search(r"/python3\.\d+/(\w+)", filename)
    return stdlib[1] if stdlib else filename


def layer_of(package: str) -> str:
    for layer, packages in LAYERS.items():
        if package in packages:
            return layer
    return f"other: {package}"


def short(frame: str) -> str:
    filename, line, function = frame.rsplit(":", 2)
    if "/finagency/" in filename:
        filename = filename.split("/finagency/")[1]
    else:
        filename = f"{package_of(frame)}/{Path(filename).name}"
    return f"{filename}:{line} {function}"


def profile_summary(path: Path, requests: int, top: int = 12) -> str:
    """CPU time by layer (the innermost frame's package), by our functions (anywhere on the
    stack) and by innermost function, per request."""
    dump = json.loads(path.read_text())
    samples = [(count, stack) for count, stack in dump["samples"]]
    total = sum(count for count, _ in samples)
    cpu_ms = dump["cpu_seconds"] * 1000
    per = cpu_ms / max(1, total) / max(1, requests)  # ms per request that one sample stands for
    lines = [
        f"{total:,} samples of the main thread's stack; the process used {cpu_ms / 1000:.1f} s "
        f"of CPU, {cpu_ms / max(1, requests):.2f} ms per request ({requests:,} requests).",
        "",
        "| layer (the innermost Python frame's package) | share | ms/request |",
        "|---|---:|---:|",
    ]
    layers: Counter[str] = Counter()
    ours: Counter[str] = Counter()
    leaves: Counter[str] = Counter()
    for count, stack in samples:
        layers[layer_of(package_of(stack[-1]))] += count
        leaves[stack[-1]] += count
        for frame in {frame for frame in stack if "/finagency/" in frame}:
            ours[frame] += count
    lines += [
        f"| {layer} | {count / total:.1%} | {count * per:.3f} |"
        for layer, count in layers.most_common(top)
    ]
    lines += ["", "| our function (with what it calls, while it runs) | share | ms/request |"]
    lines += ["|---|---:|---:|"]
    lines += [
        f"| {short(frame)} | {count / total:.1%} | {count * per:.3f} |"
        for frame, count in ours.most_common(top * 2)
    ]
    lines += ["", "| innermost function | share | ms/request |", "|---|---:|---:|"]
    lines += [
        f"| {short(frame)} | {count / total:.1%} | {count * per:.3f} |"
        for frame, count in leaves.most_common(top)
    ]
    return "\n".join(lines)
