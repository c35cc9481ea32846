"""Benchmark: the API and the dashboard under load with wrk, directly on uvicorn and through
nginx, beside a bare FastAPI hello-world started by the same run.

Run: .venv/bin/python bench/http_endpoints.py  [--duration 10] [--connections 64] [--threads 2]
     [--warmup 2] [--rows 5000] [--no-profile] [--write]
Needs PostgreSQL on 127.0.0.1:5432 (user postgres), Redis on 127.0.0.1:6379, nginx and wrk
(Debian: apt-get install nginx wrk). It creates a database of its own (migrated and seeded), uses
a Redis key prefix of its own, and removes both, its processes and its temp dir at the end; it
reports to stdout, and with --write also to docs/performance.md (bench/report.py). About four
minutes with the defaults.

What runs, all on this machine:
- `finagency serve` (one process, as the image runs it; FINAGENCY_ENV=production) on that
  database and Redis. No worker runs: a content request is stored and its Celery message put on
  Redis for a worker that is not there, so the POST measures the API's accept path only. The
  market snapshot is taken in this process before the server starts (the simulated provider).
- bench/hello_world.py: a bare FastAPI app under uvicorn with the same settings (the baseline).
- nginx with infrastructure/nginx/nginx.bench.conf (no rate limits), one in front of each of
  the two, over HTTPS: the config's plain-HTTP listener answers only /health and redirects the
  rest. wrk speaks HTTP/1.1 with keep-alive, so TLS handshakes happen once per connection.

Each endpoint and path gets `--warmup` s of load (not counted), then `--duration` s measured with
`wrk -t{threads} -c{connections} --latency`. Every request carries `Accept-Encoding: gzip`, as
browsers and HTTP libraries send it (nginx compresses JSON and HTML; uvicorn does not). One
request before and one after each run checks the status and the body; wrk's count of non-2xx/3xx
answers and socket errors is shown. The ratio is requests/s against the hello-world on the same
path (direct against direct, nginx against nginx), averaged over its run at the start and at the
end (both shown: the machine's drift). Two "rungs" (direct only) sit between the hello-world and
the quotes: /health (our middleware, no auth, no database) and /api/v1/auth/me (+ the bearer
token's checks). CPU per run, in cores: the server, nginx, wrk, this database's PostgreSQL
backends, Redis (shared with anyone else using it) and everything else on the machine; and the
server's CPU per request, which is what its throughput is the inverse of.
Then (unless `--no-profile`) the cached quotes again on a second `finagency serve`, directly,
its main thread's stack sampled on CPU time (bench/http_load.py): where the time goes.

wrk (not wrk2) is a closed loop: each connection waits for its answer before sending again, so
latency under saturation is about connections / throughput, and a stall delays the requests
behind it without their being counted (coordinated omission): read p99 as a floor.
Issue 10's targets: cached quotes at least 50 % of hello-world throughput with p99 under 25 ms at
64 connections; API process RSS under 200 MB.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import redis

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.dashboard_pages import seed  # noqa: E402
from bench.http_load import (  # noqa: E402
    Watched,
    WrkResult,
    machine,
    profile_summary,
    rss_mb,
    run_wrk,
    sampled_serve,
    usage_now,
)
from tests.fixtures.accounts import FAST_HASHING  # noqa: E402
from tests.fixtures.servers import RunningProcess, process_env, run_finagency  # noqa: E402
from tests.fixtures.services import (  # noqa: E402
    POSTGRES_ADMIN_URL,
    REDIS_URL,
    create_database,
    delete_redis_keys,
    drop_database,
    free_port,
    wait_for_port,
)
from tests.infra.fixtures_nginx import Edge, render_nginx, running_nginx  # noqa: E402

from bench import report as report_module  # noqa: E402
from finagency import migrate, tasks  # noqa: E402
from finagency.accounts import sessions  # noqa: E402
from finagency.accounts.audit import Actor  # noqa: E402
from finagency.accounts.dependencies import API_KEY_HEADER, SESSION_COOKIE  # noqa: E402
from finagency.accounts.models import User  # noqa: E402
from finagency.accounts.passwords import hash_password  # noqa: E402
from finagency.accounts.permissions import Scope  # noqa: E402
from finagency.accounts.tokens import issue_access_token  # noqa: E402
from finagency.content import service as content_service  # noqa: E402
from finagency.db import Database  # noqa: E402
from finagency.market import service as market_service  # noqa: E402
from finagency.settings import Settings, load_settings  # noqa: E402

SYMBOLS = "^GSPC,^DJI,^IXIC,^NSEI,^BSESN,EURUSD=X,BTC-USD,AAPL,MSFT,NVDA"
QUOTES = "/api/v1/market/quotes?symbols=" + SYMBOLS.replace("^", "%5E").replace("=", "%3D")
REQUEST_BODY = '{"type":"market_update","symbols":["^GSPC","^NSEI"],"channels":["x","file"]}'
HELLO_WORLD = ROOT / "bench" / "hello_world.py"
QUOTES_TARGET = (0.50, 25.0)  # at least this share of hello-world's requests/s, p99 under (ms)
RSS_TARGET_MB = 200


@dataclass(frozen=True)
class Endpoint:
    name: str
    server: str  # "hello" or "app"
    path: str
    headers: dict[str, str]
    expect: str  # a piece of the body a correct answer has
    status: int = 200
    body: str | None = None  # JSON, POSTed
    paths: tuple[str, ...] = ("direct", "nginx")


@dataclass(frozen=True)
class Caller:
    """An editor's three ways in: a bearer token, an API key, a browser session."""

    token: str
    api_key: str
    cookie: str


