"""The OpenAI and Anthropic writers against a local server speaking each wire format."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from prometheus_client import REGISTRY, generate_latest

from finagency.accounts.permissions import Role
from finagency.app import create_app
from finagency.compliance import factcheck
from finagency.compliance.findings import CheckContext, SnapshotView
from finagency.content.writers import Brief, IdeaBrief, NewsHeadline, WriterError, create_writer
from finagency.content.writers.anthropic import AnthropicWriter
from finagency.content.writers.model import (
    MAX_DRAFT_CHARS,
    PROMPT_VERSION,
    ModelConfig,
    ModelWriter,
    build_prompt,
    parse_draft,
    prompt_hash,
    server_delay,
)
from finagency.content.writers.openai import OpenAIWriter
from finagency.content.writers.template import SIMULATED_MARK
from finagency.settings import load_settings
from tests.compliance.snapshots import AS_OF, snapshot_view
from tests.fixtures.accounts import FAST_HASHING, bearer, make_user
from tests.fixtures.model_servers import (
    INPUT_TOKENS,
    MODEL_SUFFIX,
    OUTPUT_TOKENS,
    Answer,
    FakeModelServer,
    running_model_server,
)

DISCLAIMER = "Not investment advice."
MODEL = "fake-model"
KEY = "sk-test-0123456789"
INPUT_PRICE, OUTPUT_PRICE = 0.15, 0.60  # US dollars per million tokens
WRITERS: list[type[ModelWriter]] = [OpenAIWriter, AnthropicWriter]


@pytest.fixture
def model_server() -> Iterator[FakeModelServer]:
    with running_model_server() as server:
        yield server


@pytest.fixture(params=WRITERS, ids=lambda cls: cls.name)
def writer_class(request: pytest.FixtureRequest) -> type[ModelWriter]:
    cls: type[ModelWriter] = request.param
    return cls


def make_writer(
    cls: type[ModelWriter], server: FakeModelServer, sleeps: list[float], **config: Any
) -> ModelWriter:
    base_url = server.openai_base_url if cls is OpenAIWriter else server.base_url
    settings = ModelConfig(
        base_url=base_url,
        model=MODEL,
        api_key=KEY,
        timeout=2.0,
        max_retries=2,
        max_tokens=800,
        input_cost_per_million=INPUT_PRICE,
        output_cost_per_million=OUTPUT_PRICE,
    )
    # jitter 1.0: the backoff is exactly 0.5 s × 2^n, so the sleeps can be asserted.
    return cls(replace(settings, **config), sleep=sleeps.append, jitter=lambda: 1.0)


def make_brief(snapshot: SnapshotView | None = None, **fields: Any) -> Brief:
    values: dict[str, Any] = {
        "type": "market_update",
        "symbols": ("^GSPC", "^NSEI"),
        "snapshot": snapshot or snapshot_view(),
        "disclaimer": DISCLAIMER,
        "seed": 1,
    }
    return Brief(**(values | fields))


def tokens_used(writer: str, kind: str) -> float:
    value = REGISTRY.get_sample_value(
        "finagency_model_tokens_total", {"writer": writer, "kind": kind}
    )
    return value or 0.0


# --- success ---------------------------------------------------------------------------------


def test_a_draft_with_provenance_usage_and_cost(
    writer_class: type[ModelWriter], model_server: FakeModelServer
) -> None:
    sleeps: list[float] = []
    writer = make_writer(writer_class, model_server, sleeps)
    before = tokens_used(writer.name, "input"), tokens_used(writer.name, "output")
    brief = make_brief()
    written = writer.write(brief)
    draft = written.draft
    assert draft.title == "Market update for 25 November 2026"
    assert "S&P 500 rose 0.42% to 6,012.45" in draft.body
    assert "24,318.65" in draft.body
    assert draft.disclaimer == DISCLAIMER
    assert draft.plain_text.endswith(DISCLAIMER)
    answered = f"{MODEL}{MODEL_SUFFIX}"
    assert draft.data == {
        "snapshot_id": 1,
        "symbols": ["^GSPC", "^NSEI"],
        "writer": writer.name,
        "template_version": PROMPT_VERSION,
        "model": answered,
        "simulated": False,
    }
    cost = (INPUT_TOKENS * INPUT_PRICE + OUTPUT_TOKENS * OUTPUT_PRICE) / 1e6
    prompt = build_prompt(brief, ["^GSPC", "^NSEI"])
    assert written.provenance == {
        "snapshot_id": 1,
        "writer": writer.name,
        "template_version": PROMPT_VERSION,
        "model": answered,
        "prompt_hash": prompt_hash(MODEL, prompt.messages),
        "usage": {"input_tokens": INPUT_TOKENS, "output_tokens": OUTPUT_TOKENS},
        "cost_usd": pytest.approx(cost),
        "attempts": 1,
    }
    assert len(written.provenance["prompt_hash"]) == 64
    assert tokens_used(writer.name, "input") == before[0] + INPUT_TOKENS
    assert tokens_used(writer.name, "output") == before[1] + OUTPUT_TOKENS
    assert sleeps == []
    # The fake copies its figures from the prompt's snapshot: the fact check traces them all.
    context = CheckContext(
        text=draft.plain_text,
        channel_type="file",
        content_type="market_update",
        profile="us",
        now=AS_OF,
        snapshot=brief.snapshot,
        disclaimer=DISCLAIMER,
    )
    assert factcheck.fact_check(context) == []


def test_the_openai_request(model_server: FakeModelServer) -> None:
    make_writer(OpenAIWriter, model_server, []).write(make_brief())
    [received] = model_server.received
    assert received.path == "/v1/chat/completions"
    assert received.headers["authorization"] == f"Bearer {KEY}"
    body = received.body
    assert body["model"] == MODEL
    assert body["max_tokens"] == 800
    assert body["temperature"] == 0.2
    assert body["response_format"] == {"type": "json_object"}
    system, user = body["messages"]
    assert system["role"] == "system"
    assert "ONLY allowed source of figures" in system["content"]
    assert user["role"] == "user"
    assert "6012.45" in user["content"]
    assert "24318.65" in user["content"]
    # Only the requested symbols are given to the model.
    assert "BTC-USD" not in user["content"]
    assert "USDINR=X" not in user["content"]


def test_the_anthropic_request(model_server: FakeModelServer) -> None:
    make_writer(AnthropicWriter, model_server, []).write(make_brief(symbols=("BTC-USD",)))
    [received] = model_server.received
    assert received.path == "/v1/messages"
    assert received.headers["x-api-key"] == KEY
    assert received.headers["anthropic-version"] == "2023-06-01"
    assert "authorization" not in received.headers
    body = received.body
    assert body["model"] == MODEL
    assert body["max_tokens"] == 800
    assert "ONLY allowed source of figures" in body["system"]
    [user] = body["messages"]
    assert user["role"] == "user"
    assert "97432.18" in user["content"]
    assert "6012.45" not in user["content"]


def test_without_an_api_key_no_auth_header_is_sent(
    writer_class: type[ModelWriter], model_server: FakeModelServer
) -> None:
    make_writer(writer_class, model_server, [], api_key=None).write(make_brief())
    [received] = model_server.received
    assert "authorization" not in received.headers
    assert "x-api-key" not in received.headers


def test_the_prompt_carries_the_brief(model_server: FakeModelServer) -> None:
    idea = IdeaBrief(
        id=7,
        title="Index hits a record",
        urgency="normal",
        event="record_high",
        symbols=("^GSPC",),
        reasons=(),
        headlines=(NewsHeadline(title="Stocks climb on earnings", source="Wire"),),
    )
    brief = make_brief(topic="the close", idea=idea, audience="professional", tone="formal")
    make_writer(OpenAIWriter, model_server, []).write(brief)
    user = model_server.received[0].body["messages"][1]["content"]
    for expected in ("market_update", "^GSPC, ^NSEI", "the close", "professional", "formal"):
        assert expected in user
    assert "Index hits a record" in user
    assert "Stocks climb on earnings (Wire)" in user


def test_flagged_fields_are_never_shown_to_the_model(model_server: FakeModelServer) -> None:
    snapshot = snapshot_view(flags={"^GSPC": {"last": ["unverified"], "open": ["stale"]}})
    written = make_writer(OpenAIWriter, model_server, []).write(make_brief(snapshot))
    user = model_server.received[0].body["messages"][1]["content"]
    assert "6012.45" not in user
    assert "5990.1" not in user
    assert "5987.3" in user  # the previous close is still verified
    assert "S&P 500: no verified quote" in written.draft.body


def test_simulated_data_is_marked(
    writer_class: type[ModelWriter], model_server: FakeModelServer
) -> None:
    snapshot = snapshot_view(flags={"^NSEI": {"last": ["simulated"]}})
    written = make_writer(writer_class, model_server, []).write(make_brief(snapshot))
    assert written.draft.title.startswith(f"{SIMULATED_MARK} Market update")
    assert written.draft.data["simulated"] is True
    # Only the requested symbols count: the same flag on another instrument changes nothing.
    plain = make_writer(writer_class, model_server, []).write(
        make_brief(snapshot, symbols=("^GSPC",))
    )
    assert plain.draft.data["simulated"] is False
    assert not plain.draft.title.startswith(SIMULATED_MARK)


def test_a_brief_without_any_known_symbol_calls_no_model(model_server: FakeModelServer) -> None:
    writer = make_writer(OpenAIWriter, model_server, [])
    with pytest.raises(WriterError, match="none of the requested symbols"):
        writer.write(make_brief(symbols=("NOPE",)))
    assert model_server.received == []


def test_the_prompt_hash_is_stable_and_tells_briefs_apart(model_server: FakeModelServer) -> None:
    writer = make_writer(AnthropicWriter, model_server, [])
    first = writer.write(make_brief()).provenance["prompt_hash"]
    again = writer.write(make_brief()).provenance["prompt_hash"]
    other_topic = writer.write(make_brief(topic="rates")).provenance["prompt_hash"]
    other_symbols = writer.write(make_brief(symbols=("^GSPC",))).provenance["prompt_hash"]
    other_model = make_writer(AnthropicWriter, model_server, [], model="other-model")
    assert first == again
    assert len({first, other_topic, other_symbols}) == 3
    assert other_model.write(make_brief()).provenance["prompt_hash"] != first


# --- retries ---------------------------------------------------------------------------------


def test_a_429_is_retried_after_the_servers_retry_after(
    writer_class: type[ModelWriter], model_server: FakeModelServer
) -> None:
    sleeps: list[float] = []
    model_server.play(Answer("rate_limited", retry_after="7"), "ok")
    written = make_writer(writer_class, model_server, sleeps).write(make_brief())
    assert sleeps == [7.0]
    assert written.provenance["attempts"] == 2
    assert len(model_server.received) == 2


def test_retry_after_ms_wins_and_every_sleep_is_capped(model_server: FakeModelServer) -> None:
    sleeps: list[float] = []
    model_server.play(
        Answer("rate_limited", retry_after="7", retry_after_ms="1500"),
        Answer("rate_limited", retry_after="3600"),
        "ok",
    )
    make_writer(OpenAIWriter, model_server, sleeps).write(make_brief())
    assert sleeps == [1.5, 30.0]


def test_a_retry_after_date_is_read() -> None:
    when = datetime.now(UTC) + timedelta(seconds=20)
    delay = server_delay(httpx.Headers({"retry-after": format_datetime(when, usegmt=True)}))
    assert delay is not None
    assert 15 <= delay <= 20
    assert server_delay(httpx.Headers({"retry-after": "soon"})) is None
    assert server_delay(httpx.Headers({})) is None


@pytest.mark.parametrize("failure", ["server_error", "overloaded"])
def test_a_server_error_is_retried_with_backoff(
    writer_class: type[ModelWriter], model_server: FakeModelServer, failure: str
) -> None:
    sleeps: list[float] = []
    model_server.play(failure, failure, "ok")
    written = make_writer(writer_class, model_server, sleeps).write(make_brief())
    assert sleeps == [0.5, 1.0]
    assert written.provenance["attempts"] == 3


def test_when_retries_run_out_the_writer_fails(
    writer_class: type[ModelWriter], model_server: FakeModelServer
) -> None:
    sleeps: list[float] = []
    before = tokens_used(writer_class.name, "input")
    model_server.play("server_error", "server_error", "server_error", "ok")
    writer = make_writer(writer_class, model_server, sleeps)
    with pytest.raises(WriterError, match="answered 500: The server had an error") as raised:
        writer.write(make_brief())
    assert "gave up after 3 attempts" in str(raised.value)
    assert sleeps == [0.5, 1.0]
    assert len(model_server.received) == 3
    assert tokens_used(writer_class.name, "input") == before


def test_no_retries_when_none_are_configured(model_server: FakeModelServer) -> None:
    model_server.play("rate_limited", "ok")
    writer = make_writer(OpenAIWriter, model_server, [], max_retries=0)
    with pytest.raises(WriterError, match="answered 429: Rate limit reached"):
        writer.write(make_brief())
    assert len(model_server.received) == 1


@pytest.mark.parametrize("code", ["insufficient_quota", "enforced_spend_limit_reached"])
def test_a_billing_limit_is_not_retried(
    writer_class: type[ModelWriter], model_server: FakeModelServer, code: str
) -> None:
    sleeps: list[float] = []
    model_server.play(Answer("rate_limited", retry_after="1", code=code), "ok")
    with pytest.raises(WriterError, match="answered 429"):
        make_writer(writer_class, model_server, sleeps).write(make_brief())
    assert sleeps == []
    assert len(model_server.received) == 1


def test_the_server_can_forbid_a_retry(model_server: FakeModelServer) -> None:
    model_server.play(Answer("server_error", should_retry="false"), "ok")
    with pytest.raises(WriterError, match="answered 500"):
        make_writer(OpenAIWriter, model_server, []).write(make_brief())
    assert len(model_server.received) == 1


def test_a_timeout_is_retried_then_fails(
    writer_class: type[ModelWriter], model_server: FakeModelServer
) -> None:
    sleeps: list[float] = []
    model_server.default = Answer("hang", hang_seconds=5)
    writer = make_writer(writer_class, model_server, sleeps, timeout=0.2)
    with pytest.raises(WriterError, match=r"no answer within 0\.2 s .*after 3 attempts"):
        writer.write(make_brief())
    assert len(model_server.received) == 3
    assert sleeps == [0.5, 1.0]


def test_a_timeout_then_an_answer_succeeds(model_server: FakeModelServer) -> None:
    model_server.play(Answer("hang", hang_seconds=5), "ok")
    writer = make_writer(AnthropicWriter, model_server, [], timeout=0.2)
    assert writer.write(make_brief()).provenance["attempts"] == 2


def test_a_refused_connection_is_retried_then_fails() -> None:
    sleeps: list[float] = []
    with running_model_server() as stopped:
        pass  # its port is free again: nothing listens there
    writer = make_writer(OpenAIWriter, stopped, sleeps, max_retries=1)
    with pytest.raises(WriterError, match="connection failed"):
        writer.write(make_brief())
    assert sleeps == [0.5]


def test_a_401_fails_at_once_with_the_servers_message(
    writer_class: type[ModelWriter], model_server: FakeModelServer
) -> None:
    sleeps: list[float] = []
    model_server.play("unauthorized", "ok")
    writer = make_writer(writer_class, model_server, sleeps)
    with pytest.raises(WriterError, match=f"{writer.name} answered 401: invalid API key"):
        writer.write(make_brief())
    assert sleeps == []
    assert len(model_server.received) == 1


# --- unusable answers ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        ("malformed", "body is not JSON"),
        ("not_a_draft", "answer is not JSON"),
        ("wrong_shape", 'no non-empty "title"'),
        ("truncated", "truncated at the token limit"),
    ],
)
def test_an_unusable_answer_fails_without_retrying(
    writer_class: type[ModelWriter], model_server: FakeModelServer, answer: str, message: str
) -> None:
    model_server.play(answer, "ok")
    writer = make_writer(writer_class, model_server, [])
    with pytest.raises(WriterError, match=message):
        writer.write(make_brief())
    assert len(model_server.received) == 1


def test_a_truncated_answer_still_counts_its_tokens(model_server: FakeModelServer) -> None:
    before = tokens_used("anthropic", "output")
    model_server.play("truncated")
    with pytest.raises(WriterError, match="truncated"):
        make_writer(AnthropicWriter, model_server, []).write(make_brief())
    assert tokens_used("anthropic", "output") == before + OUTPUT_TOKENS


def test_a_fenced_json_answer_is_accepted() -> None:
    text = '```json\n{"title": " Close ", "paragraphs": ["One.", " Two. "], "x": 1}\n```'
    assert parse_draft(text) == ("Close", ["One.", "Two."])
    assert parse_draft('{"title": "T", "paragraphs": ["P"]}') == ("T", ["P"])


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[1, 2]", "not a JSON object"),
        ('{"title": "", "paragraphs": ["P"]}', '"title"'),
        ('{"title": 3, "paragraphs": ["P"]}', '"title"'),
        ('{"title": "' + "T" * 301 + '", "paragraphs": ["P"]}', "longer than 300"),
        ('{"title": "T"}', '"paragraphs" is not a list of 1 to 20'),
        ('{"title": "T", "paragraphs": []}', '"paragraphs" is not a list of 1 to 20'),
        ('{"title": "T", "paragraphs": "P"}', '"paragraphs" is not a list'),
        ('{"title": "T", "paragraphs": [' + ",".join(['"P"'] * 21) + "]}", "1 to 20"),
        ('{"title": "T", "paragraphs": ["P", "  "]}', "empty or non-string paragraph"),
        ('{"title": "T", "paragraphs": ["P", 4]}', "empty or non-string paragraph"),
        (
            '{"title": "T", "paragraphs": ["' + "w" * MAX_DRAFT_CHARS + '"]}',
            f"longer than {MAX_DRAFT_CHARS}",
        ),
        ("Sure! Here is the update.", "not JSON"),
    ],
)
def test_a_malformed_draft_is_refused_naming_the_fault(text: str, message: str) -> None:
    with pytest.raises(WriterError, match=message):
        parse_draft(text)


def test_an_injected_client_is_used(model_server: FakeModelServer) -> None:
    config = ModelConfig(base_url=model_server.openai_base_url, model=MODEL)
    with httpx.Client(headers={"OpenAI-Project": "proj_test"}, timeout=2) as client:
        OpenAIWriter(config, client=client).write(make_brief())
    assert model_server.received[0].headers["openai-project"] == "proj_test"


def test_an_injected_transport_is_used() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        body = {"content": [{"type": "text", "text": '{"title": "T", "paragraphs": ["P"]}'}]}
        return httpx.Response(200, json=body | {"model": "m", "stop_reason": "end_turn"})

    config = ModelConfig(base_url="http://127.0.0.1:9", model=MODEL)
    writer = AnthropicWriter(config, transport=httpx.MockTransport(answer))
    written = writer.write(make_brief())
    assert written.draft.paragraphs == ["P"]
    assert written.provenance["usage"] == {"input_tokens": 0, "output_tokens": 0}


def _openai_writer() -> OpenAIWriter:
    return OpenAIWriter(ModelConfig(base_url="http://127.0.0.1:9", model=MODEL))


def _anthropic_writer() -> AnthropicWriter:
    return AnthropicWriter(ModelConfig(base_url="http://127.0.0.1:9", model=MODEL))


def test_answers_without_usable_text_name_the_reason() -> None:
    refusal = {"message": {"content": None, "refusal": "I can't help"}, "finish_reason": "stop"}
    answer = _openai_writer().read_answer({"choices": [refusal]})
    assert answer.problem == "the model gave no text (I can't help)"
    filtered = {"message": {"content": "x"}, "finish_reason": "content_filter"}
    answer = _openai_writer().read_answer({"choices": [filtered]})
    assert answer.problem == "the answer was stopped by the content filter"
    with pytest.raises(WriterError, match="not a chat completion"):
        _openai_writer().read_answer({"object": "error", "message": "boom"})
    answer = _anthropic_writer().read_answer({"content": [], "stop_reason": "refusal"})
    assert answer.problem == "the model refused to answer"
    with pytest.raises(WriterError, match="not a message"):
        _anthropic_writer().read_answer(["not", "a", "message"])


def test_every_anthropic_text_block_is_read() -> None:
    payload = {
        "model": "claude-test",
        "content": [
            {"type": "thinking", "thinking": "figures first"},
            {"type": "text", "text": '{"title": "T", '},
            {"type": "text", "text": '"paragraphs": ["P"]}'},
        ],
        "stop_reason": "end_turn",
        "usage": {"input_tokens": 21, "output_tokens": 9, "cache_read_input_tokens": 0},
    }
    answer = _anthropic_writer().read_answer(payload)
    assert answer.text == '{"title": "T", "paragraphs": ["P"]}'
    assert (answer.model, answer.input_tokens, answer.output_tokens) == ("claude-test", 21, 9)
    assert answer.problem is None


# --- settings and metrics --------------------------------------------------------------------


def test_the_writers_are_configured_from_settings(tmp_path: Path) -> None:
    settings = load_settings(
        data_dir=tmp_path,
        writer="openai",
        openai_base_url="http://127.0.0.1:11434/v1/",
        openai_model="llama3.1",
        anthropic_api_key="sk-ant-test",
        model_timeout=12,
        model_max_retries=4,
        model_max_tokens=900,
        model_input_cost_per_million=1.5,
    )
    writer = create_writer(settings)
    assert isinstance(writer, OpenAIWriter)
    assert writer.config == ModelConfig(
        base_url="http://127.0.0.1:11434/v1",
        model="llama3.1",
        api_key=None,
        timeout=12,
        max_retries=4,
        max_tokens=900,
        input_cost_per_million=1.5,
    )
    anthropic = create_writer(settings.model_copy(update={"writer": "anthropic"}))
    assert isinstance(anthropic, AnthropicWriter)
    assert anthropic.config.api_key == "sk-ant-test"
    assert anthropic.config.base_url == "https://api.anthropic.com"


def test_the_token_series_exist_before_any_call() -> None:
    exported = generate_latest(REGISTRY).decode()
    for writer in ("openai", "anthropic"):
        for kind in ("input", "output"):
            assert f'finagency_model_tokens_total{{kind="{kind}",writer="{writer}"}}' in exported


# --- end to end through the API --------------------------------------------------------------


@pytest.fixture
async def model_app(
    fresh_database_url: str, tmp_path: Path, model_server: FakeModelServer
) -> AsyncIterator[FastAPI]:
    """The app (embedded worker, its own database) writing with the OpenAI writer."""
    application = create_app(
        load_settings(
            database_url=fresh_database_url,
            data_dir=tmp_path,
            auth_rate_per_second=1000,
            auth_rate_burst=1000,
            writer="openai",
            openai_base_url=model_server.openai_base_url,
            openai_model=MODEL,
            openai_api_key=KEY,
            model_timeout=5,
            model_max_retries=0,
            **FAST_HASHING,
        )
    )
    async with application.router.lifespan_context(application):
        yield application


async def _request_and_wait(app: FastAPI, http: httpx.AsyncClient) -> tuple[Any, dict[str, str]]:
    settings = app.state.settings
    async with app.state.database.session() as session:
        analyst = await make_user(session, settings, Role.analyst)
    headers = bearer(settings, analyst)
    for _ in range(300):  # the embedded worker takes the first snapshot at start
        quotes = await http.get(
            "/api/v1/market/quotes", params={"symbols": "^GSPC"}, headers=headers
        )
        if quotes.status_code == 200:
            break
        await asyncio.sleep(0.05)
    body = {"type": "market_update", "symbols": ["^GSPC", "^NSEI"], "channels": ["x", "file"]}
    created = await http.post("/api/v1/content/requests", json=body, headers=headers)
    assert created.status_code == 202, created.text
    state: Any = None
    for _ in range(300):
        state = (await http.get(created.headers["location"], headers=headers)).json()
        if state["status"] in {"done", "failed"}:
            return state, headers
        await asyncio.sleep(0.05)
    raise AssertionError(f"request never finished: {state}")


async def test_a_request_is_written_by_the_model_writer(
    model_app: FastAPI, model_server: FakeModelServer
) -> None:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=model_app), base_url="http://testserver"
    ) as http:
        state, headers = await _request_and_wait(model_app, http)
        assert state["status"] == "done", state
        content = (await http.get(f"/api/v1/content/{state['content_id']}", headers=headers)).json()
    provenance = content["revision"]["provenance"]
    assert provenance["writer"] == "openai"
    assert provenance["model"] == f"{MODEL}{MODEL_SUFFIX}"
    assert provenance["template_version"] == PROMPT_VERSION
    assert len(provenance["prompt_hash"]) == 64
    assert provenance["usage"] == {"input_tokens": INPUT_TOKENS, "output_tokens": OUTPUT_TOKENS}
    assert isinstance(provenance["snapshot_id"], int)
    [received] = model_server.received
    assert received.headers["authorization"] == f"Bearer {KEY}"
    # The simulated feed is marked, and every figure the model wrote traces to the snapshot.
    assert content["simulated"] is True
    assert content["revision"]["title"].startswith(SIMULATED_MARK)
    assert [f for f in content["findings"] if f["rule"] == "fact_check"] == []


async def test_a_writer_failure_fails_the_request_and_leaves_no_content(
    model_app: FastAPI, model_server: FakeModelServer
) -> None:
    model_server.default = Answer("unauthorized")
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=model_app), base_url="http://testserver"
    ) as http:
        state, headers = await _request_and_wait(model_app, http)
        listed = (await http.get("/api/v1/content", headers=headers)).json()
    assert state["status"] == "failed", state
    assert "openai answered 401: invalid API key" in state["error"]
    assert state["content_id"] is None
    assert listed["items"] == []
