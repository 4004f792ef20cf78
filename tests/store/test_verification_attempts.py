"""Counting verification attempts in the store (bot/store/verification_attempts.py), on SQLite
and PostgreSQL: limits across conversations, restarts, concurrent attempts, windows."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from bot.domain.verification import AttemptKeys, AttemptLimits, Lock, Scope
from bot.store.database import Database
from bot.store.verification_attempts import RETENTION, VerificationAttemptStore
from bot.store.verification_models import AttemptOutcome, VerificationAttempt

START = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
LIMITS = AttemptLimits()


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def attempts(database: Database, clock: Clock) -> VerificationAttemptStore:
    return VerificationAttemptStore(database, clock=clock)


def keys(source: str, order: str = "10023", contact: str | None = None) -> AttemptKeys:
    return AttemptKeys(order=order, source=f"rest:{source}", contact=contact)


def fail(store: VerificationAttemptStore, attempt: AttemptKeys) -> None:
    reservation = store.reserve(attempt, LIMITS)
    assert reservation.allowed and reservation.attempt_id is not None
    store.finish(reservation.attempt_id, verified=False)


def outcomes(database: Database) -> dict[str, int]:
    with database.session() as session:
        rows = session.execute(
            select(VerificationAttempt.outcome, func.count()).group_by(VerificationAttempt.outcome)
        ).all()
    return {str(outcome): count for outcome, count in rows}


def test_five_failures_at_an_order_from_five_conversations_lock_it(
    attempts: VerificationAttemptStore, database: Database
) -> None:
    for sender in range(5):
        fail(attempts, keys(f"attacker-{sender}"))

    refused = attempts.reserve(keys("attacker-5"), LIMITS)
    assert refused.attempt_id is None
    assert refused.lock == Lock(Scope.ORDER, START + timedelta(hours=24))
    # The owner, from a new conversation, is refused too: a person helps (docs/self-service.md).
    assert attempts.lock(keys("owner"), LIMITS) == refused.lock
    # Another order is not affected.
    assert attempts.lock(keys("attacker-5", order="10024"), LIMITS) is None
    assert outcomes(database) == {"failed": 5, "refused": 1}


def test_a_refused_attempt_is_recorded_but_not_counted(
    attempts: VerificationAttemptStore, database: Database, clock: Clock
) -> None:
    for sender in range(5):
        fail(attempts, keys(f"s{sender}"))
    for _ in range(20):
        assert not attempts.reserve(keys("hammering"), LIMITS).allowed
    # Hammering a locked order does not extend its lock: it lifts a day after the failures.
    clock.now = START + timedelta(hours=24, seconds=1)
    assert attempts.reserve(keys("later"), LIMITS).allowed
    assert attempts.count(order_number="10023", outcomes=[AttemptOutcome.REFUSED]) == 20


def test_a_success_does_not_reset_the_count(attempts: VerificationAttemptStore) -> None:
    for sender in range(4):
        fail(attempts, keys(f"attacker-{sender}"))
    owner = attempts.reserve(keys("owner"), LIMITS)
    assert owner.attempt_id is not None
    attempts.finish(owner.attempt_id, verified=True)

    fail(attempts, keys("attacker-4"))  # the 5th failure, after the owner's success
    assert attempts.lock(keys("attacker-5"), LIMITS) is not None


def test_a_pending_attempt_counts_as_a_failure(attempts: VerificationAttemptStore) -> None:
    # Reserved but never finished (the action server died mid-check): it cost a try.
    for sender in range(5):
        assert attempts.reserve(keys(f"s{sender}"), LIMITS).allowed
    assert attempts.lock(keys("next"), LIMITS) is not None


def test_the_source_limit_holds_across_orders(attempts: VerificationAttemptStore) -> None:
    for order in range(5):
        fail(attempts, keys("one-sender", order=f"1000{order}"))
    lock = attempts.lock(keys("one-sender", order="10009"), LIMITS)
    assert lock == Lock(Scope.SOURCE, START + timedelta(hours=1))
    assert attempts.lock(keys("another-sender", order="10009"), LIMITS) is None


def test_the_contact_limit_holds_across_orders_and_sources(
    attempts: VerificationAttemptStore,
) -> None:
    for n in range(5):
        fail(attempts, keys(f"s{n}", order=f"1000{n}", contact="digest-of-ava"))
    lock = attempts.reserve(keys("s9", order="10009", contact="digest-of-ava"), LIMITS).lock
    assert lock is not None and lock.scope is Scope.CONTACT
    assert attempts.reserve(keys("s9", order="10009", contact="other"), LIMITS).allowed


def test_counts_survive_a_restart(database: Database, clock: Clock) -> None:
    first = VerificationAttemptStore(database, clock=clock)
    for sender in range(5):
        fail(first, keys(f"s{sender}"))
    # A new process: a new engine on the same database.
    again = Database(database.url.render_as_string(hide_password=False))
    try:
        assert VerificationAttemptStore(again, clock=clock).lock(keys("new"), LIMITS) is not None
    finally:
        again.dispose()


def test_concurrent_attempts_cannot_all_slip_under_the_limit(
    attempts: VerificationAttemptStore, database: Database
) -> None:
    # 20 conversations guessing at the same moment: at most 5 are let through to be checked.
    barrier = threading.Barrier(20)
    results: list[bool] = []
    errors: list[BaseException] = []

    def attempt(n: int) -> None:
        try:
            barrier.wait(timeout=10)
            results.append(attempts.reserve(keys(f"parallel-{n}"), LIMITS).allowed)
        except BaseException as error:  # reported below, not lost in the thread
            errors.append(error)

    threads = [threading.Thread(target=attempt, args=(n,)) for n in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    assert sorted(results) == [False] * 15 + [True] * 5
    assert outcomes(database) == {"pending": 5, "refused": 15}


def test_old_attempts_are_pruned(
    attempts: VerificationAttemptStore, database: Database, clock: Clock
) -> None:
    fail(attempts, keys("old"))
    clock.now = START + RETENTION + timedelta(minutes=1)
    fail(attempts, keys("new"))
    assert outcomes(database) == {"failed": 1}


def test_finishing_twice_changes_nothing(
    attempts: VerificationAttemptStore, database: Database
) -> None:
    reservation = attempts.reserve(keys("s"), LIMITS)
    assert reservation.attempt_id is not None
    attempts.finish(reservation.attempt_id, verified=False)
    attempts.finish(reservation.attempt_id, verified=True)  # a retried call cannot undo it
    attempts.finish(999_999, verified=True)  # unknown: ignored
    assert outcomes(database) == {"failed": 1}