@dataclass
class Server:
    direct: str  # base URLs
    edge: Edge
    watched: Watched

    def base(self, path: str) -> str:
        return self.direct if path == "direct" else self.edge.https_url


@dataclass
class Run:
    endpoint: Endpoint
    path: str  # "direct" or "nginx"
    result: WrkResult
    usage: dict[str, float]  # cores per part of the machine
    checks: list[str]  # problems found by the requests before and after

    @property
    def app_ms_per_request(self) -> float:
        return self.usage["server"] * self.result.seconds * 1000 / max(1, self.result.requests)


def endpoints(caller: Caller, rows: int) -> list[Endpoint]:
    bearer = {"Authorization": f"Bearer {caller.token}"}
    return [
        # Two rungs between the hello-world and the quotes, to see where the time goes.
        Endpoint(
            "rung: /health (our middleware and routing; no auth, no database)",
            "app",
            "/health",
            {},
            '"status":"ok"',
            paths=("direct",),
        ),
        Endpoint(
            "rung: /api/v1/auth/me (+ bearer token: JWT, revocation on Redis, user query)",
            "app",
            "/api/v1/auth/me",
            bearer,
            '"role":"editor"',
            paths=("direct",),
        ),
        Endpoint("latest quotes, 10 symbols (bearer token)", "app", QUOTES, bearer, '"quotes"'),
        Endpoint(
            "latest quotes, 10 symbols (API key)",
            "app",
            QUOTES,
            {API_KEY_HEADER: caller.api_key},
            '"quotes"',
        ),
        Endpoint(
            f"content list, newest 50 of {rows:,} (bearer token)",
            "app",
            "/api/v1/content",
            bearer,
            '"next_before_id"',
        ),
        Endpoint(
            "content request, POST, stored and queued (bearer token)",
            "app",
            "/api/v1/content/requests",
            {**bearer, "Content-Type": "application/json"},
            '"status":"pending"',
            status=202,
            body=REQUEST_BODY,
        ),
        Endpoint(
            "dashboard overview page (browser session)",
            "app",
            "/",
            {"Cookie": f"{SESSION_COOKIE}={caller.cookie}"},
            "<h1>Overview</h1>",
        ),
    ]


