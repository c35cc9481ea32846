"""The Anthropic writer: the Messages API (system prompt as a top-level field)."""

from __future__ import annotations

from typing import Any

from finagency.content.writers import WriterError
from finagency.content.writers.model import (
    TEMPERATURE,
    ModelAnswer,
    ModelWriter,
    Prompt,
    config_from_settings,
    tokens,
)

API_VERSION = "2023-06-01"


class AnthropicWriter(ModelWriter):
    name = "anthropic"

    @classmethod
    def from_settings(cls, settings: Any, **options: Any) -> AnthropicWriter:
        config = config_from_settings(
            settings,
            settings.anthropic_base_url,
            settings.anthropic_model,
            settings.anthropic_api_key,
        )
        return cls(config, **options)

    def request(self, prompt: Prompt) -> tuple[str, dict[str, str], dict[str, Any]]:
        headers = {"Accept": "application/json", "anthropic-version": API_VERSION}
        if self.config.api_key:  # a local proxy may need none
            headers["x-api-key"] = self.config.api_key
        body = {
            "model": self.config.model,
            "max_tokens": self.config.max_tokens,
            "system": prompt.system,
            "temperature": TEMPERATURE,
            "messages": [{"role": "user", "content": prompt.user}],
        }
        return f"{self.config.base_url}/v1/messages", headers, body

    def read_answer(self, payload: Any) -> ModelAnswer:
        blocks = payload.get("content") if isinstance(payload, dict) else None
        if not isinstance(blocks, list):
            raise WriterError("anthropic: the answer is not a message (no content)")
        # The first block may be thinking or tool use: join every text block.
        text = "".join(
            block["text"]
            for block in blocks
            if isinstance(block, dict)
            and block.get("type") == "text"
            and isinstance(block.get("text"), str)
        )
        stop = payload.get("stop_reason")
        problem = None
        if stop == "max_tokens":
            problem = f"the answer was truncated at the token limit ({self.config.max_tokens})"
        elif stop == "refusal":
            problem = "the model refused to answer"
        elif not text:
            problem = f"the model gave no text (stop_reason {stop})"
        usage = payload.get("usage")
        return ModelAnswer(
            text=text,
            model=str(payload.get("model") or self.config.model),
            input_tokens=tokens(usage, "input_tokens"),
            output_tokens=tokens(usage, "output_tokens"),
            problem=problem,
        )
