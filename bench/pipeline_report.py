"""The figures of bench/pipeline.py: what one run with N workers measured, and the table."""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from bench.pipeline_desk import Journey, Tally
from bench.publishing_dispatch import TaskRates, percentile

NOOP = "celery.accumulate"
TASKS = ("content.generate", "publishing.dispatch", "publishing.send")
# (what, phase, from, to): the journeys' timestamps, see pipeline_desk.Journey
STAGES = (
    ("request stored → draft written and checked (with queueing)", "burst", "requested", "written"),
    ("draft → scheduled (override if blocked; the editor)", "burst", "written", "scheduled"),
    ("request stored → delivered", "burst", "requested", "published"),
    ("request stored → delivered", "paced", "requested", "published"),
)  # fmt: skip
# Celery's own line for a finished task, in the JSON log and in the plain one alike.
SUCCEEDED = re.compile(r"Task ([\w.]+)\[[^\]]*\] succeeded in ([0-9.e+-]+)s")


@dataclass
class Phase:
    journeys: list[Journey]
    tally: Tally

    @property
    def rate(self) -> float:
        """Requests a second, from the first stored to the last delivered."""
        first = min(journey.requested for journey in self.journeys)
        last = max(journey.published for journey in self.journeys if journey.published)
        return len(self.journeys) / (last - first).total_seconds()

    def stage(self, start: str, end: str) -> list[float]:
        """Seconds from one timestamp of each journey to another, sorted."""
        return sorted(
            (getattr(journey, end) - getattr(journey, start)).total_seconds()
            for journey in self.journeys
        )


@dataclass
class Result:
    workers: int
    noop: TaskRates
    burst: Phase  # requests stored as fast as they can be
    paced: Phase  # requests stored at `paced_rate`, half what the burst measured
    paced_rate: float
    task_seconds: dict[str, list[float]]  # worker time per task name, from the workers' logs
    delivered: str  # the exactly-once check, passed
    # per worker process: (main, pool process) MB, after the warm-up and after the run
    rss: tuple[list[tuple[float, float]], list[tuple[float, float]]]
    load: tuple[float, float]  # 1-minute load average before and after the measured requests

    @property
    def ratio(self) -> float:
        return self.burst.rate / self.noop.queued


def log_offsets(logs: list[Path]) -> dict[Path, int]:
    """Where each log ends now: task times are read from there on."""
    return {log: log.stat().st_size for log in logs}


def task_seconds(offsets: dict[Path, int]) -> dict[str, list[float]]:
    found: dict[str, list[float]] = defaultdict(list)
    for log, offset in offsets.items():
        with log.open("rb") as lines:
            lines.seek(offset)
            for match in SUCCEEDED.finditer(lines.read().decode(errors="replace")):
                found[match[1]].append(float(match[2]))
    return {name: sorted(seconds) for name, seconds in found.items()}


def p50_p99(values: list[float]) -> str:
    return f"{percentile(values, 0.5):.3f} s / {percentile(values, 0.99):.3f} s"


def tally(counts: Tally) -> str:
    return f"{counts.auto_approved} / {counts.overridden}"


def memory(processes: list[tuple[float, float]]) -> str:
    return f"{max(m for m, _ in processes):.0f} / {max(p for _, p in processes):.0f} MB"


def verdict(met: bool) -> str:
    return "met" if met else "MISSED"


def lag(phase: Phase) -> str:
    lags = phase.stage("scheduled", "published")
    return f"{p50_p99(lags)} ({verdict(percentile(lags, 0.99) < 1)})"


def worker_time(seconds: list[float]) -> str:
    return f"{len(seconds)} × {1000 * sum(seconds) / max(1, len(seconds)):.1f} ms"


def others(result: Result) -> str:
    """The beat's other work in the measured time: a market refresh loads pandas and the
    exchange calendars into the pool process that runs it, which shows in its RSS."""
    found = {name: s for name, s in result.task_seconds.items() if name not in TASKS}
    return ", ".join(f"`{name}` {worker_time(s)}" for name, s in sorted(found.items())) or "none"


def markdown(results: list[Result], requests: int, paced: int, noop: int) -> str:
    def row(what: str, cells: list[str], target: str = "") -> str:
        return f"| {what} | {' | '.join(cells)} | {target} |"

    def each(figure: str) -> list[str]:
        return [figure.format(r=r) for r in results]

    heads = [f"{r.workers} worker{'s' if r.workers > 1 else ''}" for r in results]
    lines = [
        row("what", heads, "target"),
        f"|---|{'---|' * len(results)}---|",
        row(f"no-op task (`{NOOP}`), {noop:,} queued at once", each("{r.noop.queued:,.0f}/s")),
        row(
            f"**pipeline**, {requests:,} requests at once: first stored → last delivered",
            each("**{r.burst.rate:,.1f} requests/s**"),
        ),
        row(
            "pipeline / no-op",
            [f"**{r.ratio:.1%}** ({verdict(r.ratio >= 0.10)})" for r in results],
            "≥ 10 %",
        ),
        row(
            "publish lag in that burst (waiting behind the drafts), p50 / p99",
            [p50_p99(r.burst.stage("scheduled", "published")) for r in results],
        ),
        row(
            f"**publish lag**, {paced} requests at half the burst rate, p50 / p99",
            [f"{lag(r.paced)} at {r.paced_rate:.1f}/s" for r in results],
            "p99 < 1 s",
        ),
    ]
    for what, phase, start, end in STAGES:
        stages = [p50_p99(getattr(r, phase).stage(start, end)) for r in results]
        lines.append(row(f"{phase}: {what}, p50 / p99", stages))
    for task in TASKS:
        lines.append(
            row(
                f"worker time per `{task}` (tasks × mean)",
                [worker_time(r.task_seconds.get(task, [])) for r in results],
            )
        )
    lines.append(row("other tasks meanwhile (the beat's schedule)", [others(r) for r in results]))
    lines += [
        row(
            "burst drafts: auto-approved / blocked by compliance, overridden by the admin",
            [tally(r.burst.tally) for r in results],
        ),
        row("exactly once (file channel outbox)", each("{r.delivered}"), "nothing lost or twice"),
        row(
            "worker RSS, main / pool process (largest worker): after the warm-up → after the run",
            [f"{memory(r.rss[0])} → {memory(r.rss[1])}" for r in results],
        ),
        row("load average (1 min) before / after", each("{r.load[0]:.2f} / {r.load[1]:.2f}")),
    ]
    return "\n".join(lines)
