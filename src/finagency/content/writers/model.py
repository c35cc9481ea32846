"""What the model writers share: the prompt and its hash, retries, usage and the answer's checks.

The model sees the snapshot as the only allowed source of figures (the fact check reads every
number back against it), answers with a JSON draft, and that answer is validated here before it
becomes a Draft. Retries follow the providers' own rules: 408, 429 and 5xx (Anthropic's 529
too), timeouts and dropped connections are retried with exponential backoff, honouring the
server's Retry-After; any other status is a configuration or request error and fails at once.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from finagency.compliance.findings import SnapshotView
from finagency.content.metrics import MODEL_TOKENS
from finagency.content.renderings import Draft
from finagency.content.writers import Brief, WriterError, Written
from finagency.content.writers.template import SIMULATED_MARK, UNUSABLE
from finagency.retry_after import retry_after_seconds

PROMPT_VERSION = "model_prompt/1"
TEMPERATURE = 0.2
MAX_TITLE_CHARS = 300
MAX_PARAGRAPHS = 20
MAX_DRAFT_CHARS = 20_000
MAX_SLEEP_SECONDS = 30.0
BACKOFF_BASE_SECONDS = 0.5
SNAPSHOT_HEADING = "Snapshot (JSON; the only allowed source of figures):"
# A 429 for these is a billing limit, not a burst: waiting will not help.
NOT_RETRYABLE_CODES = frozenset({"insufficient_quota", "enforced_spend_limit_reached"})

SYSTEM_PROMPT = """\
You write short market commentary for a regulated financial publisher.
Rules, all of them mandatory:
1. The snapshot JSON in the user message is the ONLY allowed source of figures. Copy every \
number exactly as it is given there (rounding to fewer decimals is allowed). Write no figure \
that is not in the snapshot and compute none of your own (no sums, differences or averages). \
Figures in the topic, the idea or the headlines must not be repeated.
2. An instrument whose "fields" are empty has no verified quote: say so, without any figure.
3. Write no date other than an instrument's "last_trading_date".
4. No promises or guarantees of returns, no "risk-free" or "can't lose" language.
5. No buy, sell or hold calls, no recommendations, no price targets or forecasts.
6. No urgency or scarcity ("act now", "don't miss out", "last chance").
7. Do not write a disclaimer: the publisher appends one.
8. Answer only with a JSON object and nothing else, of this shape:
{"title": "a short title", "paragraphs": ["first paragraph", "second paragraph"]}
"""

Sleep = Callable[[float], None]


@dataclass(frozen=True)
class Prompt:
    system: str
    user: str

    @property
    def messages(self) -> list[dict[str, str]]:
        return [{"role": "system", "content": self.system}, {"role": "user", "content": self.user}]


@dataclass(frozen=True)
class ModelConfig:
    base_url: str
    model: str
    api_key: str | None = None  # None: no auth header (Ollama, a local vLLM)
    timeout: float = 60.0
    max_retries: int = 2
    max_tokens: int = 1024
    input_cost_per_million: float = 0.0  # US dollars; 0 when unknown
    output_cost_per_million: float = 0.0


def config_from_settings(settings: Any, base_url: str, model: str, api_key: Any) -> ModelConfig:
    """The shared model_* settings plus one provider's URL, model and key (a SecretStr)."""
    key = api_key.get_secret_value() if api_key is not None else None
    return ModelConfig(
        base_url=base_url.rstrip("/"),
        model=model,
        api_key=key or None,
        timeout=settings.model_timeout,
        max_retries=settings.model_max_retries,
        max_tokens=settings.model_max_tokens,
        input_cost_per_million=settings.model_input_cost_per_million,
        output_cost_per_million=settings.model_output_cost_per_million,
    )


# --- the prompt ------------------------------------------------------------------------------


def _usable_fields(entry: dict[str, Any]) -> dict[str, Any]:
    # Unverified, suspect or stale values would block in the fact check: the model never sees them.
    return {
        name: field["value"]
        for name, field in (entry.get("fields") or {}).items()
        if isinstance(field, dict)
        and field.get("value") is not None
        and not UNUSABLE & set(field.get("flags") or ())
    }


def is_simulated(snapshot: SnapshotView, symbols: list[str]) -> bool:
    return any(
        "simulated" in (field.get("flags") or ())
        for symbol in symbols
        for field in (snapshot.instruments[symbol].get("fields") or {}).values()
        if isinstance(field, dict)
    )


def compact_snapshot(snapshot: SnapshotView, symbols: list[str]) -> dict[str, Any]:
    """The requested instruments of the snapshot, with only the values the model may write."""
    instruments = {}
    for symbol in symbols:
        entry = snapshot.instruments[symbol]
        instruments[symbol] = {
            "name": entry.get("name", symbol),
            "asset_class": entry.get("asset_class"),
            "currency": entry.get("currency"),
            "last_trading_date": entry.get("last_trading_date"),
            "fields": _usable_fields(entry),
        }
    return {
        "snapshot_id": snapshot.id,
        "simulated": is_simulated(snapshot, symbols),
        "instruments": instruments,
    }


