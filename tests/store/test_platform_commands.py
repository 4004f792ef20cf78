"""bot/store/platform_commands.py: one row per natural key however many callers begin it, claims
that only one caller wins, and the states a command moves through; SQLite and PostgreSQL (the
`database` fixture of tests/store/conftest.py)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from bot.store.database import Database
from bot.store.platform_commands import DEFAULT_LEASE, Command, CommandLog
from bot.store.platform_models import CommandStatus, PlatformCommand

START = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
REQUEST = {"order_gid": "gid://shopify/Order/1", "refund": True}


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def log(database: Database, clock: Clock) -> CommandLog:
    return CommandLog(database, clock=clock)


def count(database: Database) -> int:
    with database.session() as session:
        return int(session.execute(select(func.count()).select_from(PlatformCommand)).scalar_one())


def begin(log: CommandLog, key: str = "cancel:1001") -> tuple[Command, bool]:
    return log.begin("shopify", key, "cancel", "1001", REQUEST)


def test_begin_records_a_pending_command_once(log: CommandLog, database: Database) -> None:
    first, created = begin(log)
    assert created
    assert (first.status, first.attempts, first.request) == (CommandStatus.PENDING, 0, REQUEST)
    assert first.created_at == first.updated_at == START
    again, created_again = log.begin("shopify", "cancel:1001", "cancel", "1001", {"other": 1})
    assert not created_again
    assert again.id == first.id and again.request == REQUEST  # the first request is kept
    assert count(database) == 1
    assert log.get("shopify", "cancel:1001") == first
    assert log.get("shopify", "cancel:1002") is None


def test_the_same_key_on_another_platform_is_another_command(log: CommandLog) -> None:
    shopify, _ = begin(log)
    other, created = log.begin("push", "cancel:1001", "cancel", "1001", REQUEST)
    assert created and other.id != shopify.id


def test_concurrent_begins_make_one_row(log: CommandLog, database: Database) -> None:
    barrier = threading.Barrier(6)
    results: list[tuple[Command, bool]] = []
    lock = threading.Lock()

    def run() -> None:
        barrier.wait()
        result = begin(log)
        with lock:
            results.append(result)

    threads = [threading.Thread(target=run) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(created for _, created in results) == 1
    assert len({command.id for command, _ in results}) == 1
    assert count(database) == 1


def test_only_one_of_two_callers_claims_a_command(log: CommandLog) -> None:
    command, _ = begin(log)
    claim = log.claim(command)
    assert claim is not None and (claim.status, claim.attempts) == (CommandStatus.PENDING, 1)
    assert log.claim(command) is None  # read before the claim: its token is old
    assert log.claim(claim) is None  # in flight: claimed within the lease


def test_concurrent_claims_have_one_winner(log: CommandLog) -> None:
    command, _ = begin(log)
    barrier = threading.Barrier(6)
    won: list[Command] = []
    lock = threading.Lock()

    def run() -> None:
        barrier.wait()
        claim = log.claim(command)
        if claim is not None:
            with lock:
                won.append(claim)

    threads = [threading.Thread(target=run) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(won) == 1


@pytest.mark.parametrize(
    ("finish", "status", "response", "error"),
    [
        ("done", CommandStatus.DONE, {"job_id": "gid://shopify/Job/1"}, None),
        ("refused", CommandStatus.REFUSED, None, "Cannot cancel a fulfilled order"),
        ("unknown", CommandStatus.UNKNOWN, None, "ReadTimeout"),
    ],
)
def test_a_claim_is_finished_once(
    log: CommandLog,
    clock: Clock,
    finish: str,
    status: CommandStatus,
    response: dict[str, str] | None,
    error: str | None,
) -> None:
    command, _ = begin(log)
    claim = log.claim(command)
    assert claim is not None
    clock.advance(timedelta(seconds=3))
    if finish == "done":
        assert log.mark_done(claim, response or {})
        assert not log.mark_refused(claim, "late")  # finished already
    elif finish == "refused":
        assert log.mark_refused(claim, error or "")
    else:
        assert log.mark_unknown(claim, error or "")
    stored = log.get("shopify", "cancel:1001")
    assert stored is not None
    assert (stored.status, stored.response, stored.last_error) == (status, response, error)
    assert stored.attempts == 1 and stored.updated_at == START + timedelta(seconds=3)


def test_a_long_error_is_clipped(log: CommandLog) -> None:
    command, _ = begin(log)
    claim = log.claim(command)
    assert claim is not None and log.mark_refused(claim, "x" * 2000)
    stored = log.get("shopify", "cancel:1001")
    assert stored is not None and stored.last_error == "x" * 500


def test_a_dead_callers_claim_is_in_doubt_after_the_lease(log: CommandLog, clock: Clock) -> None:
    command, _ = begin(log)
    claim = log.claim(command)
    assert claim is not None  # ... and the process dies while Shopify is working
    assert claim.in_flight(clock()) and not claim.in_doubt(clock())
    clock.advance(DEFAULT_LEASE + timedelta(seconds=1))
    stored = log.get("shopify", "cancel:1001")
    assert stored is not None and not stored.in_flight(clock()) and stored.in_doubt(clock())
    again = log.claim(stored)
    assert again is not None and again.attempts == 2
    # The first caller, had it lived, can no longer finish: its token is old.
    assert not log.mark_done(claim, {"late": True})
    assert log.mark_done(again, {"job_id": "j"})


@pytest.mark.parametrize(
    ("status", "attempts", "age", "in_flight", "in_doubt"),
    [
        (CommandStatus.PENDING, 0, timedelta(0), False, False),  # recorded, never sent
        (CommandStatus.PENDING, 0, timedelta(hours=1), False, False),
        (CommandStatus.PENDING, 1, timedelta(0), True, False),  # being sent now
        (CommandStatus.PENDING, 1, DEFAULT_LEASE - timedelta(seconds=1), True, False),
        (CommandStatus.PENDING, 1, DEFAULT_LEASE, False, True),  # its sender died
        (CommandStatus.UNKNOWN, 1, timedelta(0), False, True),
        (CommandStatus.DONE, 1, timedelta(0), False, False),
        (CommandStatus.REFUSED, 1, timedelta(0), False, False),
    ],
)
def test_in_flight_and_in_doubt(
    status: CommandStatus, attempts: int, age: timedelta, in_flight: bool, in_doubt: bool
) -> None:
    command = Command(
        id=1, platform="shopify", key="cancel:1", kind="cancel", order_number="1",
        status=status, request={}, response=None, attempts=attempts, last_error=None,
        created_at=START, updated_at=START,
    )  # fmt: skip
    assert command.in_flight(START + age) is in_flight
    assert command.in_doubt(START + age) is in_doubt


@pytest.mark.parametrize(
    ("before", "after"),
    [
        ("never sent", CommandStatus.PENDING),
        ("unknown", CommandStatus.UNKNOWN),
        ("refused", CommandStatus.REFUSED),
        ("dead claim", CommandStatus.UNKNOWN),  # was in doubt: stays in doubt
    ],
)
def test_release_gives_the_claim_back(
    log: CommandLog, clock: Clock, before: str, after: CommandStatus
) -> None:
    command, _ = begin(log)
    if before != "never sent":
        first = log.claim(command)
        assert first is not None
        if before == "unknown":
            log.mark_unknown(first, "timeout")
        elif before == "refused":
            log.mark_refused(first, "no")
        else:
            clock.advance(DEFAULT_LEASE * 2)
    previous = log.get("shopify", "cancel:1001")
    assert previous is not None
    claim = log.claim(previous)
    assert claim is not None
    assert log.release(claim, previous, "Shopify unreachable before sending")
    stored = log.get("shopify", "cancel:1001")
    assert stored is not None
    assert (stored.status, stored.attempts) == (after, previous.attempts)
    assert stored.last_error == "Shopify unreachable before sending"
    assert not stored.in_flight(clock())
    assert not log.release(claim, previous, "twice")  # not ours any more


def test_reads_by_order_and_kind(log: CommandLog) -> None:
    log.begin("shopify", "cancel:1001", "cancel", "1001", {})
    log.begin("shopify", "address:1001:ab", "address", "1001", {})
    log.begin("shopify", "address:1002:cd", "address", "1002", {})
    done, _ = log.begin("shopify", "return:1001:SKU-1", "return", "1001", {})
    claim = log.claim(done)
    assert claim is not None and log.mark_done(claim, {"rma_number": "RMA-1"})
    assert [c.key for c in log.for_order("shopify", "1001")] == [
        "cancel:1001",
        "address:1001:ab",
        "return:1001:SKU-1",
    ]
    assert [c.key for c in log.for_order("shopify", "1001", kind="address")] == ["address:1001:ab"]
    assert [c.key for c in log.of_kind("shopify", "address")] == [
        "address:1001:ab",
        "address:1002:cd",
    ]
    returned = log.of_kind("shopify", "return", status=CommandStatus.DONE)
    assert [c.response for c in returned] == [{"rma_number": "RMA-1"}]
    assert log.for_order("push", "1001") == []


def test_the_request_is_updated_only_under_the_claim(log: CommandLog, clock: Clock) -> None:
    command, _ = begin(log)
    claim = log.claim(command)
    assert claim is not None
    clock.advance(timedelta(seconds=1))
    assert log.update_request(claim, {**REQUEST, "returns_before": ["gid://shopify/Return/1"]})
    stored = log.get("shopify", "cancel:1001")
    assert stored is not None and stored.request["returns_before"] == ["gid://shopify/Return/1"]
    assert stored.updated_at == START + timedelta(seconds=1)  # the lease goes on
    assert log.mark_done(claim, {})
    assert not log.update_request(claim, {"late": True})
    assert not log.update_request(command, {"never": "claimed"})
    again = log.get("shopify", "cancel:1001")
    assert again is not None and "late" not in again.request
