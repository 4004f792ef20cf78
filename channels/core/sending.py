"""Sending through a provider: every request is recorded, retried with backoff while the failure
is temporary (5xx, 429, timeouts, connection errors), and a final failure is logged and left
in the store (`channel_outbound.status = 'failed'`) instead of disappearing."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

from bot.store.channel_models import OutboundStatus
from channels.core.messages import ProviderRequest
from channels.core.store import ChannelStore

logger = logging.getLogger(__name__)


class ProviderError(Exception):
    """A provider refused or failed a request. Adapters translate their SDK's errors to this."""

    def __init__(
        self,
        detail: str,
        *,
        retryable: bool,
        status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.retryable = retryable
        self.status = status
        self.retry_after = retry_after

    def __str__(self) -> str:
        return f"HTTP {self.status}: {self.detail}" if self.status else self.detail


def retryable_status(status: int) -> bool:
    """Server errors and rate limiting pass; any other 4xx will fail the same way again."""
    return status >= 500 or status in (408, 429)


@dataclass(frozen=True)
class RetryPolicy:
    #: Tries in total, the first included.
    attempts: int = 4
    #: Wait before the second try; doubles after each further failure.
    base_delay: float = 0.5
    max_delay: float = 8.0
    #: A provider's Retry-After is honoured up to this long; beyond it we give up instead of
    #: holding the conversation.
    max_retry_after: float = 30.0

    def delay(self, failed_attempts: int, retry_after: float | None = None) -> float:
        backoff = min(self.max_delay, self.base_delay * 2 ** (failed_attempts - 1))
        # Jitter: after an outage, many conversations must not retry in lockstep.
        backoff *= random.uniform(0.8, 1.2)
        if retry_after:
            backoff = max(backoff, min(retry_after, self.max_retry_after))
        return backoff


#: Performs one request for the shopper `external_id`; returns the provider's message id.
Transmit = Callable[[str, ProviderRequest], Awaitable[str | None]]


@dataclass(frozen=True)
class SendResult:
    outbound_id: int
    status: OutboundStatus
    provider_message_id: str | None = None


class Sender:
    def __init__(
        self,
        channel: str,
        store: ChannelStore,
        transmit: Transmit,
        policy: RetryPolicy,
        *,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
    ) -> None:
        self._channel = channel
        self._store = store
        self._transmit = transmit
        self._policy = policy
        self._sleep = sleep

    async def send(
        self,
        external_id: str,
        request: ProviderRequest,
        *,
        inbound_id: int | None,
        origin: str | None = None,
    ) -> SendResult:
        """Records and sends one request. `origin` is who caused it when not the shopper's
        own turn (e.g. "handoff:<delivery id>"); see `ChannelStore.outbound_by_origin`."""
        outbound_id = await asyncio.to_thread(
            partial(
                self._store.new_outbound,
                self._channel,
                external_id,
                request.kind,
                request.params,
                inbound_id=inbound_id,
                origin=origin,
            )
        )
        for attempt in range(1, self._policy.attempts + 1):
            try:
                provider_id = await self._transmit(external_id, request)
            except ProviderError as error:
                final = not error.retryable or attempt == self._policy.attempts
                if final:
                    logger.error(
                        "%s: gave up sending %s message #%d to %s after %d attempt(s): %s",
                        self._channel, request.kind, outbound_id, external_id, attempt, error,
                    )  # fmt: skip
                await asyncio.to_thread(
                    self._store.outbound_attempt_failed, outbound_id, str(error), final=final
                )
                if final:
                    return SendResult(outbound_id, OutboundStatus.FAILED)
                delay = self._policy.delay(attempt, error.retry_after)
                logger.warning(
                    "%s: sending message #%d failed (attempt %d of %d: %s); retrying in %.2fs",
                    self._channel, outbound_id, attempt, self._policy.attempts, error, delay,
                )  # fmt: skip
                await self._sleep(delay)
            except Exception as error:  # a bug in an adapter: record it, never crash the turn
                logger.exception("%s: sending message #%d raised", self._channel, outbound_id)
                await asyncio.to_thread(
                    self._store.outbound_attempt_failed, outbound_id, repr(error), final=True
                )
                return SendResult(outbound_id, OutboundStatus.FAILED)
            else:
                await asyncio.to_thread(self._store.outbound_sent, outbound_id, provider_id)
                return SendResult(outbound_id, OutboundStatus.SENT, provider_id)
        raise AssertionError("unreachable: the last attempt is final")  # pragma: no cover

    async def record_blocked(
        self,
        external_id: str,
        request: ProviderRequest,
        reason: str,
        *,
        inbound_id: int | None,
        origin: str | None = None,
    ) -> SendResult:
        """Records a message that must not be sent at all (and says why, in the log too)."""
        outbound_id = await asyncio.to_thread(
            partial(
                self._store.new_outbound,
                self._channel,
                external_id,
                request.kind,
                request.params,
                inbound_id=inbound_id,
                status=OutboundStatus.BLOCKED,
                error=reason,
                origin=origin,
            )
        )
        logger.warning(
            "%s: message #%d to %s not sent: %s", self._channel, outbound_id, external_id, reason
        )
        return SendResult(outbound_id, OutboundStatus.BLOCKED)
