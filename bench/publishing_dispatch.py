"""Benchmark: publications dispatched to the file and webhook channels by two Celery worker
processes, beside a no-op Celery task on the same broker, through the same workers, in the
same run.

Run: .venv/bin/python bench/publishing_dispatch.py  [--publications 500] [--noop 2000] …
Needs PostgreSQL on 127.0.0.1:5432 (user postgres) and Redis on 127.0.0.1:6379. It creates a
database of its own (migrated), uses a Redis key prefix of its own, and removes both, its
processes and its data dir at the end; it reports to stdout only.

What runs is what a deployment runs: two `finagency worker --concurrency 1` processes (all
queues) and `finagency beat`, whose `publishing.dispatch` claims due publications every
FINAGENCY_DISPATCH_INTERVAL_SECONDS (`--dispatch-interval`) and hands each to a
`publishing.send` task. File and webhook channels have no rate budget by default
(FINAGENCY_PUBLISH_LIMITS is left as it is). The webhook receiver (tests/fixtures) runs in this
process on 127.0.0.1, checks every signature and answers 200.

1. Baseline: `--noop` tasks of Celery's built-in no-op `celery.accumulate` through the
   publishing queue (the queue of the sends), then as many `system.ping` (one `SELECT 1`), each
   twice: streamed (sent from here while the workers take them: first send -> the last
   result's `date_done`; this process's sending is part of it) and queued first (sent to a
   queue no worker reads, then moved onto the publishing queue with one RENAME: that moment ->
   the last `date_done`), like a burst of due publications. The ratio uses the queued-first
   no-op rate, the higher and stricter one. The beat is not running yet.
2. Burst, one channel at a time: `--publications` publications all due at the same instant;
   publications/s from that instant to the last `published_at`, and the lag
   (`published_at - scheduled_at`) p50/p99, which in a burst is mostly waiting in line.
3. Paced: `--paced` publications per channel spread evenly at `--paced-rate` per second (both
   channels interleaved): lag p50/p99 under a steady load (issue 10: p99 under 1 s).
Checks: every publication published, attempts per publication, no outbox line and no receiver
event twice (and how many resends the receiver had to deduplicate).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import platform
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import redis
from sqlalchemy import func, select, text, update

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.fixtures.servers import process_env  # noqa: E402
from tests.fixtures.services import (  # noqa: E402
    POSTGRES_ADMIN_URL,
    REDIS_URL,
    create_database,
    delete_redis_keys,
    drop_database,
)
from tests.fixtures.webhook_receiver import WebhookReceiver, run_webhook_receiver  # noqa: E402

from finagency import crypto, migrate, tasks  # noqa: E402
from finagency.content.models import Content, Revision  # noqa: E402
from finagency.content.renderings import Draft, render  # noqa: E402
from finagency.db import Database, utcnow  # noqa: E402
from finagency.publishing.models import Attempt, Channel, Publication  # noqa: E402
from finagency.settings import Settings, load_settings  # noqa: E402
from finagency.system.service import RedisRuntime  # noqa: E402

WORKERS = 2
SECRET = secrets.token_urlsafe(24)
FINAGENCY = [sys.executable, "-m", "finagency"]
FAR = timedelta(days=365)  # rows are made first and made due later, all at once
HOLD = "bench-hold"  # a queue no worker consumes


@dataclass
class Stack:
    settings: Settings
    database: Database
    env: dict[str, str]
    logs: Path
    receiver: WebhookReceiver
    channels: dict[str, int]  # channel type -> id
    processes: list[subprocess.Popen[bytes]]
    load_before: float  # 1-minute load average: others' work on the machine shows here


@dataclass
class Phase:
    """The publications of one measured phase, read back from the ledger once all are done."""

    name: str
    due: datetime  # the first scheduled_at
    published: int
    total: int
    last: datetime
    lags: list[float]  # seconds, sorted
    statuses: Counter[str]
    retried: int  # publications that needed more than one attempt

    @property
    def rate(self) -> float:
        return self.published / max(1e-9, (self.last - self.due).total_seconds())


def percentile(sorted_values: list[float], fraction: float) -> float:
    """Nearest rank."""
    if not sorted_values:
        return float("nan")
    return sorted_values[max(1, math.ceil(fraction * len(sorted_values))) - 1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.partition("\n")[0])
    parser.add_argument("--publications", type=int, default=500, help="per channel, burst")
    parser.add_argument("--noop", type=int, default=2000, help="no-op tasks (and pings)")
    parser.add_argument("--paced", type=int, default=100, help="per channel, paced phase")
    parser.add_argument("--paced-rate", type=float, default=10.0, help="publications/s, paced")
    parser.add_argument("--dispatch-interval", type=float, default=0.25, help="seconds")
    args = parser.parse_args()

    name = f"finagency_bench_{uuid.uuid4().hex[:8]}"
    prefix = f"bench-{uuid.uuid4().hex[:8]}:"
    data_dir = Path(tempfile.mkdtemp(prefix="finagency-bench-"))
    url = create_database(name)
    try:
        settings = load_settings(
            database_url=url,
            redis_url=REDIS_URL,
            redis_prefix=prefix,
            data_dir=data_dir,
            secret_key=secrets.token_urlsafe(48),
            dispatch_interval_seconds=args.dispatch_interval,
        )
        run(settings, args)
    finally:
        drop_database(name)
        delete_redis_keys(REDIS_URL, prefix)
        shutil.rmtree(data_dir, ignore_errors=True)
        with redis.Redis.from_url(REDIS_URL) as client:
            left = sum(1 for _ in client.scan_iter(match=f"{prefix}*", count=500))
        print(f"cleaned up: database {name} dropped, {left} Redis keys left under {prefix}")


def run(settings: Settings, args: argparse.Namespace) -> None:
    load_before = os.getloadavg()[0]
    database = Database(settings)
    with database.sync_engine.begin() as connection:
        migrate.upgrade("head", connection=connection)
    env = process_env(
        data_dir=str(settings.data_dir),
        database_url=str(settings.database_url),
        redis_url=str(settings.redis_url),
        redis_prefix=settings.redis_prefix,
        secret_key=settings.secret(),
        dispatch_interval_seconds=str(settings.dispatch_interval_seconds),
    )
    logs = settings.data_dir / "logs"
    logs.mkdir()
    # Exits in reverse: the processes stop before the receiver does.
    with run_webhook_receiver(SECRET) as receiver, contextlib.ExitStack() as stack:
        channels = make_channels(database, settings, receiver.url)
        bench = Stack(settings, database, env, logs, receiver, channels, [], load_before)
        stack.callback(stop_all, bench.processes)
        try:
            measure(bench, args)
        except BaseException:
            for log in sorted(logs.iterdir()):
                print(f"--- {log.name} (last lines) ---", file=sys.stderr)
                print("\n".join(log.read_text().splitlines()[-30:]), file=sys.stderr)
            raise
    database.sync_engine.dispose()


def measure(bench: Stack, args: argparse.Namespace) -> None:
    for number in range(1, WORKERS + 1):
        worker = ["worker", "--concurrency", "1", "--metrics-port", "0"]
        start(bench, *worker, f"--hostname=bench{number}@%h")
    runtime = RedisRuntime(bench.settings)
    try:
        wait_for(lambda: runtime.live_workers() == WORKERS, 60, "the workers to start")
    finally:
        runtime.close()
    client = tasks.create_celery(bench.settings)
    try:
        task_rates(client, "celery.accumulate", 50)  # warm-up, not counted
        before = cpu_now(bench)
        noop = task_rates(client, "celery.accumulate", args.noop)
        ping = task_rates(client, "system.ping", args.noop)
        cpu = {"baseline": cpu_now(bench).minus(before)}
    finally:
        client.close()

    start(bench, "beat")
    warm = schedule(bench, {"file": 2, "webhook": 2})
    make_due(bench, warm, utcnow(), 0)
    wait_done(bench, warm, 60)  # the whole path works and every process has warmed up

    bursts = []
    before = cpu_now(bench)
    for kind in ("file", "webhook"):
        ids = schedule(bench, {kind: args.publications})
        make_due(bench, ids, utcnow() + timedelta(seconds=0.5), 0)
        rows = wait_done(bench, ids, 60 + args.publications / 5)
        bursts.append(phase(f"burst, {args.publications} due at once to the {kind} channel", rows))
    cpu["bursts"] = cpu_now(bench).minus(before)
    ids = schedule(bench, {"file": args.paced, "webhook": args.paced}, interleave=True)
    make_due(bench, ids, utcnow() + timedelta(seconds=1), args.paced_rate)
    rows = wait_done(bench, ids, 60 + len(ids) / args.paced_rate)
    paced = [
        phase(
            f"paced, {args.paced} to the {kind} channel ({args.paced_rate:g}/s in all)",
            [row for row in rows if row.channel == kind],
        )
        for kind in ("file", "webhook")
    ]
    report(bench, args, noop, ping, bursts, paced)
    for name, used in cpu.items():
        print(f"CPU during the {name}: {used}")


# --- processes -------------------------------------------------------------------------------


def start(bench: Stack, *command: str) -> None:
    log_path = bench.logs / f"{command[0]}{len(bench.processes) + 1}.log"
    with log_path.open("wb") as log:
        bench.processes.append(
            subprocess.Popen(
                [*FINAGENCY, *command], stdout=log, stderr=subprocess.STDOUT, env=bench.env
            )
        )


def stop_all(processes: list[subprocess.Popen[bytes]]) -> None:
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    for process in processes:
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


def wait_for(
    condition: Callable[[], bool], timeout: float, what: str, interval: float = 0.05
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(interval)
    raise TimeoutError(f"waited {timeout:.0f} s for {what}")


# --- who used the CPU (other sessions on the machine skew every figure) ----------------------

TICK = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Cpu:
    """CPU seconds so far: the machine's busy time, this benchmark's process tree (itself, the
    workers and their pool processes, the beat), and its database's PostgreSQL backends."""

    wall: float
    machine: float
    ours: float
    postgres: dict[int, float]

    def minus(self, before: Cpu) -> str:
        machine, ours = self.machine - before.machine, self.ours - before.ours
        postgres = sum(t - before.postgres.get(pid, 0.0) for pid, t in self.postgres.items())
        others = machine - ours - postgres
        available = (self.wall - before.wall) * (os.cpu_count() or 1)
        return (
            f"{machine:.1f} of {available:.1f} CPU-s busy: this benchmark {ours:.1f}, "
            f"its PostgreSQL backends {postgres:.1f}, everything else {others:.1f} "
            "(Redis and other sessions)"
        )


