"""The OpenAI writer: any server speaking the chat-completions wire format (OpenAI, Ollama, vLLM).

`max_tokens` rather than `max_completion_tokens`: Ollama silently ignores the latter, and the
servers this targets accept the former. JSON mode (`json_object`) is the variant they all know.
"""

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


class OpenAIWriter(ModelWriter):
    name = "openai"

    @classmethod
    def from_settings(cls, settings: Any, **options: Any) -> OpenAIWriter:
        config = config_from_settings(
            settings, settings.openai_base_url, settings.openai_model, settings.openai_api_key
        )
        return cls(config, **options)

    def request(self, prompt: Prompt) -> tuple[str, dict[str, str], dict[str, Any]]:
        headers = {"Accept": "application/json"}
        if self.config.api_key:  # Ollama and a keyless vLLM need none
            headers["Authorization"] = f"Bearer {self.config.api_key}"
        body = {
            "model": self.config.model,
            "messages": prompt.messages,
            "max_tokens": self.config.max_tokens,
            "temperature": TEMPERATURE,
            "response_format": {"type": "json_object"},
        }
        return f"{self.config.base_url}/chat/completions", headers, body

    def read_answer(self, payload: Any) -> ModelAnswer:
        choices = payload.get("choices") if isinstance(payload, dict) else None
        if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
            raise WriterError("openai: the answer is not a chat completion (no choices)")
        choice = choices[0]
        message = choice.get("message")
        if not isinstance(message, dict):
            message = {}
        content = message.get("content")
        finish = choice.get("finish_reason")
        problem = None
        if finish == "length":
            problem = f"the answer was truncated at the token limit ({self.config.max_tokens})"
        elif finish == "content_filter":
            problem = "the answer was stopped by the content filter"
        elif not isinstance(content, str):  # null for a refusal or a tool call
            problem = f"the model gave no text ({message.get('refusal') or finish})"
        usage = payload.get("usage")
        return ModelAnswer(
            text=content if isinstance(content, str) else "",
            model=str(payload.get("model") or self.config.model),
            input_tokens=tokens(usage, "prompt_tokens"),
            output_tokens=tokens(usage, "completion_tokens"),
            problem=problem,
        )