HELLO = Endpoint("hello-world (baseline)", "hello", "/hello", {}, '{"hello":"world"}')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.partition("\n")[0])
    parser.add_argument("--duration", type=int, default=10, help="seconds measured per run")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument("--warmup", type=int, default=2, help="seconds of load before each run")
    parser.add_argument("--rows", type=int, default=5000, help="content rows seeded")
    parser.add_argument(
        "--no-profile", dest="profile", action="store_false", help="skip the sampled quotes run"
    )
    parser.add_argument("--write", action="store_true", help="put the tables in the docs")
    args = parser.parse_args()
    for tool in ("wrk", "nginx"):
        if not (shutil.which(tool) or Path(f"/usr/sbin/{tool}").exists()):
            raise SystemExit(f"{tool} is not installed (Debian: apt-get install {tool})")

    name = f"finagency_bench_{uuid.uuid4().hex[:8]}"
    prefix = f"bench-{uuid.uuid4().hex[:8]}:"
    root = Path(tempfile.mkdtemp(prefix="finagency-bench-http-"))
    url = create_database(name)
    try:
        config = {
            "env": "production",
            "database_url": url,
            "redis_url": REDIS_URL,
            "redis_prefix": prefix,
            "secret_key": secrets.token_urlsafe(48),
            "embedded_worker": "false",
            "access_token_minutes": "240",  # outlives long runs (--duration 60 and more)
            "auth_rate_per_second": "1000",
            "auth_rate_burst": "1000",
            **{key: str(value) for key, value in FAST_HASHING.items()},
        }
        run(root, config, args)
    finally:
        drop_database(name)
        delete_redis_keys(REDIS_URL, prefix)
        shutil.rmtree(root, ignore_errors=True)
        with redis.Redis.from_url(REDIS_URL) as client:
            left = sum(1 for _ in client.scan_iter(match=f"{prefix}*", count=500))
        print(f"\ncleaned up: database {name} dropped, {left} Redis keys left under {prefix}")


def run(root: Path, config: dict[str, str], args: argparse.Namespace) -> None:
    load_before = os.getloadavg()[0]
    settings = load_settings(data_dir=root / "bench", **config)
    database = Database(settings)
    started = time.monotonic()
    with database.sync_engine.begin() as connection:
        migrate.upgrade("head", connection=connection)
    seed(database, args.rows)
    with database.sync_session() as session:
        snapshot = market_service.take_snapshot(session, settings)
    caller = asyncio.run(make_caller(database, settings))
    print(
        f"prepared in {time.monotonic() - started:.1f} s: {args.rows:,} content rows, "
        f"market snapshot {snapshot.id} ({len(snapshot.instruments)} instruments)"
    )
    env = process_env(data_dir=str(root / "api"), **config)
    logs = root / "logs"
    logs.mkdir()
    try:
        with contextlib.ExitStack() as stack:
            app_port = free_port()
            app = stack.enter_context(
                run_finagency(
                    ["serve", "--host", "127.0.0.1", "--port", str(app_port)],
                    logs / "serve.log",
                    env,
                    port=app_port,
                )
            )
            hello = stack.enter_context(hello_world(logs / "hello.log"))
            database_name = config["database_url"].rpartition("/")[2]
            servers = {
                name: start_edge(stack, root / f"nginx-{name}", upstream, database_name)
                for name, upstream in (("app", app), ("hello", hello))
            }
            rss_start = {name: rss_mb(server.watched.server)[0] for name, server in servers.items()}
            runs = measure(servers, database, settings, caller, args)
            rss = {
                name: (rss_start[name], *rss_mb(server.watched.server))
                for name, server in servers.items()
            }
            report(runs, rss, args, load_before)
            if args.profile:
                profile(root, env, caller, args)
    except BaseException:
        for log in sorted(logs.iterdir()):
            print(f"--- {log.name} (last lines) ---", file=sys.stderr)
            print("\n".join(log.read_text(errors="replace").splitlines()[-30:]), file=sys.stderr)
        raise
    finally:
        database.sync_engine.dispose()


async def make_caller(database: Database, settings: Settings) -> Caller:
    async with database.session() as session:
        user = User(
            email=f"bench-{uuid.uuid4().hex[:6]}@example.com",
            display_name="Bench editor",
            role="editor",
            password_hash=hash_password(settings, secrets.token_urlsafe(16)),
        )
        session.add(user)
        await session.flush()
        cookie, _ = await sessions.start_web_session(session, settings, user)
        actor = Actor(user.id, user.email, "127.0.0.1")
        _, key = await sessions.create_api_key(
            session, actor, user, "bench", [Scope.read, Scope.content_write]
        )
        await session.commit()
        token, _ = issue_access_token(settings, user.id, user.role)
    await database.dispose()
    return Caller(token, key, cookie)


@contextlib.contextmanager
def hello_world(log_path: Path) -> Iterator[RunningProcess]:
    port = free_port()
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, str(HELLO_WORLD), str(port)], stdout=log, stderr=subprocess.STDOUT
        )
    running = RunningProcess(process, log_path, port)
    try:
        wait_for_port(port, timeout=30)
        yield running
    finally:
        running.stop()