def _process_times() -> dict[int, tuple[int, float]]:
    """pid -> (parent pid, CPU seconds of the process and its reaped children)."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            fields = (entry / "stat").read_text().rpartition(")")[2].split()
            ticks = sum(int(value) for value in fields[11:15])  # utime stime cutime cstime
            found[int(entry.name)] = (int(fields[1]), ticks / TICK)
    return found


def cpu_now(bench: Stack) -> Cpu:
    with Path("/proc/stat").open() as stat:
        values = [int(value) for value in stat.readline().split()[1:]]
    machine = (sum(values[:8]) - values[3] - values[4]) / TICK  # all but idle and iowait
    processes = _process_times()
    tree, grew = {os.getpid()}, True
    while grew:
        grown = tree | {pid for pid, (parent, _) in processes.items() if parent in tree}
        grew, tree = grown != tree, grown
    with bench.database.sync_session() as session:
        backends = session.scalars(
            text("SELECT pid FROM pg_stat_activity WHERE datname = current_database()")
        ).all()
    postgres = {pid: processes[pid][1] for pid in backends if pid in processes}
    return Cpu(
        time.monotonic(),
        machine,
        sum(processes[pid][1] for pid in tree if pid in processes),
        postgres,
    )


# --- the no-op baseline ----------------------------------------------------------------------


@dataclass
class TaskRates:
    streamed: float  # tasks/s, sent while the workers take them: first send -> last result
    queued: float  # tasks/s, all waiting in the queue first: consumers on -> last result
    send_seconds: float  # how long sending them took this process (the streamed case)


def task_rates(client: Any, task_name: str, count: int) -> TaskRates:
    """`count` tasks of `task_name` through the publishing queue (the queue sends use), twice:
    streamed, then queued before the workers may take any (as due publications wait)."""
    queue = tasks.Queue.publishing.value
    started = datetime.now(UTC)
    ids = send_all(client, task_name, count, queue)
    send_seconds = (datetime.now(UTC) - started).total_seconds()
    streamed = count / (last_result(client, task_name, ids) - started).total_seconds()

    # Queued first: sent to a list no worker reads, then renamed onto the publishing queue at
    # once (remote-control cancel/add_consumer would change the workers for the rest of the run).
    ids = send_all(client, task_name, count, HOLD)
    prefix = client.conf.broker_transport_options["global_keyprefix"]
    with redis.Redis.from_url(REDIS_URL) as broker:
        if broker.llen(f"{prefix}{queue}"):
            raise RuntimeError(f"the {queue} queue is not empty")
        started = datetime.now(UTC)
        broker.rename(f"{prefix}{HOLD}", f"{prefix}{queue}")
    queued = count / (last_result(client, task_name, ids) - started).total_seconds()
    return TaskRates(streamed, queued, send_seconds)


def send_all(client: Any, task_name: str, count: int, queue: str) -> list[str]:
    noop = task_name == "celery.accumulate"  # it returns its arguments
    with client.producer_or_acquire() as producer:
        return [
            client.send_task(
                task_name, args=(n,) if noop else (), queue=queue, producer=producer
            ).id
            for n in range(count)
        ]


def last_result(client: Any, task_name: str, ids: list[str]) -> datetime:
    """When the last of `ids` finished (its result's date_done), once all have."""
    backend = client.backend
    done: dict[str, datetime] = {}
    deadline = time.monotonic() + 60 + len(ids) / 10
    while len(done) < len(ids):
        if time.monotonic() > deadline:
            raise TimeoutError(f"{task_name}: {len(done)} of {len(ids)} results in")
        waiting = [task_id for task_id in ids if task_id not in done]
        keys = [backend.get_key_for_task(task_id) for task_id in waiting]
        for task_id, raw in zip(waiting, backend.mget(keys), strict=True):
            if raw is None:
                continue
            meta = backend.decode_result(raw)
            if meta["status"] != "SUCCESS":
                raise RuntimeError(f"{task_name} {task_id}: {meta}")
            finished = datetime.fromisoformat(meta["date_done"])
            done[task_id] = finished if finished.tzinfo else finished.replace(tzinfo=UTC)
        time.sleep(0.05)
    return max(done.values())


# --- rows ------------------------------------------------------------------------------------


def make_channels(database: Database, settings: Settings, webhook_url: str) -> dict[str, int]:
    with database.sync_session() as session:
        file_channel = Channel(type="file", name="bench-outbox", config={}, limits={})
        webhook = Channel(
            type="webhook",
            name="bench-webhook",
            config={"url": webhook_url},
            credentials=crypto.encrypt(settings, json.dumps({"secret": SECRET})),
            limits={},
        )
        session.add_all([file_channel, webhook])
        session.commit()
        return {"file": file_channel.id, "webhook": webhook.id}


def schedule(bench: Stack, counts: dict[str, int], interleave: bool = False) -> list[int]:
    """Approved content items, one publication each, not yet due: their ids, in due order."""
    if interleave:  # file, webhook, file, webhook, …
        runs = [[kind] * count for kind, count in counts.items()]
        order = [kind for group in zip(*runs, strict=True) for kind in group]
    else:
        order = [kind for kind, count in counts.items() for _ in range(count)]
    drafts = [
        Draft(
            title=f"Market update {uuid.uuid4().hex[:8]}",
            paragraphs=[f"The index rose {n % 97} points; breadth was positive."],
            disclaimer="Not investment advice.",
        )
        for n in range(len(order))
    ]
    later = utcnow() + FAR
    with bench.database.sync_session() as session:
        contents = [
            Content(type="market_update", status="scheduled", approved_revision=1) for _ in order
        ]
        session.add_all(contents)
        session.flush()
        session.add_all(
            Revision(
                content_id=content.id,
                number=1,
                title=draft.title,
                text=draft.plain_text,
                renderings={kind: render(draft, kind) for kind in ("file", "webhook")},
                provenance={},
            )
            for content, draft in zip(contents, drafts, strict=True)
        )
        publications = [
            Publication(
                content_id=content.id,
                revision_number=1,
                channel_id=bench.channels[kind],
                idempotency_key=f"bench-{content.id}-{bench.channels[kind]}",
                scheduled_at=later,
                requested_at=later,
                due_at=later,
            )
            for content, kind in zip(contents, order, strict=True)
        ]
        session.add_all(publications)
        session.commit()
        return [publication.id for publication in publications]


def make_due(bench: Stack, ids: list[int], first: datetime, rate: float) -> None:
    """All at `first` (rate 0), else one every 1/rate s from `first`, in the order given."""
    step = timedelta(seconds=1 / rate) if rate else timedelta(0)
    with bench.database.sync_session() as session:
        session.execute(
            update(Publication),
            [
                {"id": id_, "scheduled_at": at, "requested_at": at, "due_at": at}
                for n, id_ in enumerate(ids)
                for at in [first + n * step]
            ],
        )
        session.commit()


# --- reading the ledger back -----------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    id: int
    channel: str
    status: str
    scheduled_at: datetime
    published_at: datetime | None
    attempts: int


def wait_done(bench: Stack, ids: list[int], timeout: float) -> list[Row]:
    """Wait until every publication in `ids` has settled; its rows."""
    settled = ("published", "failed", "unknown", "cancelled")

    def all_settled() -> bool:
        with bench.database.sync_session() as session:
            count = session.scalar(
                select(func.count())
                .select_from(Publication)
                .where(Publication.id.in_(ids), Publication.status.in_(settled))
            )
            return count == len(ids)

    # Polled slowly: the figures come from the rows' own timestamps, not from this loop.
    wait_for(all_settled, timeout, f"{len(ids)} publications to settle", interval=0.25)
    kinds = {channel_id: kind for kind, channel_id in bench.channels.items()}
    with bench.database.sync_session() as session:
        return [
            Row(id_, kinds[channel_id], status, scheduled_at, published_at, attempts)
            for id_, channel_id, status, scheduled_at, published_at, attempts in session.execute(
                select(
                    Publication.id,
                    Publication.channel_id,
                    Publication.status,
                    Publication.scheduled_at,
                    Publication.published_at,
                    Publication.attempts,
                ).where(Publication.id.in_(ids))
            )
        ]


def phase(name: str, rows: list[Row]) -> Phase:
    published = [row for row in rows if row.published_at is not None]
    lags = sorted(
        (row.published_at - row.scheduled_at).total_seconds()
        for row in published
        if row.published_at is not None
    )
    return Phase(
        name=name,
        due=min(row.scheduled_at for row in rows),
        published=len(published),
        total=len(rows),
        last=max((row.published_at for row in published if row.published_at), default=utcnow()),
        lags=lags,
        statuses=Counter(row.status for row in rows),
        retried=sum(row.attempts > 1 for row in rows),
    )


def deliveries(bench: Stack) -> tuple[Counter[Any], Counter[Any], int, int]:
    """(outbox lines per publication id, receiver events per publication id, requests the
    receiver got, resends it deduplicated)."""
    outbox = bench.settings.data_dir / "outbox" / "bench-outbox.jsonl"
    lines = Counter(json.loads(line)["publication_id"] for line in outbox.read_text().splitlines())
    receiver = bench.receiver
    with receiver.lock:
        requests = len(receiver.requests)
        replays = sum(receiver.replays.values())
    return lines, receiver.accepted_counts(), requests, replays


def attempts_total(bench: Stack) -> int:
    with bench.database.sync_session() as session:
        return int(session.scalar(select(func.count()).select_from(Attempt)) or 0)


def publications_total(bench: Stack) -> int:
    with bench.database.sync_session() as session:
        return int(session.scalar(select(func.count()).select_from(Publication)) or 0)


# --- the report ------------------------------------------------------------------------------


def machine(bench: Stack) -> str:
    with psycopg.connect(POSTGRES_ADMIN_URL) as connection:
        row = connection.execute("SHOW server_version").fetchone()
    client = redis.Redis.from_url(REDIS_URL)
    try:
        redis_version = client.info("server")["redis_version"]
    finally:
        client.close()
    return (
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {platform.node()}, {os.cpu_count()} cores "
        f"(load average {os.getloadavg()[0]:.2f} now, {bench.load_before:.2f} before the run), "
        f"Python {platform.python_version()}, PostgreSQL {row[0] if row else '?'}, "
        f"Redis {redis_version}"
    )


def lag_text(result: Phase) -> str:
    return (
        f"lag p50 {percentile(result.lags, 0.5):.3f} s, p99 {percentile(result.lags, 0.99):.3f} s"
    )


def report(
    bench: Stack,
    args: argparse.Namespace,
    noop: TaskRates,
    ping: TaskRates,
    bursts: list[Phase],
    paced: list[Phase],
) -> None:
    print(f"# publishing dispatch benchmark, {machine(bench)}")
    print(
        f"{WORKERS} x `finagency worker --concurrency 1` (all queues) + `finagency beat`, "
        f"dispatch every {args.dispatch_interval} s, local Redis broker and result backend"
    )
    for name, rates in (("no-op task celery.accumulate (baseline)", noop),
                        ("system.ping (one SELECT 1)", ping)):  # fmt: skip
        print(
            f"{name} x {args.noop}: queued first {rates.queued:,.0f} tasks/s; "
            f"streamed {rates.streamed:,.0f} tasks/s (sending took {rates.send_seconds:.2f} s)"
        )
    for result in bursts:
        ratio = result.rate / noop.queued
        print(
            f"{result.name}: {result.published} of {result.total} published at "
            f"{result.rate:,.1f} publications/s (due -> last published); "
            f"{ratio:.1%} of the no-op rate queued first (target >= 10 %: "
            f"{'met' if ratio >= 0.10 else 'MISSED'}); {lag_text(result)}; "
            f"statuses {dict(result.statuses)}; retried {result.retried}"
        )
    for result in paced:
        p99 = percentile(result.lags, 0.99)
        print(
            f"{result.name}: {result.published} of {result.total} published; {lag_text(result)} "
            f"(target p99 < 1 s: {'met' if p99 < 1 else 'MISSED'}); "
            f"statuses {dict(result.statuses)}; retried {result.retried}"
        )
    lines, events, requests, replays = deliveries(bench)
    twice_file = sorted(key for key, count in lines.items() if count > 1)
    twice_hook = sorted(key for key, count in events.items() if count > 1)
    print(
        f"delivered twice: {len(twice_file)} in the outbox ({sum(lines.values())} lines for "
        f"{len(lines)} publications), {len(twice_hook)} at the receiver ({len(events)} events "
        f"accepted from {requests} requests, {replays} resends deduplicated); "
        f"{attempts_total(bench)} attempts recorded for {publications_total(bench)} publications"
    )
    if twice_file or twice_hook:
        raise SystemExit(f"DUPLICATES: outbox {twice_file[:10]}, receiver {twice_hook[:10]}")


if __name__ == "__main__":
    main()