def build_prompt(brief: Brief, symbols: list[str]) -> Prompt:
    lines = [f"Content type: {brief.type}", f"Symbols: {', '.join(symbols)}"]
    if brief.topic:
        lines.append(f"Topic: {brief.topic}")
    lines += [f"Audience: {brief.audience}", f"Tone: {brief.tone}"]
    if brief.idea is not None:
        lines.append(f"Research idea: {brief.idea.title}")
        if brief.idea.event:
            lines.append(f"Event: {brief.idea.event}")
        if brief.idea.headlines:
            lines.append("Headlines (context only, not a source of figures):")
            lines += [f"- {h.title} ({h.source})" for h in brief.idea.headlines]
    if is_simulated(brief.snapshot, symbols):
        lines.append("The snapshot comes from a simulated market feed: say so in the text.")
    snapshot_json = json.dumps(
        compact_snapshot(brief.snapshot, symbols), ensure_ascii=False, separators=(",", ":")
    )
    lines += [SNAPSHOT_HEADING, snapshot_json]
    return Prompt(system=SYSTEM_PROMPT, user="\n".join(lines))


def prompt_hash(model: str, messages: list[dict[str, str]]) -> str:
    """sha256 over the model name and the exact messages: the same brief gives the same hash."""
    canonical = json.dumps(
        {"model": model, "messages": messages},
        ensure_ascii=False,
        sort_keys=True,
        separators=(",", ":"),
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


# --- the answer ------------------------------------------------------------------------------

_FENCED = re.compile(r"^\s*```(?:json)?[ \t]*\n?(.*?)\n?\s*```\s*$", re.DOTALL | re.IGNORECASE)


def parse_draft(text: str) -> tuple[str, list[str]]:
    """(title, paragraphs) from the model's JSON answer, or a WriterError naming the fault."""
    fenced = _FENCED.match(text)
    body = fenced.group(1) if fenced else text
    try:
        answer = json.loads(body)
    except json.JSONDecodeError as error:
        raise WriterError(f"the model's answer is not JSON ({error.msg})") from None
    if not isinstance(answer, dict):
        raise WriterError("the model's answer is not a JSON object")
    title = answer.get("title")
    if not isinstance(title, str) or not title.strip():
        raise WriterError('the model\'s answer has no non-empty "title" string')
    if len(title.strip()) > MAX_TITLE_CHARS:
        raise WriterError(f"the model's title is longer than {MAX_TITLE_CHARS} characters")
    paragraphs = answer.get("paragraphs")
    if not isinstance(paragraphs, list) or not 1 <= len(paragraphs) <= MAX_PARAGRAPHS:
        raise WriterError(f'the model\'s "paragraphs" is not a list of 1 to {MAX_PARAGRAPHS}')
    if not all(isinstance(p, str) and p.strip() for p in paragraphs):
        raise WriterError('the model\'s "paragraphs" holds an empty or non-string paragraph')
    cleaned = [p.strip() for p in paragraphs]
    if len(title.strip()) + sum(map(len, cleaned)) > MAX_DRAFT_CHARS:
        raise WriterError(f"the model's draft is longer than {MAX_DRAFT_CHARS} characters")
    return title.strip(), cleaned


@dataclass(frozen=True)
class ModelAnswer:
    text: str
    model: str  # the model the server says answered
    input_tokens: int
    output_tokens: int
    problem: str | None = None  # why the text cannot be used (truncated, refused, filtered)


def tokens(usage: Any, name: str) -> int:
    value = usage.get(name) if isinstance(usage, dict) else None
    return value if isinstance(value, int) and value >= 0 else 0


# --- retries ---------------------------------------------------------------------------------


def server_delay(headers: httpx.Headers) -> float | None:
    """The wait the server asks for: retry-after-ms first, then Retry-After (seconds or date)."""
    millis = headers.get("retry-after-ms")
    if millis:
        try:
            return max(0.0, float(millis) / 1000)
        except ValueError:
            pass
    return retry_after_seconds(headers.get("retry-after"))


def error_detail(response: httpx.Response) -> tuple[str, str | None]:
    """(message, code) from an error body: OpenAI/Anthropic nest it in "error", vLLM may not."""
    try:
        body = response.json()
    except ValueError:
        return response.text.strip()[:300] or response.reason_phrase, None
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):
        details = error.get("details")
        code = error.get("code") or (
            details.get("error_code") if isinstance(details, dict) else None
        )
        message = error.get("message") or error.get("type") or response.reason_phrase
        return str(message)[:300], str(code) if isinstance(code, str) else None
    if isinstance(body, dict) and isinstance(body.get("message"), str):
        return body["message"][:300], None
    return response.text.strip()[:300] or response.reason_phrase, None


def _retryable(response: httpx.Response, code: str | None) -> bool:
    if response.headers.get("x-should-retry") == "false":
        return False
    if response.status_code == 429:
        return code not in NOT_RETRYABLE_CODES
    return response.status_code == 408 or response.status_code >= 500


@dataclass(frozen=True)
class Failure:
    message: str
    retryable: bool
    delay: float | None = None  # what the server asked for, if anything


