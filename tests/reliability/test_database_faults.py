"""PostgreSQL restarted under load: `finagency serve` on a PostgreSQL cluster of the test's own
takes a steady stream of content requests (each under its own Idempotency-Key, sent again until
accepted, as a careful client does) while the test stops the cluster, waits and starts it. While
it is down `/ready` and every write answer 503 with Retry-After, never 500; the same process
recovers by itself; every accepted write is in the database once, and none twice."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from tests.fixtures.services import OwnPostgres, own_postgres
from tests.reliability.conftest import Api, StartApi, assert_problem, new_key

WRITERS = 2
PAUSE_BETWEEN_WRITES = 0.02
OUTAGE_SECONDS = 4.0
WRITES_BEFORE_AND_AFTER = 20
REPLAYED = 5


@dataclass
class Attempt:
    key: str
    sent: float
    answered: float
    status: int
    content_request_id: int | None


@dataclass
class Writer:
    """A client thread that sends each new content request until it is accepted."""

    api: Api
    stop: threading.Event
    attempts: list[Attempt] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    def run(self) -> None:
        try:
            while not self.stop.is_set():
                self._write_until_accepted(new_key())
                time.sleep(PAUSE_BETWEEN_WRITES)
        except Exception as error:  # seen by the test, which fails on it
            self.failures.append(repr(error))

    def _write_until_accepted(self, key: str) -> None:
        while True:
            sent = time.monotonic()
            answer = self.api.request_content(key)
            accepted = answer.status_code == 202
            self.attempts.append(
                Attempt(
                    key,
                    sent,
                    time.monotonic(),
                    answer.status_code,
                    answer.json()["id"] if accepted else None,
                )
            )
            if accepted:
                return
            # A clear outage answer, or the test fails on the first thing that is not one.
            assert_problem(answer, 503)
            assert answer.headers["retry-after"].isdigit()
            time.sleep(0.1)


@dataclass
class Outage:
    stopped: float = 0.0
    restarting: float = 0.0
    ready_again: float = 0.0
    write_again: float = 0.0
    ready_answers_while_down: list[int] = field(default_factory=list)


def _until(done: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        assert time.monotonic() < deadline, f"not within {timeout}s: {what}"
        time.sleep(0.05)


def _accepted(writers: list[Writer], after: float = 0.0) -> int:
    return sum(1 for w in writers for a in w.attempts if a.status == 202 and a.sent >= after)


def _restart(postgres: OwnPostgres, api: Api, writers: list[Writer]) -> Outage:
    outage = Outage()
    postgres.stop()
    outage.stopped = time.monotonic()
    while time.monotonic() < outage.stopped + OUTAGE_SECONDS:
        outage.ready_answers_while_down.append(api.client.get("/ready").status_code)
        time.sleep(0.2)
    outage.restarting = time.monotonic()
    postgres.start()
    _until(lambda: api.client.get("/ready").status_code == 200, 30, "/ready 200 again")
    outage.ready_again = time.monotonic()
    _until(lambda: _accepted(writers, outage.restarting) > 0, 30, "a write accepted again")
    outage.write_again = min(
        a.answered
        for w in writers
        for a in w.attempts
        if a.status == 202 and a.sent >= outage.restarting
    )
    return outage


def _stored(database_url: str) -> dict[str, list[int]]:
    """{Idempotency-Key: ids of the content requests stored under it}."""
    engine = create_engine(database_url.replace("postgresql://", "postgresql+psycopg://"))
    try:
        with engine.connect() as connection:
            rows = connection.execute(text("SELECT idempotency_key, id FROM content_requests"))
            stored: dict[str, list[int]] = {}
            for key, request_id in rows:
                stored.setdefault(key.partition(":")[2], []).append(request_id)
            return stored
    finally:
        engine.dispose()


@pytest.mark.timeout(180)
def test_no_accepted_write_is_lost_or_doubled_when_postgresql_restarts_under_load(
    tmp_path: Path, start_api: StartApi
) -> None:
    with own_postgres() as postgres:
        api = start_api(tmp_path / "api", database_url=postgres.url, embedded_worker="false")
        stop = threading.Event()
        writers = [Writer(api, stop) for _ in range(WRITERS)]
        threads = [threading.Thread(target=w.run, daemon=True) for w in writers]
        for thread in threads:
            thread.start()
        try:
            _until(lambda: _accepted(writers) >= WRITES_BEFORE_AND_AFTER, 60, "writes accepted")
            outage = _restart(postgres, api, writers)
            _until(
                lambda: _accepted(writers, outage.write_again) >= WRITES_BEFORE_AND_AFTER,
                60,
                "writes accepted after the restart",
            )
        finally:
            stop.set()
            for thread in threads:
                thread.join(60)
        assert not [f for w in writers for f in w.failures]

        attempts = [a for w in writers for a in w.attempts]
        acknowledged = {a.key: a.content_request_id for a in attempts if a.status == 202}
        # A retried write with a key already stored gets the same row back.
        for key in list(acknowledged)[:: max(1, len(acknowledged) // REPLAYED)][:REPLAYED]:
            replayed = api.request_content(key)
            assert replayed.status_code == 202, replayed.text
            assert replayed.json()["id"] == acknowledged[key]
        assert api.server.process.poll() is None, "the API process did not live through it"
        stored = _stored(postgres.url)

    assert 503 in outage.ready_answers_while_down
    assert set(outage.ready_answers_while_down) <= {503}, outage.ready_answers_while_down
    while_down = [
        a for a in attempts if outage.stopped <= a.sent and a.answered <= outage.restarting
    ]
    assert while_down, "no write was tried while PostgreSQL was down"
    assert {a.status for a in while_down} == {503}
    assert {a.status for a in attempts} <= {202, 503}
    assert {key: ids for key, ids in stored.items() if len(ids) > 1} == {}, "doubled writes"
    assert {key: ids[0] for key, ids in stored.items()} == acknowledged, "lost or unasked writes"
    print(  # noqa: T201 - the figures of the run, for docs/reliability.md
        f"writes accepted: {len(acknowledged)} "
        f"({_accepted(writers) - _accepted(writers, outage.stopped)} before the outage), "
        f"503 answers to writes: {sum(1 for a in attempts if a.status == 503)}, "
        f"tried while down: {len(while_down)}, lost: 0, doubled: 0; "
        f"down for {outage.restarting - outage.stopped:.1f}s; after the start: "
        f"/ready 200 in {outage.ready_again - outage.restarting:.1f}s, "
        f"first write accepted in {outage.write_again - outage.restarting:.1f}s"
    )
