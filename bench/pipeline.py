"""Benchmark: content requests through the whole pipeline (written by the template writer,
checked by compliance, approved, scheduled for now, delivered to the file channel) by real
Celery worker processes, with one and with two of them, beside a no-op Celery task on the same
broker and workers in the same run.

Run: .venv/bin/python bench/pipeline.py  [--requests 300] [--paced 60] [--workers 1,2]
     [--noop 2000] [--write]
Needs PostgreSQL on 127.0.0.1:5432 (user postgres) and Redis on 127.0.0.1:6379. Each worker
count gets a database of its own (migrated, a market snapshot from the simulated provider), a
Redis key prefix of its own and a data dir of its own, all removed at the end. Without --write
it only prints; with it, the table also goes to docs/performance.md (bench/report.py).

What runs is what a deployment runs: `finagency worker --concurrency 1` processes (all queues)
and `finagency beat`. This process plays the newsroom through the services the API routes call
(bench/pipeline_desk.py): it stores the requests (each enqueues `content.generate` after its
commit), and as drafts appear it schedules each to the file channel for now (which enqueues
`publishing.dispatch`, as the API does). Auto-approval is on for market updates; a draft that
compliance blocks (drafts from one snapshot are often near duplicates) is approved by the admin's
override, as the editorial path allows.

1. Baseline: `--noop` tasks of Celery's no-op `celery.accumulate`, queued first and then let onto
   the publishing queue at once (bench/publishing_dispatch.py's `task_rates`); the beat is not
   running yet.
2. Two requests through the pipeline to warm every process up (not counted).
3. Burst: `--requests` requests stored as fast as this process can; throughput is requests
   from the first request stored to the last `published_at`. Per-stage times come from the
   rows, worker time per task from Celery's "succeeded in" log lines.
4. Paced: `--paced` requests stored at half the rate the burst measured: the publish lag
   (`published_at - scheduled_at`) when the workers are not simply behind; in the burst it is
   mostly waiting in line behind `content.generate` tasks on the same workers.
Then, while the workers still run, their RSS, and the check that every request produced exactly
one line in the file channel's outbox (nothing lost, nothing twice): the run fails otherwise.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import secrets
import shutil
import sys
import tempfile
import uuid
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.http_load import rss_mb  # noqa: E402
from bench.pipeline_desk import (  # noqa: E402
    OUTBOX,
    Desk,
    Journey,
    Tally,
    ask,
    open_desk,
    publication_ids,
    schedule_written,
    wait_settled,
)
from bench.pipeline_report import (  # noqa: E402
    NOOP,
    Phase,
    Result,
    log_offsets,
    markdown,
    task_seconds,
)
from bench.publishing_dispatch import task_rates, wait_for  # noqa: E402
from tests.fixtures.accounts import FAST_HASHING  # noqa: E402
from tests.fixtures.servers import process_env, run_finagency  # noqa: E402
from tests.fixtures.services import (  # noqa: E402
    REDIS_URL,
    create_database,
    delete_redis_keys,
    drop_database,
)

from bench import report  # noqa: E402
from finagency import migrate, tasks  # noqa: E402
from finagency.db import Database  # noqa: E402
from finagency.market import service as market_service  # noqa: E402
from finagency.settings import Settings, load_settings  # noqa: E402
from finagency.system.service import RedisRuntime  # noqa: E402

WARMUP = 2
WORKER = ["worker", "--concurrency", "1", "--metrics-port", "0"]  # a process is one slot


@dataclass
class Stack:
    settings: Settings
    database: Database
    env: dict[str, str]
    logs: Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.partition("\n")[0])
    parser.add_argument("--requests", type=int, default=300, help="content requests, burst")
    parser.add_argument("--paced", type=int, default=60, help="content requests, paced")
    parser.add_argument("--workers", default="1,2", help="worker process counts, in turn")
    parser.add_argument("--noop", type=int, default=2000, help="no-op tasks (baseline)")
    parser.add_argument("--write", action="store_true", help="put the table in the docs")
    args = parser.parse_args()
    counts = [int(count) for count in args.workers.split(",")]

    results = [run_stack(count, args) for count in counts]
    table = markdown(results, args.requests, args.paced, args.noop)
    print(f"# pipeline benchmark\n{report.header()}\n\n{table}")
    if args.write:
        report.write_section("pipeline", table)
        print(f"written to {report.DOC}")


def run_stack(workers: int, args: argparse.Namespace) -> Result:
    """One measurement with `workers` worker processes, on a database, Redis key prefix and
    data dir of its own, all removed afterwards."""
    name = f"finagency_bench_{uuid.uuid4().hex[:8]}"
    prefix = f"bench-{uuid.uuid4().hex[:8]}:"
    data_dir = Path(tempfile.mkdtemp(prefix="finagency-bench-"))
    url = create_database(name)
    try:
        config = {
            "database_url": url,
            "redis_url": REDIS_URL,
            "redis_prefix": prefix,
            "secret_key": secrets.token_urlsafe(48),
            **{key: str(value) for key, value in FAST_HASHING.items()},
        }
        settings = load_settings(data_dir=data_dir, **config)
        database = Database(settings)
        with database.sync_engine.begin() as connection:
            migrate.upgrade("head", connection=connection)
        with database.sync_session() as session:
            # Before the event loop starts: the providers' fetch runs a loop of its own.
            market_service.take_snapshot(session, settings)
        database.sync_engine.dispose()
        env = process_env(data_dir=str(data_dir), **config)
        stack = Stack(settings, database, env, data_dir / "logs")
        stack.logs.mkdir(exist_ok=True)
        try:
            return asyncio.run(measure(stack, workers, args))
        except BaseException:
            for log in sorted(stack.logs.glob("*.log")):
                print(f"--- {log.name} (last lines) ---", file=sys.stderr)
                print("\n".join(log.read_text().splitlines()[-30:]), file=sys.stderr)
            raise
    finally:
        drop_database(name)
        delete_redis_keys(REDIS_URL, prefix)
        shutil.rmtree(data_dir, ignore_errors=True)


async def measure(stack: Stack, workers: int, args: argparse.Namespace) -> Result:
    desk = await open_desk(stack.database, stack.settings)
    with contextlib.ExitStack() as processes:  # left in reverse: beat, client, then workers
        running = [
            processes.enter_context(
                run_finagency(
                    [*WORKER, f"--hostname=bench{n}@%h"],
                    stack.logs / f"worker{n}.log",
                    stack.env,
                    wait="",
                )
            )
            for n in range(1, workers + 1)
        ]
        runtime = RedisRuntime(stack.settings)
        processes.callback(runtime.close)
        wait_for(lambda: runtime.live_workers() == workers, 60, f"{workers} workers to start")
        client = tasks.create_celery(stack.settings)
        processes.callback(client.close)
        tasks.use_task_queue(tasks.CeleryTaskQueue(client))
        task_rates(client, NOOP, 50)  # warm-up, not counted
        noop = task_rates(client, NOOP, args.noop)

        processes.enter_context(
            run_finagency(["beat"], stack.logs / "beat.log", stack.env, wait="")
        )
        await through_pipeline(desk, WARMUP)
        offsets = log_offsets([worker.log_path for worker in running])
        warm_rss = [worker_rss(worker.process.pid) for worker in running]
        load_before = os.getloadavg()[0]
        burst_ids, burst = await through_pipeline(desk, args.requests)
        paced_rate = burst.rate / 2
        paced_ids, paced = await through_pipeline(desk, args.paced, paced_rate)
        load_after = os.getloadavg()[0]
        rss = [worker_rss(worker.process.pid) for worker in running]
        outbox = stack.settings.data_dir / "outbox" / f"{OUTBOX}.jsonl"
        delivered = exactly_once(
            outbox,
            burst_ids + paced_ids,
            burst.journeys + paced.journeys,
            await publication_ids(desk),
        )
    await stack.database.dispose()
    return Result(
        workers,
        noop,
        burst,
        paced,
        paced_rate,
        task_seconds(offsets),
        delivered,
        (warm_rss, rss),
        (load_before, load_after),
    )


async def through_pipeline(desk: Desk, count: int, rate: float = 0.0) -> tuple[list[int], Phase]:
    """`count` requests asked for (at `rate` a second, or at once) while the editor schedules
    what is written; their ids and journeys once every publication has settled."""
    desk.tally = Tally()
    timeout = 120 + count * (1 + (1 / rate if rate else 0))
    request_ids, _ = await asyncio.gather(
        ask(desk, count, rate), schedule_written(desk, count, timeout)
    )
    return request_ids, Phase(await wait_settled(desk, request_ids, timeout), desk.tally)


def worker_rss(pid: int) -> tuple[float, float]:
    """(the worker's main process, its pool process) resident set size in MB."""
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return rss_mb(pid)[0], max((rss_mb(int(child))[0] for child in children), default=0.0)


def exactly_once(
    outbox: Path, request_ids: list[int], journeys: list[Journey], publications: list[int]
) -> str:
    """Every request: one publication, published, with one outbox line; no line for anything
    else. Raises SystemExit naming what broke."""
    lines = Counter(json.loads(line)["publication_id"] for line in outbox.read_text().splitlines())
    per_request = Counter(journey.request_id for journey in journeys)
    problems = {
        "requests without exactly one publication": sorted(
            r for r in request_ids if per_request[r] != 1
        ),
        "publications not published": sorted(
            j.publication_id for j in journeys if j.status != "published"
        ),
        "publications never delivered": sorted(
            j.publication_id for j in journeys if not lines[j.publication_id]
        ),
        "publications delivered twice": sorted(key for key, n in lines.items() if n > 1),
        "lines of no publication": sorted(set(lines) - set(publications)),
    }
    broken = {what: ids[:10] for what, ids in problems.items() if ids}
    if broken:
        raise SystemExit(f"EXACTLY-ONCE CHECK FAILED: {broken}")
    return (
        f"{len(request_ids)} of {len(request_ids)} requests delivered exactly once "
        f"({sum(lines.values())} outbox lines for {len(publications)} publications, "
        f"warm-up included)"
    )


if __name__ == "__main__":
    main()