# --- the writer ------------------------------------------------------------------------------


class ModelWriter:
    """One call to a model per draft; subclasses speak their wire format."""

    name: str  # set by each subclass: "openai", "anthropic"

    def __init__(
        self,
        config: ModelConfig,
        *,
        client: httpx.Client | None = None,
        transport: httpx.BaseTransport | None = None,
        sleep: Sleep = time.sleep,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self.config = config
        self._client = client
        self._transport = transport
        self._sleep = sleep
        self._jitter = jitter

    # Each wire format: the (url, headers, body) of a request, and the answer in a 200 body.
    def request(self, prompt: Prompt) -> tuple[str, dict[str, str], dict[str, Any]]:
        raise NotImplementedError

    def read_answer(self, payload: Any) -> ModelAnswer:
        raise NotImplementedError

    def write(self, brief: Brief) -> Written:
        symbols = [s for s in brief.symbols if s in brief.snapshot.instruments]
        if not symbols:
            raise WriterError("none of the requested symbols is in the snapshot")
        prompt = build_prompt(brief, symbols)
        digest = prompt_hash(self.config.model, prompt.messages)
        payload, attempts = self._post(*self.request(prompt))
        answer = self.read_answer(payload)
        cost = self._record_usage(answer)
        if answer.problem:
            raise WriterError(f"{self.name}: {answer.problem}")
        title, paragraphs = parse_draft(answer.text)
        simulated = is_simulated(brief.snapshot, symbols)
        if simulated and not title.startswith(SIMULATED_MARK):
            title = f"{SIMULATED_MARK} {title}"
        provenance: dict[str, Any] = {
            "snapshot_id": brief.snapshot.id,
            "writer": self.name,
            "template_version": PROMPT_VERSION,
            "model": answer.model,
        }
        draft = Draft(
            title=title,
            paragraphs=paragraphs,
            disclaimer=brief.disclaimer,
            data={**provenance, "symbols": symbols, "simulated": simulated},
        )
        provenance |= {
            "prompt_hash": digest,
            "usage": {"input_tokens": answer.input_tokens, "output_tokens": answer.output_tokens},
            "cost_usd": cost,
            "attempts": attempts,
        }
        return Written(draft=draft, provenance=provenance)

    def _record_usage(self, answer: ModelAnswer) -> float:
        # Tokens are paid for even when the answer is unusable, so they are counted first.
        MODEL_TOKENS.labels(writer=self.name, kind="input").inc(answer.input_tokens)
        MODEL_TOKENS.labels(writer=self.name, kind="output").inc(answer.output_tokens)
        cost = (
            answer.input_tokens * self.config.input_cost_per_million
            + answer.output_tokens * self.config.output_cost_per_million
        ) / 1e6
        return round(cost, 8)

    def _post(self, url: str, headers: dict[str, str], body: dict[str, Any]) -> tuple[Any, int]:
        """The JSON of the first 2xx answer and the number of attempts it took."""
        if self._client is not None:
            return self._post_with(self._client, url, headers, body)
        # A client per draft: workers fork, and drafts are too rare to be worth a pool.
        with httpx.Client(timeout=self.config.timeout, transport=self._transport) as client:
            return self._post_with(client, url, headers, body)

    def _post_with(
        self, client: httpx.Client, url: str, headers: dict[str, str], body: dict[str, Any]
    ) -> tuple[Any, int]:
        attempts = 0
        while True:
            attempts += 1
            outcome = self._attempt(client, url, headers, body)
            if not isinstance(outcome, Failure):
                return outcome, attempts
            if not outcome.retryable:
                raise WriterError(outcome.message)
            if attempts > self.config.max_retries:
                raise WriterError(f"{outcome.message} (gave up after {attempts} attempts)")
            delay = outcome.delay if outcome.delay is not None else self._backoff(attempts)
            self._sleep(min(MAX_SLEEP_SECONDS, delay))

    def _attempt(
        self, client: httpx.Client, url: str, headers: dict[str, str], body: dict[str, Any]
    ) -> Any:
        """The decoded JSON of a 2xx answer, or the Failure of this attempt."""
        try:
            response = client.post(url, headers=headers, json=body, timeout=self.config.timeout)
        except httpx.TimeoutException:
            return Failure(f"{self.name}: no answer within {self.config.timeout:g} s", True)
        except httpx.TransportError as error:  # refused, reset or a broken response
            return Failure(
                f"{self.name}: connection failed ({error or type(error).__name__})", True
            )
        if response.is_success:
            try:
                return response.json()
            except ValueError:
                raise WriterError(f"{self.name}: the answer's body is not JSON") from None
        message, code = error_detail(response)
        return Failure(
            f"{self.name} answered {response.status_code}: {message}",
            _retryable(response, code),
            server_delay(response.headers),
        )

    def _backoff(self, attempt: int) -> float:
        # 0.5 s, 1 s, 2 s … with jitter, so that many workers do not retry in step.
        return BACKOFF_BASE_SECONDS * 2 ** (attempt - 1) * (0.5 + self._jitter() / 2)
