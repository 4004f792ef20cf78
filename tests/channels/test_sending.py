"""The retrying sender: backoff on temporary failures, no retry on permanent ones, every
attempt and the outcome recorded."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import pytest
import requests
from sqlalchemy import select
from urllib3.exceptions import MaxRetryError, NewConnectionError, ProtocolError

from bot.store.channel_models import ChannelOutbound
from bot.store.channel_store import ChannelStore
from bot.store.database import Database
from channels.core.messages import ProviderRequest
from channels.core.sending import (
    ProviderError,
    RetryPolicy,
    Sender,
    parse_retry_after,
    requests_never_sent,
)

REQUEST = ProviderRequest("text", {"body": "Your order has shipped."})


class ScriptedProvider:
    def __init__(self, *outcomes: Any) -> None:
        self.outcomes = list(outcomes)
        self.calls = 0

    async def __call__(self, external_id: str, request: ProviderRequest) -> str | None:
        self.calls += 1
        outcome = self.outcomes.pop(0)
        if isinstance(outcome, BaseException):
            raise outcome
        return str(outcome)


def send(database: Database, provider: ScriptedProvider, sleeps: list[float]) -> ChannelOutbound:
    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)

    sender = Sender(
        "whatsapp", ChannelStore(database), provider, RetryPolicy(attempts=4, base_delay=0.5),
        sleep=sleep,
    )  # fmt: skip
    result = asyncio.run(sender.send("+14155550123", REQUEST, inbound_id=None))
    with database.session() as session:
        row = session.execute(
            select(ChannelOutbound).where(ChannelOutbound.id == result.outbound_id)
        ).scalar_one()
    assert row.status == result.status
    return row


def temporary(status: int = 500) -> ProviderError:
    return ProviderError("server error", retryable=True, status=status)


def test_temporary_failures_are_retried_with_growing_waits(channel_database: Database) -> None:
    sleeps: list[float] = []
    provider = ScriptedProvider(temporary(), temporary(503), "SM1")

    row = send(channel_database, provider, sleeps)

    assert (row.status, row.attempts, row.provider_message_id) == ("sent", 3, "SM1")
    assert provider.calls == 3
    assert 0.4 <= sleeps[0] <= 0.6 and 0.8 <= sleeps[1] <= 1.2  # 0.5 s, doubled, ±20 %
    assert row.content == REQUEST.params and row.kind == "text"


def test_permanent_failures_are_not_retried(channel_database: Database) -> None:
    provider = ScriptedProvider(ProviderError("invalid number", retryable=False, status=400))

    row = send(channel_database, provider, [])

    assert (row.status, row.attempts, provider.calls) == ("failed", 1, 1)
    assert row.last_error == "HTTP 400: invalid number"


def test_giving_up_after_the_last_attempt_is_logged(
    channel_database: Database, caplog: pytest.LogCaptureFixture
) -> None:
    provider = ScriptedProvider(*(temporary() for _ in range(4)))

    row = send(channel_database, provider, [])

    assert (row.status, row.attempts) == ("failed", 4)
    assert "gave up sending text message" in caplog.text and "after 4 attempt(s)" in caplog.text


def test_retry_after_is_honoured(channel_database: Database) -> None:
    sleeps: list[float] = []
    limited = ProviderError("slow down", retryable=True, status=429, retry_after=7)

    send(channel_database, ScriptedProvider(limited, "SM1"), sleeps)

    assert sleeps == [7]


def test_an_adapter_bug_is_recorded_not_raised(channel_database: Database) -> None:
    row = send(channel_database, ScriptedProvider(KeyError("body")), [])
    assert row.status == "failed" and "KeyError" in (row.last_error or "")


def test_the_backoff_is_capped() -> None:
    policy = RetryPolicy(base_delay=0.5, max_delay=8.0)
    assert policy.delay(10) <= 8.0 * 1.2
    assert policy.delay(1, retry_after=3600) == policy.max_retry_after


def test_the_origin_is_recorded(channel_database: Database) -> None:
    store = ChannelStore(channel_database)
    sender = Sender("whatsapp", store, ScriptedProvider("SM9"), RetryPolicy())

    result = asyncio.run(sender.send("+14155550123", REQUEST, inbound_id=None, origin="handoff:5"))

    [report] = store.outbound_by_origin("handoff:5")
    assert (report.id, report.status) == (result.outbound_id, "sent")


# ------------------------------------------------------------------ unknown outcomes


def timed_out() -> ProviderError:
    return ProviderError("no answer within 10s", retryable=True, outcome_unknown=True)


class ScriptedReconcile:
    """What the provider says it created since the attempt (or that it cannot tell)."""

    def __init__(self, *answers: Any) -> None:
        self.answers = list(answers)
        self.calls: list[Any] = []

    async def __call__(self, external_id: str, request: ProviderRequest, since: Any) -> list[str]:
        self.calls.append(since)
        answer = self.answers.pop(0)
        if isinstance(answer, BaseException):
            raise answer
        return list(answer)


def send_reconciling(
    database: Database, provider: ScriptedProvider, reconcile: ScriptedReconcile | None
) -> ChannelOutbound:
    async def sleep(seconds: float) -> None:
        pass

    sender = Sender(
        "whatsapp", ChannelStore(database), provider, RetryPolicy(attempts=3), sleep=sleep,
        reconcile=reconcile,
    )  # fmt: skip
    result = asyncio.run(sender.send("+14155550123", REQUEST, inbound_id=None))
    with database.session() as session:
        row = session.get(ChannelOutbound, result.outbound_id)
    assert row is not None and row.status == result.status
    return row


def test_an_unknown_outcome_is_not_repeated_where_the_provider_cannot_be_asked(
    channel_database: Database, caplog: pytest.LogCaptureFixture
) -> None:
    provider = ScriptedProvider(timed_out(), "never used")

    row = send_reconciling(channel_database, provider, None)

    assert (row.status, row.attempts, provider.calls) == ("unknown", 1, 1)
    assert "no answer within 10s" in (row.last_error or "")
    assert f"outcome of message #{row.id} to +14155550123 unknown" in caplog.text


def test_an_unknown_outcome_that_was_carried_out_is_not_repeated(
    channel_database: Database,
) -> None:
    provider = ScriptedProvider(timed_out(), "never used")
    reconcile = ScriptedReconcile(["SMfound"])

    row = send_reconciling(channel_database, provider, reconcile)

    assert (row.status, row.provider_message_id, row.attempts) == ("sent", "SMfound", 1)
    assert provider.calls == 1 and len(reconcile.calls) == 1


def test_an_unknown_outcome_that_was_not_carried_out_is_repeated(
    channel_database: Database,
) -> None:
    provider = ScriptedProvider(timed_out(), timed_out(), "SM3")
    reconcile = ScriptedReconcile([], [])

    row = send_reconciling(channel_database, provider, reconcile)

    assert (row.status, row.provider_message_id, row.attempts) == ("sent", "SM3", 3)
    # Both questions look from the first attempt on: either attempt may have gone out.
    assert reconcile.calls[0] == reconcile.calls[1]


def test_messages_recorded_for_other_sends_do_not_count(channel_database: Database) -> None:
    store = ChannelStore(channel_database)
    earlier = store.new_outbound("whatsapp", "+14155550123", "text", {}, inbound_id=None)
    store.outbound_sent(earlier, "SMearlier")  # the same text, sent a minute ago
    provider = ScriptedProvider(timed_out(), "SMnew")

    row = send_reconciling(channel_database, provider, ScriptedReconcile(["SMearlier"]))

    assert (row.status, row.provider_message_id, provider.calls) == ("sent", "SMnew", 2)


def test_a_provider_that_cannot_tell_leaves_the_outcome_unknown(
    channel_database: Database,
) -> None:
    provider = ScriptedProvider(timed_out(), "never used")
    cannot = ProviderError("listing failed", retryable=False)

    row = send_reconciling(channel_database, provider, ScriptedReconcile(cannot))

    assert (row.status, row.attempts, provider.calls) == ("unknown", 1, 1)


def test_an_unknown_last_attempt_is_asked_about_before_giving_up(
    channel_database: Database,
) -> None:
    provider = ScriptedProvider(timed_out(), timed_out(), timed_out())

    row = send_reconciling(channel_database, provider, ScriptedReconcile([], [], []))
    assert (row.status, row.attempts) == ("failed", 3)

    provider = ScriptedProvider(timed_out(), timed_out(), timed_out())
    row = send_reconciling(channel_database, provider, ScriptedReconcile([], [], ["SMlate"]))
    assert (row.status, row.provider_message_id) == ("sent", "SMlate")


@pytest.mark.parametrize(
    ("header", "seconds"),
    [("3", 3.0), (" 1.5 ", 1.5), ("Tue, 01 Dec 2026 10:00:07 GMT", 7.0), ("-4", 0.0),
     (None, None), ("", None), ("soon", None), ("nan", None)],
)  # fmt: skip
def test_retry_after_headers(header: str | None, seconds: float | None) -> None:
    now = datetime(2026, 12, 1, 10, 0, 0, tzinfo=UTC)
    assert parse_retry_after(header, now=now) == seconds


def test_requests_errors_before_sending_are_told_apart() -> None:
    refused = requests.ConnectionError(
        MaxRetryError(None, "/", NewConnectionError(None, "Connection refused"))  # type: ignore[arg-type]
    )
    aborted = requests.ConnectionError(ProtocolError("Connection aborted.", ConnectionResetError()))
    assert requests_never_sent(refused)
    assert requests_never_sent(requests.ConnectTimeout())
    assert not requests_never_sent(requests.ReadTimeout())
    assert not requests_never_sent(aborted)


def test_a_message_claimed_concurrently_leaves_the_outcome_unknown(
    channel_database: Database,
) -> None:
    class RacingStore(ChannelStore):
        def recorded_provider_ids(self, *args: Any) -> set[str]:
            return set()  # the other send records SMx right after this look

    store = RacingStore(channel_database)
    other = store.new_outbound("whatsapp", "+14155550123", "text", {}, inbound_id=None)
    store.outbound_sent(other, "SMx")

    async def no_sleep(seconds: float) -> None:
        pass

    sender = Sender(
        "whatsapp", store, ScriptedProvider(timed_out()), RetryPolicy(), sleep=no_sleep,
        reconcile=ScriptedReconcile(["SMx"]),
    )  # fmt: skip
    result = asyncio.run(sender.send("+14155550123", REQUEST, inbound_id=None))

    assert result.status == "unknown"


def test_telegram_network_errors_are_told_apart() -> None:
    import httpx
    from telegram.error import NetworkError, TimedOut

    from channels.telegram.client import _network_error

    def caused(error: Exception, cause: Exception) -> Exception:
        error.__cause__ = cause
        return error

    read = _network_error(caused(TimedOut(), httpx.ReadTimeout("slow")))
    pool = _network_error(caused(TimedOut(), httpx.PoolTimeout("busy")))
    refused = _network_error(caused(NetworkError("x"), httpx.ConnectError("refused")))
    dropped = _network_error(caused(NetworkError("x"), httpx.RemoteProtocolError("closed")))
    limited = _network_error(NetworkError("Too Many Requests: retry after 4"))
    bad_gateway = _network_error(NetworkError("Bad Gateway"))

    assert (read.outcome_unknown, dropped.outcome_unknown) == (True, True)
    assert not any(e.outcome_unknown for e in (pool, refused, limited, bad_gateway))
    assert (limited.status, limited.retry_after) == (429, 4.0)
    assert all(e.retryable for e in (read, pool, refused, dropped, limited, bad_gateway))


# ------------------------------------------------------------------ sends a dead process left


@pytest.mark.parametrize(
    ("answer", "status"),
    [
        (["SMfound"], "sent"),  # the provider carried it out: the replay skips it
        ([], "failed"),  # it did not: the replay sends it again
        (ProviderError("Twilio is down", retryable=True), "unknown"),  # cannot tell
        (None, "unknown"),  # the provider cannot be asked at all (Telegram, Messenger)
    ],
)
def test_a_send_left_pending_by_a_dead_process_is_settled(
    channel_database: Database, answer: Any, status: str
) -> None:
    store = ChannelStore(channel_database)
    left = store.new_outbound("whatsapp", "+14155550123", REQUEST.kind, REQUEST.params,
                              inbound_id=None)  # fmt: skip
    reconcile = None if answer is None else ScriptedReconcile(answer)
    sender = Sender("whatsapp", store, ScriptedProvider(), RetryPolicy(), reconcile=reconcile)
    [abandoned] = store.abandoned_sends("whatsapp", datetime.now(UTC))
    assert abandoned.outbound_id == left

    assert asyncio.run(sender.settle_abandoned(abandoned)) == status
    with channel_database.session() as session:
        row = session.get(ChannelOutbound, left)
        assert row is not None and row.status == status
    assert store.abandoned_sends("whatsapp", datetime.now(UTC)) == []
