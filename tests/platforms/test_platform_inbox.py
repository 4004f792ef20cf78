"""bot/store/platform_inbox.py: a webhook is stored once, however often it is delivered, and
worked at least once, whatever crashes in between; on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from bot.store.database import Database
from bot.store.platform_inbox import (
    DEFAULT_LEASE,
    Acceptance,
    IncomingWebhook,
    Outcome,
    PlatformInbox,
)
from bot.store.platform_models import PlatformWebhook, WebhookStatus
from tests.store.conftest import (  # noqa: F401  (fixtures the PostgreSQL databases come from)
    BACKENDS,
    postgres_server,
    scratch_database,
    scratch_postgres,
)

START = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
BODY = '{"id": 820982911946154508, "note": "caf\u00e9 \u2603", "total_price": "11.00"}'
WEBHOOK = IncomingWebhook(
    platform="shopify",
    webhook_id="545ebdd4-b7be-4d3d-b14e-54aa78e0e0f9",
    topic="orders/updated",
    shop_domain="example.myshopify.com",
    api_version="2026-07",
    body=BODY,
    triggered_at=datetime(2025, 7, 10, 16, 15, 47, tzinfo=UTC),
    event_id="59d6d79c-595f-4e7e-bc6f-72f5c3d0c66f",
)


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


@pytest.fixture(params=BACKENDS)
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    with scratch_database(request.param, tmp_path, request) as database:
        database.migrate()
        yield database


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def inbox(database: Database, clock: Clock) -> PlatformInbox:
    return PlatformInbox(database, clock=clock)


def rows(database: Database) -> list[dict[str, Any]]:
    with database.session() as session:
        found = session.execute(select(PlatformWebhook).order_by(PlatformWebhook.id)).scalars()
        return [
            {column.name: getattr(row, column.name) for column in PlatformWebhook.__table__.columns}
            for row in found
        ]


def webhook(number: int) -> IncomingWebhook:
    return replace(WEBHOOK, webhook_id=f"w-{number}", body=f'{{"id": {number}}}')


# ------------------------------------------------------------------ accepting


def test_a_webhook_is_stored_exactly_as_given(inbox: PlatformInbox, database: Database) -> None:
    acceptance = inbox.accept(WEBHOOK)

    assert acceptance.outcome is Outcome.ACCEPTED
    [row] = rows(database)
    assert row["id"] == acceptance.webhook_row_id
    assert row["body"] == BODY  # not re-serialised: byte for byte what was signed
    assert row["body_sha256"] == WEBHOOK.body_sha256
    assert (row["platform"], row["webhook_id"], row["topic"], row["shop_domain"]) == (
        "shopify", WEBHOOK.webhook_id, "orders/updated", "example.myshopify.com"
    )  # fmt: skip
    assert (row["api_version"], row["triggered_at"], row["event_id"]) == (
        "2026-07", WEBHOOK.triggered_at, WEBHOOK.event_id
    )  # fmt: skip
    assert (row["status"], row["attempts"], row["received_at"]) == ("pending", 0, START)
    assert row["last_error"] is row["processed_at"] is row["claimed_at"] is None


@pytest.mark.parametrize(
    ("second", "why"),
    [
        (WEBHOOK, "Shopify's retry: same id, same body"),
        (replace(WEBHOOK, body='{"id": 1}'), "same id, another body: the first one stays"),
        (replace(WEBHOOK, webhook_id="made-up"), "a replay: the signed body under another id"),
        (replace(WEBHOOK, webhook_id="made-up", topic="orders/cancelled"), "replay, new topic"),
        (replace(WEBHOOK, triggered_at=None, event_id=None), "retry with fewer headers"),
    ],
    ids=["retry", "same-id", "replay", "replay-topic", "fewer-headers"],
)
def test_a_second_delivery_is_a_duplicate_and_changes_nothing(
    inbox: PlatformInbox, database: Database, clock: Clock, second: IncomingWebhook, why: str
) -> None:
    first = inbox.accept(WEBHOOK)
    before = rows(database)
    clock.advance(timedelta(minutes=1))

    again = inbox.accept(second)

    assert again == Acceptance(Outcome.DUPLICATE, first.webhook_row_id), why
    assert rows(database) == before, why


def test_other_webhooks_are_separate_rows(inbox: PlatformInbox, database: Database) -> None:
    outcomes = [inbox.accept(webhook(number)).outcome for number in range(3)]
    other_platform = inbox.accept(replace(webhook(0), platform="other"))

    assert outcomes == [Outcome.ACCEPTED] * 3
    assert other_platform.outcome is Outcome.ACCEPTED  # the keys are per platform
    assert len(rows(database)) == 4


def test_concurrent_duplicates_store_one_row(database: Database) -> None:
    # Several workers (or processes) receiving Shopify's retry at once: the unique key decides.
    inboxes = [PlatformInbox(database) for _ in range(6)]
    barrier = threading.Barrier(len(inboxes))
    outcomes: list[Outcome] = []

    def deliver(inbox: PlatformInbox) -> None:
        barrier.wait()
        outcomes.append(inbox.accept(WEBHOOK).outcome)

    threads = [threading.Thread(target=deliver, args=(inbox,)) for inbox in inboxes]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert sorted(outcomes) == [Outcome.ACCEPTED] + [Outcome.DUPLICATE] * 5
    assert len(rows(database)) == 1


# ------------------------------------------------------------------ processing


def test_rows_are_claimed_oldest_first_and_once(inbox: PlatformInbox) -> None:
    for number in range(3):
        inbox.accept(webhook(number))

    claims = [inbox.claim_next("shopify") for _ in range(4)]

    assert [claim.webhook_id if claim else None for claim in claims] == ["w-0", "w-1", "w-2", None]
    assert {claim.attempts for claim in claims if claim} == {1}
    assert inbox.claim_next("other") is None
    assert inbox.counts("shopify")[WebhookStatus.PROCESSING] == 3


def test_a_claim_carries_the_stored_webhook(inbox: PlatformInbox) -> None:
    accepted = inbox.accept(WEBHOOK)

    claim = inbox.claim_next("shopify")

    assert claim is not None
    assert (claim.id, claim.body, claim.topic, claim.event_id, claim.triggered_at) == (
        accepted.webhook_row_id, BODY, WEBHOOK.topic, WEBHOOK.event_id, WEBHOOK.triggered_at
    )  # fmt: skip
    assert (claim.received_at, claim.last_error) == (START, None)


def test_a_done_row_is_not_handed_out_again(
    inbox: PlatformInbox, database: Database, clock: Clock
) -> None:
    inbox.accept(WEBHOOK)
    claim = inbox.claim_next("shopify")
    assert claim is not None
    clock.advance(timedelta(seconds=3))

    assert inbox.mark_done(claim) is True

    [row] = rows(database)
    assert (row["status"], row["processed_at"], row["claimed_at"]) == (
        "done", START + timedelta(seconds=3), None
    )  # fmt: skip
    clock.advance(DEFAULT_LEASE * 10)
    assert inbox.claim_next("shopify") is None
    assert inbox.mark_done(claim) is False  # finishing twice changes nothing


def test_a_retryable_failure_comes_back_when_due(
    inbox: PlatformInbox, database: Database, clock: Clock
) -> None:
    inbox.accept(WEBHOOK)
    first = inbox.claim_next("shopify")
    assert first is not None

    assert inbox.mark_failed(first, "admin API: 503", retry_after=timedelta(minutes=2)) is True

    assert rows(database)[0]["status"] == "pending"
    assert inbox.claim_next("shopify") is None  # not yet due
    clock.advance(timedelta(minutes=2))
    second = inbox.claim_next("shopify")
    assert second is not None
    assert (second.id, second.attempts, second.last_error) == (first.id, 2, "admin API: 503")
    assert inbox.mark_done(second) is True


def test_a_final_failure_stays_failed(
    inbox: PlatformInbox, database: Database, clock: Clock
) -> None:
    inbox.accept(WEBHOOK)
    claim = inbox.claim_next("shopify")
    assert claim is not None

    assert inbox.mark_failed(claim, "x" * 2000) is True

    [row] = rows(database)
    assert (row["status"], row["attempts"], row["processed_at"]) == ("failed", 1, START)
    assert row["last_error"] == "x" * 500  # clipped to the column
    clock.advance(DEFAULT_LEASE * 10)
    assert inbox.claim_next("shopify") is None
    assert inbox.counts("shopify") == {
        WebhookStatus.PENDING: 0,
        WebhookStatus.PROCESSING: 0,
        WebhookStatus.DONE: 0,
        WebhookStatus.FAILED: 1,
    }


def test_a_crash_between_accept_and_processing_loses_nothing(
    database: Database, clock: Clock
) -> None:
    PlatformInbox(database, clock=clock).accept(WEBHOOK)
    # The process dies here. Another one, later, with its own engine on the same database:
    restarted = Database(str(database.url.render_as_string(hide_password=False)))
    try:
        claim = PlatformInbox(restarted, clock=clock).claim_next("shopify")
    finally:
        restarted.dispose()

    assert claim is not None and claim.body == BODY


def test_a_crash_while_processing_hands_the_row_out_again_after_the_lease(
    inbox: PlatformInbox, database: Database, clock: Clock
) -> None:
    inbox.accept(WEBHOOK)
    crashed = inbox.claim_next("shopify")  # ... and its processor is never heard of again
    assert crashed is not None

    clock.advance(DEFAULT_LEASE - timedelta(seconds=1))
    assert inbox.claim_next("shopify") is None  # the lease still holds
    clock.advance(timedelta(seconds=2))
    again = inbox.claim_next("shopify")

    assert again is not None and (again.id, again.attempts) == (crashed.id, 2)
    # The first processor wakes up late: its claim is void and changes nothing.
    assert inbox.mark_done(crashed) is False
    assert inbox.mark_failed(crashed, "late") is False
    assert rows(database)[0]["status"] == "processing"
    assert inbox.mark_done(again) is True
    assert rows(database)[0]["status"] == "done"


def test_concurrent_processors_claim_a_row_once(database: Database) -> None:
    PlatformInbox(database).accept(WEBHOOK)
    inboxes = [PlatformInbox(database) for _ in range(6)]
    barrier = threading.Barrier(len(inboxes))
    claimed: list[int] = []

    def work(inbox: PlatformInbox) -> None:
        barrier.wait()
        claim = inbox.claim_next("shopify")
        if claim is not None:
            claimed.append(claim.id)

    threads = [threading.Thread(target=work, args=(inbox,)) for inbox in inboxes]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert len(claimed) == 1
    assert rows(database)[0]["attempts"] == 1


# ------------------------------------------------------------------ operating


def test_an_operator_retry_puts_failed_rows_back(inbox: PlatformInbox, clock: Clock) -> None:
    for number in (1, 2):
        inbox.accept(webhook(number))
        claim = inbox.claim_next("shopify")
        assert claim is not None
        inbox.mark_failed(claim, "unprocessable: order.id: missing")
    assert inbox.retry_failed("push") == 0
    assert inbox.retry_failed("shopify") == 2
    again = inbox.claim_next("shopify")
    assert again is not None and again.last_error == "unprocessable: order.id: missing"
    assert again.attempts == 2


def test_pruning_deletes_only_processed_rows_past_the_retention(
    inbox: PlatformInbox, clock: Clock
) -> None:
    for number in (1, 2, 3):
        inbox.accept(webhook(number))
    done_early = inbox.claim_next("shopify")
    assert done_early is not None
    inbox.mark_done(done_early)
    clock.advance(timedelta(days=20))
    done_late = inbox.claim_next("shopify")
    assert done_late is not None
    inbox.mark_done(done_late)
    clock.advance(timedelta(days=11))  # the first is 31 days old, the second 11
    assert inbox.prune("shopify", older_than=timedelta(days=30)) == 1
    assert inbox.counts("shopify")[WebhookStatus.DONE] == 1
    assert inbox.counts("shopify")[WebhookStatus.PENDING] == 1  # never pruned
    # Pruned, a late redelivery is stored again (the sync's ordering rule then decides).
    assert inbox.accept(webhook(1)).outcome is Outcome.ACCEPTED
    assert inbox.platforms() == ["shopify"]


def test_the_inbox_command(tmp_path: Path) -> None:
    import subprocess
    import sys

    database = Database(f"sqlite:///{tmp_path / 'cli.db'}")
    database.migrate()
    inbox = PlatformInbox(database)
    inbox.accept(webhook(1))
    claim = inbox.claim_next("shopify")
    assert claim is not None
    inbox.mark_failed(claim, "unprocessable: no order")
    database.dispose()
    env = {"PATH": "/usr/bin:/bin", "DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}"}

    def relaydesk(*args: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "bot.cli", "inbox", *args], env=env, capture_output=True,
            text=True, timeout=60, cwd=Path(__file__).resolve().parents[2], check=True,
        )  # fmt: skip
        return done.stdout

    assert "inbox shopify: pending 0, processing 0, done 0, failed 1" in relaydesk("status")
    assert "1 failed webhooks due again" in relaydesk("retry", "--platform", "shopify")
    assert "pending 1" in relaydesk("status")
    assert "0 processed webhooks over 30 days deleted" in relaydesk("prune")
