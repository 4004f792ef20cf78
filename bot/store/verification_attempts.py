"""SQL adapter that counts order verification attempts (bot/store/verification_models.py).

The rule (which limits, how long) is `bot.domain.verification.AttemptLimits`; this module only
records attempts and hands the rule the failure times it needs.

An attempt is *reserved* before the contact is checked: one transaction records it as pending
(a pending attempt counts as a failure) and asks the rule whether the recent failures allow it.
Reservations are serialised, so concurrent attempts from many conversations cannot all pass a
limit they would reach together: on PostgreSQL by a transaction-scoped advisory lock, on
SQLite because the first statement is a write, which takes the database's write lock.
Verification is a few attempts a minute at most, so one lock for all keys costs nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, or_, select, text
from sqlalchemy.orm import Session

from bot.domain.clock import utc_now
from bot.domain.verification import AttemptKeys, AttemptLimits, Lock, Scope
from bot.store.database import Database
from bot.store.verification_models import AttemptOutcome, VerificationAttempt

# Arbitrary but fixed, and different from the migration lock (bot/store/database.py).
_ATTEMPTS_LOCK = 7_302_118_004
#: Attempts are kept this long (for "who tried order 10023?"), then pruned.
RETENTION = timedelta(days=30)
#: Outcomes that count against a limit.
COUNTED = (AttemptOutcome.PENDING, AttemptOutcome.FAILED)


@dataclass(frozen=True)
class Reservation:
    """The outcome of asking to check a contact: go ahead (`attempt_id`) or `lock`."""

    attempt_id: int | None
    lock: Lock | None

    @property
    def allowed(self) -> bool:
        return self.lock is None


class VerificationAttemptStore:
    def __init__(self, database: Database, *, clock: Callable[[], datetime] = utc_now) -> None:
        self._database = database
        self._clock = clock

    def reserve(self, keys: AttemptKeys, limits: AttemptLimits) -> Reservation:
        """Record an attempt at `keys` and say whether it may be checked.

        Allowed: the attempt is pending (counted as a failure) until `finish`. Refused: it is
        recorded as refused (it tests nothing, so it does not count) with the lock that held.
        """
        now = self._clock()
        with self._database.session() as session:
            self._serialise(session)
            attempt = VerificationAttempt(
                order_number=keys.order,
                source=keys.source,
                contact_digest=keys.contact,
                outcome=AttemptOutcome.PENDING,
                created_at=now,
            )
            session.add(attempt)
            session.flush()  # the first write: on SQLite this takes the write lock
            history = self._failures(session, keys, now - limits.longest_window, attempt.id)
            lock = limits.lock(history, now)
            if lock is not None:
                attempt.outcome = AttemptOutcome.REFUSED
                attempt.locked_by = str(lock.scope)
                attempt.finished_at = now
            session.execute(
                delete(VerificationAttempt).where(VerificationAttempt.created_at < now - RETENTION)
            )
            return Reservation(None if lock else attempt.id, lock)

    def finish(self, attempt_id: int, *, verified: bool) -> None:
        """The reserved attempt was checked. A success stays on record but erases nothing."""
        with self._database.session() as session:
            attempt = session.get(VerificationAttempt, attempt_id)
            if attempt is None or attempt.outcome is not AttemptOutcome.PENDING:
                return
            attempt.outcome = AttemptOutcome.VERIFIED if verified else AttemptOutcome.FAILED
            attempt.finished_at = self._clock()

    def lock(self, keys: AttemptKeys, limits: AttemptLimits) -> Lock | None:
        """The lock that holds for `keys` now, without recording anything."""
        now = self._clock()
        with self._database.session() as session:
            return limits.lock(self._failures(session, keys, now - limits.longest_window), now)

    def failures(self, keys: AttemptKeys, since: datetime) -> dict[Scope, list[datetime]]:
        with self._database.session() as session:
            return self._failures(session, keys, since)

    def count(self, *, order_number: str, outcomes: Iterable[AttemptOutcome]) -> int:
        """How many attempts at an order ended in `outcomes` (reports and tests)."""
        with self._database.session() as session:
            return int(
                session.execute(
                    select(func.count())
                    .select_from(VerificationAttempt)
                    .where(
                        VerificationAttempt.order_number == order_number,
                        VerificationAttempt.outcome.in_(list(outcomes)),
                    )
                ).scalar_one()
            )

    # -- internals -------------------------------------------------------------------------------
    def _serialise(self, session: Session) -> None:
        if session.get_bind().dialect.name == "postgresql":
            session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _ATTEMPTS_LOCK})

    @staticmethod
    def _failures(
        session: Session, keys: AttemptKeys, since: datetime, exclude: int | None = None
    ) -> dict[Scope, list[datetime]]:
        columns = {
            Scope.ORDER: VerificationAttempt.order_number,
            Scope.SOURCE: VerificationAttempt.source,
            Scope.CONTACT: VerificationAttempt.contact_digest,
        }
        wanted = keys.items()
        history: dict[Scope, list[datetime]] = {scope: [] for scope in wanted}
        if not wanted:
            return history
        query = select(VerificationAttempt.created_at, *(columns[scope] for scope in wanted)).where(
            VerificationAttempt.created_at >= since,
            VerificationAttempt.outcome.in_(COUNTED),
            or_(*(columns[scope] == key for scope, key in wanted.items())),
        )
        if exclude is not None:
            query = query.where(VerificationAttempt.id != exclude)
        for row in session.execute(query):
            created_at, *values = row
            for (scope, key), value in zip(wanted.items(), values, strict=True):
                if value == key:
                    history[scope].append(created_at)
        return history
