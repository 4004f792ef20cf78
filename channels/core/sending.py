"""Sending through a provider: every request is recorded, retried with backoff while the failure
is temporary (5xx, 429, connection errors), and a final failure is logged and left in the
store (`channel_outbound.status = 'failed'`) instead of disappearing.

A request whose outcome is unknown (the provider stalled past the client's timeout, or the
connection broke after the request went out: it may have been carried out) is not blindly
repeated. Where the provider can be asked (a `Reconcile`: Twilio lists the messages it
created), it is asked, and the request is repeated only if it was not carried out; where it
cannot, the send is recorded as `unknown` and logged, and not repeated: a shopper getting an
answer twice is worse than the rare answer that may not have arrived.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

from sqlalchemy.exc import IntegrityError

from bot.domain.backoff import backoff as capped_backoff
from bot.store.channel_models import OutboundStatus
from bot.store.channel_store import AbandonedSend, ChannelStore
from channels.core.messages import ProviderRequest, utc_now

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
        outcome_unknown: bool = False,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.retryable = retryable
        self.status = status
        self.retry_after = retry_after
        #: The request may have been carried out (no answer within the timeout, or the
        #: connection broke after it was sent). Adapters set it; `Sender` does not repeat
        #: such a request unless the provider, asked, says it was not carried out.
        self.outcome_unknown = outcome_unknown

    def __str__(self) -> str:
        return f"HTTP {self.status}: {self.detail}" if self.status else self.detail


def retryable_status(status: int) -> bool:
    """Server errors and rate limiting pass; any other 4xx will fail the same way again."""
    return status >= 500 or status in (408, 429)


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a `Retry-After` header: delay-seconds or an HTTP-date (RFC 9110).
    None if absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - (now or datetime.now(UTC))).total_seconds()
    if seconds != seconds or seconds == float("inf"):  # NaN, inf
        return None
    return max(0.0, seconds)


def requests_never_sent(error: BaseException) -> bool:
    """For the `requests` library (Twilio SDK, Graph): True if the error happened before the
    request could reach the provider (connecting failed or timed out), so repeating it cannot
    duplicate anything. A read timeout or a connection broken mid-request is not such a case.
    """
    import requests
    from urllib3.exceptions import ConnectTimeoutError, NewConnectionError

    if isinstance(error, requests.ConnectTimeout):
        return True
    if isinstance(error, requests.ConnectionError) and not isinstance(error, requests.Timeout):
        reason = getattr(error.args[0], "reason", None) if error.args else None
        return isinstance(reason, NewConnectionError | ConnectTimeoutError)
    return False


@dataclass(frozen=True)
class RetryPolicy:
    #: Tries in total, the first included.
    attempts: int = 4
    #: Wait before the second try; doubles after each further failure.
    base_delay: float = 0.5
    max_delay: float = 8.0
    #: A provider's Retry-After is honoured up to this long; a longer one is cut to it rather
    #: than holding the conversation for minutes.
    max_retry_after: float = 30.0

    def delay(self, failed_attempts: int, retry_after: float | None = None) -> float:
        # Jitter: after an outage, many conversations must not retry in lockstep.
        backoff = capped_backoff(
            failed_attempts, first=self.base_delay, cap=self.max_delay, jitter=0.2
        )
        if retry_after:
            backoff = max(backoff, min(retry_after, self.max_retry_after))
        return backoff


#: Performs one request for the shopper `external_id`; returns the provider's message id.
Transmit = Callable[[str, ProviderRequest], Awaitable[str | None]]
#: Asks the provider which messages matching the request it created for `external_id` since
#: the given time: their ids, oldest first (empty: it was not carried out). Raises
#: `ProviderError` if the provider cannot tell.
Reconcile = Callable[[str, ProviderRequest, datetime], Awaitable[Sequence[str]]]


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
        reconcile: Reconcile | None = None,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._channel = channel
        self._store = store
        self._transmit = transmit
        self._policy = policy
        self._sleep = sleep
        self._reconcile = reconcile
        self._clock = clock

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
            self._store.new_outbound,
            self._channel,
            external_id,
            request.kind,
            request.params,
            inbound_id=inbound_id,
            origin=origin,
        )
        #: Start of the first attempt whose outcome is unknown; reconciling looks from there.
        unknown_since: datetime | None = None
        failure: ProviderError | None = None
        for attempt in range(1, self._policy.attempts + 1):
            if unknown_since is not None:
                found = await self._ask(outbound_id, external_id, request, unknown_since)
                if found is not None:
                    return found
            started = self._clock()
            try:
                provider_id = await self._transmit(external_id, request)
            except ProviderError as error:
                failure = error
                if error.outcome_unknown:
                    if self._reconcile is None:
                        return await self._unknown(outbound_id, external_id, attempt, error)
                    unknown_since = unknown_since or started
                last = attempt == self._policy.attempts
                # An unknown outcome on the last try is asked about once more (below).
                final = not error.retryable or (last and not error.outcome_unknown)
                if final:
                    self._log_giving_up(request, outbound_id, external_id, attempt, error)
                await asyncio.to_thread(
                    self._store.outbound_attempt_failed, outbound_id, str(error), final=final
                )
                if final:
                    return SendResult(outbound_id, OutboundStatus.FAILED)
                delay = self._policy.delay(attempt, error.retry_after)
                logger.warning(
                    "%s: sending message #%d failed (attempt %d of %d: %s); %s in %.2fs",
                    self._channel, outbound_id, attempt, self._policy.attempts, error,
                    "asking the provider whether it was sent" if error.outcome_unknown
                    else "retrying", delay,
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
        # Only reached when the last attempt's outcome was unknown.
        assert unknown_since is not None and failure is not None
        found = await self._ask(outbound_id, external_id, request, unknown_since)
        if found is not None:
            return found
        self._log_giving_up(request, outbound_id, external_id, self._policy.attempts, failure)
        await asyncio.to_thread(self._store.outbound_failed, outbound_id)
        return SendResult(outbound_id, OutboundStatus.FAILED)

    def _log_giving_up(
        self,
        request: ProviderRequest,
        outbound_id: int,
        external_id: str,
        attempts: int,
        error: ProviderError,
    ) -> None:
        logger.error(
            "%s: gave up sending %s message #%d to %s after %d attempt(s): %s",
            self._channel, request.kind, outbound_id, external_id, attempts, error,
        )  # fmt: skip

    async def _ask(
        self, outbound_id: int, external_id: str, request: ProviderRequest, since: datetime
    ) -> SendResult | None:
        """After an unknown outcome: the result if the provider carried the request out (or
        cannot tell: then `unknown`); None if it did not, so the request may be repeated."""
        assert self._reconcile is not None
        try:
            candidates = await self._reconcile(external_id, request, since)
            # Messages we recorded for other sends are not this one's (same text, say).
            taken = await asyncio.to_thread(
                self._store.recorded_provider_ids, self._channel, external_id, list(candidates)
            )
        except ProviderError as error:
            return await self._unknown(
                outbound_id, external_id, None, error, note="the provider could not be asked"
            )
        found = [candidate for candidate in candidates if candidate not in taken]
        if not found:
            logger.info(
                "%s: message #%d to %s was not carried out by the provider; sending again",
                self._channel, outbound_id, external_id,
            )  # fmt: skip
            return None
        logger.warning(
            "%s: message #%d to %s was carried out although its request timed out (%s); "
            "not sending it again",
            self._channel, outbound_id, external_id, found[0],
        )  # fmt: skip
        try:
            await asyncio.to_thread(
                self._store.outbound_sent, outbound_id, found[0], count_attempt=False
            )
        except IntegrityError:  # a concurrent send to the shopper claimed that message first
            claimed = ProviderError(f"{found[0]} was claimed by another send", retryable=False)
            return await self._unknown(outbound_id, external_id, None, claimed)
        return SendResult(outbound_id, OutboundStatus.SENT, found[0])

    async def _unknown(
        self,
        outbound_id: int,
        external_id: str,
        attempt: int | None,
        error: ProviderError,
        *,
        note: str = "the provider cannot be asked",
    ) -> SendResult:
        logger.warning(
            "%s: outcome of message #%d to %s unknown (%s; %s): recorded as unknown, "
            "not sent again",
            self._channel, outbound_id, external_id, error, note,
        )  # fmt: skip
        await asyncio.to_thread(
            self._store.outbound_unknown, outbound_id, str(error), count_attempt=attempt is not None
        )
        return SendResult(outbound_id, OutboundStatus.UNKNOWN)

    async def settle_abandoned(self, send: AbandonedSend) -> OutboundStatus:
        """A send left `pending` by a process that died during the request. Where the provider
        can be asked it becomes `sent` (it was carried out) or `failed` (it was not, so the
        turn's replay sends it again); elsewhere `unknown`, and it is not repeated."""
        request = ProviderRequest(send.kind, send.content)
        stopped = ProviderError(
            "the process stopped during the request", retryable=False, outcome_unknown=True
        )
        if self._reconcile is None:
            result = await self._unknown(send.outbound_id, send.external_id, None, stopped)
            return result.status
        found = await self._ask(send.outbound_id, send.external_id, request, send.created_at)
        if found is not None:
            return found.status
        await asyncio.to_thread(
            self._store.outbound_attempt_failed,
            send.outbound_id,
            "the process stopped before the provider carried it out",
            final=True,
        )
        return OutboundStatus.FAILED

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
        logger.warning(
            "%s: message #%d to %s not sent: %s", self._channel, outbound_id, external_id, reason
        )
        return SendResult(outbound_id, OutboundStatus.BLOCKED)