def start_edge(
    stack: contextlib.ExitStack,
    folder: Path,
    upstream: RunningProcess,
    database_name: str,
) -> Server:
    edge = render_nginx(folder, f"127.0.0.1:{upstream.port}", entry="nginx.bench.conf")
    stack.enter_context(running_nginx(edge))
    assert edge.process is not None
    watched = Watched(upstream.process.pid, edge.process.pid, database_name, redis_pid())
    return Server(upstream.base_url, edge, watched)


def redis_pid() -> int | None:
    """The shared Redis's process, when it runs on this machine (its CPU is shown)."""
    with redis.Redis.from_url(REDIS_URL) as client:
        pid = int(client.info("server")["process_id"])
    return pid if Path(f"/proc/{pid}").exists() else None


# --- the runs --------------------------------------------------------------------------------


def measure(
    servers: dict[str, Server],
    database: Database,
    settings: Settings,
    caller: Caller,
    args: argparse.Namespace,
) -> list[Run]:
    runs = []
    plan = [HELLO, *endpoints(caller, args.rows), HELLO]
    queue = f"{settings.redis_prefix}{tasks.queue_for(content_service.GENERATE_TASK).value}"
    for endpoint in plan:
        for path in endpoint.paths:
            server = servers[endpoint.server]
            before = requests_stored(database, queue) if endpoint.body else None
            runs.append(one_run(server, endpoint, path, args))
            if before is not None:
                after = requests_stored(database, queue)
                result = runs[-1].result
                print(
                    f"  content requests stored during the warm-up and the run ({path}): "
                    f"{after[0] - before[0]:,} rows, {after[1] - before[1]:,} messages queued "
                    f"(wrk counted {result.requests:,} answers in the run)"
                )
    return runs


def one_run(server: Server, endpoint: Endpoint, path: str, args: argparse.Namespace) -> Run:
    url = server.base(path) + endpoint.path
    checks = [check(url, endpoint)]
    if args.warmup:
        run_wrk(url, endpoint.headers, endpoint.body, args.threads, args.connections, args.warmup)
    before = usage_now(server.watched)
    result = run_wrk(
        url, endpoint.headers, endpoint.body, args.threads, args.connections, args.duration
    )
    usage = usage_now(server.watched).cores_since(before)
    checks.append(check(url, endpoint))
    done = Run(endpoint, path, result, usage, [c for c in checks if c])
    print(
        f"  {endpoint.name}, {path}: {result.rate:,.0f} requests/s, p50 {result.p50_ms:.1f} ms, "
        f"p99 {result.p99_ms:.1f} ms{'; ' + '; '.join(done.checks) if done.checks else ''}",
        flush=True,
    )
    return done


def check(url: str, endpoint: Endpoint) -> str | None:
    """One request as the load sends it: None if the status and body are right, else why not."""
    headers = {"Accept-Encoding": "gzip", **endpoint.headers}
    with httpx.Client(verify=False, timeout=30) as client:
        if endpoint.body is None:
            answer = client.get(url, headers=headers)
        else:
            answer = client.post(url, headers=headers, content=endpoint.body)
    text = answer.text.replace(": ", ":")
    if answer.status_code != endpoint.status or endpoint.expect not in text:
        print(f"  check failed, {url}: {answer.status_code} {answer.text[:300]!r}")
        return f"CHECK FAILED ({answer.status_code})"
    return None


def requests_stored(database: Database, queue: str) -> tuple[int, int]:
    with database.sync_engine.connect() as connection:
        rows = connection.exec_driver_sql("SELECT count(*) FROM content_requests").scalar()
    with redis.Redis.from_url(REDIS_URL) as client:
        queued = int(client.llen(queue))
    return int(rows or 0), queued


# --- the report ------------------------------------------------------------------------------


