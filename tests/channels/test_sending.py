"""The retrying sender: backoff on temporary failures, no retry on permanent ones, every
attempt and the outcome recorded."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import select

from bot.store.channel_models import ChannelOutbound
from bot.store.database import Database
from channels.core.messages import ProviderRequest
from channels.core.sending import ProviderError, RetryPolicy, Sender
from channels.core.store import ChannelStore

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
