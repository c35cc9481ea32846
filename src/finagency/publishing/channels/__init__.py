"""The channel adapters by type. Each adapter module offers:

- `check(config, credentials) -> None`: raise ChannelConfigError naming what is missing or wrong
  (called when an admin creates or changes a channel: a 422, nothing stored);
- `create(config, credentials, settings, client=None) -> Adapter`: the adapter, with an httpx
  client (or an SMTP connection factory) it owns unless one is given (tests);
- `SECRET_FIELDS`: the credential names, masked in every answer.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from finagency.publishing.models import CHANNEL_TYPES


def adapter_module(channel_type: str) -> ModuleType:
    if channel_type not in CHANNEL_TYPES:
        raise ValueError(
            f"unknown channel type {channel_type!r}; known: {', '.join(CHANNEL_TYPES)}"
        )
    return importlib.import_module(f"finagency.publishing.channels.{channel_type}")