def report(
    runs: list[Run],
    rss: dict[str, tuple[float, float, float]],
    args: argparse.Namespace,
    load: float,
) -> None:
    lines: list[str] = []

    def say(line: str = "") -> None:
        """Print a line of the report; with --write it also goes to the docs."""
        lines.append(line)
        print(line)

    say(f"\n# HTTP endpoints benchmark, {machine(load, POSTGRES_ADMIN_URL, REDIS_URL)}")
    say(
        f"wrk -t{args.threads} -c{args.connections} -d{args.duration}s --latency "
        f"(after {args.warmup} s of warm-up); one uvicorn process each; nginx.bench.conf over "
        f"HTTPS; {args.rows:,} content rows\n"
    )
    baseline = {
        path: sum(r.result.rate for r in hellos) / len(hellos)
        for path in ("direct", "nginx")
        for hellos in [[r for r in runs if r.endpoint is HELLO and r.path == path]]
    }
    say(
        "| endpoint | path | requests/s | p50 ms | p99 ms | × hello-world | server CPU ms/request "
        "| cores: server / nginx / wrk / PostgreSQL / Redis / rest | errors |"
    )
    say("|---|---|---:|---:|---:|---:|---:|---|---|")
    for run in runs:
        result, cores = run.result, run.usage
        errors = [f"{result.bad_status} non-2xx/3xx"] if result.bad_status else []
        errors += [f"{result.socket_errors} socket errors"] if result.socket_errors else []
        say(
            f"| {run.endpoint.name} | {run.path} | {result.rate:,.0f} | {result.p50_ms:.2f} "
            f"| {result.p99_ms:.2f} | {result.rate / baseline[run.path]:.2f} "
            f"| {run.app_ms_per_request:.2f} | "
            + " / ".join(
                f"{cores[part]:.2f}" for part in ("server", "nginx", "wrk", "postgres", "redis")
            )
            + f" / {cores['rest']:.2f} | {', '.join(errors + run.checks) or 'none'} |"
        )
    say()
    for run in runs:
        if run.endpoint.path != QUOTES:
            continue
        ratio = run.result.rate / baseline[run.path]
        share, p99 = QUOTES_TARGET
        clean = not (run.checks or run.result.bad_status or run.result.socket_errors)
        met = ratio >= share and run.result.p99_ms < p99 and clean
        say(
            f"target, {run.endpoint.name}, {run.path}: {ratio:.0%} of hello-world "
            f"(>= {share:.0%}), p99 {run.result.p99_ms:.1f} ms (< {p99:g} ms): "
            f"{'met' if met else 'MISSED'}"
        )
    needed = args.connections / (QUOTES_TARGET[1] / 1000)
    say(
        f"(wrk keeps {args.connections} requests in flight, so latency is about connections / "
        f"throughput: a p99 under {QUOTES_TARGET[1]:g} ms needs some {needed:,.0f} requests/s or "
        f"more; the hello-world did {baseline['direct']:,.0f} directly and "
        f"{baseline['nginx']:,.0f} through nginx)"
    )
    for name, (start, now, peak) in rss.items():
        label = "API process (finagency serve)" if name == "app" else "hello-world process"
        verdict = f" (target < {RSS_TARGET_MB} MB: {'met' if now < RSS_TARGET_MB else 'MISSED'})"
        say(
            f"RSS of the {label}: {start:.0f} MB once started, {now:.0f} MB after the runs, "
            f"peak {peak:.0f} MB" + (verdict if name == "app" else "")
        )
    say("no worker process ran (content requests wait in the database and on the queue)")
    if args.write:
        # The markdown table and the verdicts; the heading line is the docs' own.
        report_module.write_section("http", "\n".join(lines[2:]))


# --- where the time goes ---------------------------------------------------------------------


def profile(root: Path, env: dict[str, str], caller: Caller, args: argparse.Namespace) -> None:
    """The quotes (bearer token) on a second `finagency serve`, sampled, directly."""
    endpoint = next(e for e in endpoints(caller, args.rows) if e.path == QUOTES)
    samples = root / "samples.json"
    with sampled_serve(samples, root / "logs" / "serve-sampled.log", env) as server:
        url = server.base_url + endpoint.path
        run_wrk(url, endpoint.headers, None, args.threads, args.connections, args.warmup or 1)
        server.process.send_signal(signal.SIGUSR1)
        result = run_wrk(url, endpoint.headers, None, args.threads, args.connections, args.duration)
        server.process.send_signal(signal.SIGUSR2)
    print(
        f"\n## where the time goes: {endpoint.name}, direct, the server's main thread sampled "
        f"on CPU time: {result.rate:,.0f} requests/s, p99 {result.p99_ms:.1f} ms meanwhile"
    )
    print(profile_summary(samples, result.requests))


if __name__ == "__main__":
    main()
