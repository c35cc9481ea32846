"""bench/http_endpoints.py's tools, without wrk or servers: reading wrk's report, the POST
script, and the sampling profiler that says where a request's time goes."""

from __future__ import annotations

import json
import time
from pathlib import Path

import greenlet  # type: ignore[import-untyped]
import pytest
from bench.http_load import StackSampler, Usage, lua_string, parse_wrk, profile_summary

REPORT = """Running 10s test @ https://127.0.0.1:8443/api/v1/market/quotes?symbols=%5EGSPC
  2 threads and 64 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   621.90ms  300.12ms   1.83s    70.00%
    Req/Sec    46.50     20.33   100.00     70.00%
  Latency Distribution
     50%  621.90ms
     75%  800.00ms
     90%    1.20s
     99%    1.83s
  934 requests in 10.04s, 1.10MB read
  Socket errors: connect 0, read 2, write 0, timeout 3
  Non-2xx or 3xx responses: 7
Requests/sec:     93.03
Transfer/sec:    112.20KB
"""


def test_wrk_report_gives_rate_latency_and_errors() -> None:
    result = parse_wrk(REPORT)
    assert result.requests == 934
    assert result.seconds == pytest.approx(10.04)
    assert result.rate == pytest.approx(93.03)
    assert result.p50_ms == pytest.approx(621.9)
    assert result.p99_ms == pytest.approx(1830.0)  # "1.83s"
    assert (result.bad_status, result.socket_errors) == (7, 5)


def test_wrk_report_in_microseconds_without_errors() -> None:
    report = """  Latency Distribution
     50%  336.00us
     75%  353.00us
     90%  392.00us
     99%  537.00us
  5744 requests in 1.00s, 863.97KB read
Requests/sec:   5738.75
"""
    result = parse_wrk(report)
    assert result.p50_ms == pytest.approx(0.336)
    assert result.p99_ms == pytest.approx(0.537)
    assert (result.bad_status, result.socket_errors) == (0, 0)


def test_a_report_without_figures_is_refused() -> None:
    with pytest.raises(ValueError, match="no totals"):
        parse_wrk("unable to connect to 127.0.0.1:1 Connection refused")


def test_the_post_body_is_a_valid_lua_string() -> None:
    body = '{"topic":"say \\"hi\\""}'
    assert lua_string(body) == '"{\\"topic\\":\\"say \\\\\\"hi\\\\\\"\\"}"'


def test_cores_are_cpu_seconds_over_wall_seconds() -> None:
    before = Usage(0.0, 10.0, {"server": 1.0, "nginx": 0.0, "wrk": 0.0, "redis": 0.0}, {7: 1.0})
    after = Usage(2.0, 13.0, {"server": 2.5, "nginx": 0.5, "wrk": 0.2, "redis": 0.0}, {7: 1.4})
    cores = after.cores_since(before)
    assert cores["server"] == pytest.approx(0.75)
    assert cores["postgres"] == pytest.approx(0.2)
    assert cores["rest"] == pytest.approx(1.5 - 0.75 - 0.25 - 0.1 - 0.2)


def _spin(seconds: float) -> None:
    deadline = time.process_time() + seconds
    while time.process_time() < deadline:
        pass


def _awaited_in_a_greenlet() -> None:
    # As SQLAlchemy's asyncio does: the sync work runs in a greenlet of its own.
    greenlet.greenlet(_spin).switch(0.3)


def test_samples_follow_cpu_time_and_cross_into_greenlets(tmp_path: Path) -> None:
    sampler = StackSampler()
    sampler.start()
    try:
        _spin(0.3)
        _awaited_in_a_greenlet()
    finally:
        sampler.stop()
    path = tmp_path / "samples.json"
    sampler.dump(path)
    dump = json.loads(path.read_text())
    assert dump["cpu_seconds"] >= 0.6
    stacks = [(count, stack) for count, stack in dump["samples"]]
    total = sum(count for count, _ in stacks)
    assert total >= 30  # the kernel's tick may be coarser than the 1 ms asked for
    spinning = sum(count for count, stack in stacks if stack[-1].endswith(":_spin"))
    assert spinning / total > 0.9
    # The greenlet's samples still show who switched into it, and the test above that.
    inside = [stack for _, stack in stacks if any(":_awaited_in_a_greenlet" in f for f in stack)]
    assert inside
    assert all(any(":test_samples_follow" in frame for frame in stack) for stack in inside)


def test_the_summary_splits_cpu_by_layer_and_by_our_functions(tmp_path: Path) -> None:
    ours = "/src/finagency/accounts/sessions.py:254:from_access_token"
    serve = "/src/finagency/cli.py:65:serve"
    orm = "/venv/lib/python3.11/site-packages/sqlalchemy/orm/session.py:1:execute"
    web = "/venv/lib/python3.11/site-packages/fastapi/routing.py:1:app"
    samples = [[30, [serve, ours, orm]], [10, [serve, web]]]
    path = tmp_path / "samples.json"
    path.write_text(json.dumps({"cpu_seconds": 0.4, "samples": samples}))
    summary = profile_summary(path, requests=100)
    assert "4.00 ms per request" in summary
    assert "| database: SQLAlchemy, psycopg, greenlet | 75.0% | 3.000 |" in summary
    assert "| FastAPI and Starlette: routing, dependencies, responses | 25.0% | 1.000 |" in summary
    assert "| accounts/sessions.py:254 from_access_token | 75.0% | 3.000 |" in summary
