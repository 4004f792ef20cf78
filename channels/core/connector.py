"""What the messaging connectors (WhatsApp, Messenger, Telegram) share besides `ProviderInput`:

- their configuration is their section of `bot.settings.Settings` (`settings.whatsapp`, ...),
  declared there once;
- `from_credentials`, which Rasa calls: the process's settings (set by the Rasa server's entry
  point, bot/processes/rasa_server.py) give the section and the `ChannelRuntime`; keys in the
  connector's credentials.yml entry, if any, override the section's fields of the same name;
- the output class, named after the channel (Rasa picks `channel:` response variants by it);
- one thread pool per connector for SDKs that block (Twilio, requests), so a slow provider
  cannot starve the default executor, which the webhooks need for the store.

A connector declares `output_class` and `section`, and writes the provider-specific hooks.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from functools import partial
from typing import Any, ClassVar, Generic, TypeVar

from bot.settings import Section, process_settings
from channels.core.channel import ChannelOutput, ChannelRuntime, ProviderInput
from channels.core.messages import utc_now

SectionT = TypeVar("SectionT", bound=Section)
T = TypeVar("T")


class ConnectorOutput(ChannelOutput):
    """A connector's output channel; subclasses set `channel`."""

    channel_name: ClassVar[str]

    @classmethod
    def name(cls) -> str:
        return cls.channel_name


def with_credentials(config: SectionT, credentials: dict[str, Any] | None) -> SectionT:
    """`config` with the non-empty credentials.yml values of its own fields instead (an entry
    written for an older relaydesk, with `${VAR}` copies, gives the same values)."""
    fields = type(config).__fields__
    overrides = {
        key: value
        for key, value in (credentials or {}).items()
        if key in fields and value not in (None, "")
    }
    if not overrides:
        return config
    return type(config)(**{**config.dict(), **overrides})


class MessagingConnector(ProviderInput, Generic[SectionT]):
    """Base of the WhatsApp, Messenger and Telegram input channels."""

    #: The connector's output channel class; its `channel_name` is the connector's name.
    output_class: ClassVar[type[ConnectorOutput]]
    #: The attribute of `Settings` holding the connector's section.
    section: ClassVar[str]
    #: Threads for the provider's blocking SDK (`in_thread`); 0: the client is async.
    blocking_threads: ClassVar[int] = 0

    @classmethod
    def name(cls) -> str:
        return cls.output_class.channel_name

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> MessagingConnector[Any]:
        settings = process_settings()
        config = with_credentials(getattr(settings, cls.section), credentials)
        return cls(config, ChannelRuntime.from_settings(settings))

    def __init__(
        self,
        config: SectionT,
        runtime: ChannelRuntime,
        *,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        super().__init__(runtime)
        self.config = config
        self._clock = clock
        self._threads: ThreadPoolExecutor | None = None

    def output_channel(self, inbound_id: int | None) -> ConnectorOutput:
        return self.output_class(self, inbound_id)

    async def in_thread(self, function: Callable[..., T], *args: Any) -> T:
        """Runs a blocking provider call on the connector's own threads."""
        if self._threads is None:
            self._threads = ThreadPoolExecutor(
                max_workers=self.blocking_threads or 1, thread_name_prefix=self.name()
            )
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._threads, partial(function, *args))
