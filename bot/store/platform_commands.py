"""The log of writes relaydesk makes on a store platform (`platform_commands`): a cancellation,
an address change, a return request, each under a natural key, so that it is made once.

    begin(platform, key, kind, order_number, request) -> (command, created)
    claim(command)            -> the command, now ours to send (None: someone else has it)
    mark_done / mark_refused / mark_unknown(claim, ...)   after the platform answered (or not)
    release(claim, previous, note)                         nothing was sent after all

A command's `status` says what is known about it on the platform:

* PENDING with `attempts == 0`: recorded, never sent.
* PENDING with `attempts > 0`: claimed by a caller that is sending it now, or that died while
  sending (the process was killed between the request and the answer). Which of the two is
  told by the lease: a claim older than `lease` is taken to be a dead one, and then it is as
  much in doubt as UNKNOWN.
* UNKNOWN: sent, and no answer came (a timeout, a 5xx): it may have happened.
* DONE: the platform said yes; `response` has what it answered.
* REFUSED: the platform said no (its user errors in `last_error`): nothing happened there.

The log only records; what to do with a command in doubt (read the order on the platform
first, never send it blindly) is the adapter's (bot/platforms/shopify/order_changes.py).

`attempts` is also the claim's token, as in bot/store/platform_inbox.py: every claim moves it
on, and the `mark_*` of a claim whose lease ran out and was taken over changes nothing. It
counts the claims that may have reached the platform (a `release` gives one back).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Boolean, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from bot.domain.clock import utc_now
from bot.store.database import Database, rows_changed
from bot.store.platform_models import CommandStatus, PlatformCommand

#: How long a claim holds. Longer than the longest send: the Admin API client gives up on a
#: mutation after at most 5 attempts of 10 s each with waits of at most 30 s in between.
DEFAULT_LEASE = timedelta(minutes=5)
_ERROR_SIZE = 500

JsonObject = dict[str, Any]


@dataclass(frozen=True)
class Command:
    """One row of the log, as read."""

    id: int
    platform: str
    key: str
    kind: str
    order_number: str
    status: CommandStatus
    request: JsonObject
    response: JsonObject | None
    attempts: int
    last_error: str | None
    created_at: datetime
    updated_at: datetime

    def in_flight(self, now: datetime, lease: timedelta = DEFAULT_LEASE) -> bool:
        """Claimed by a caller that may still be waiting for the platform's answer."""
        return (
            self.status is CommandStatus.PENDING
            and self.attempts > 0
            and self.updated_at > now - lease
        )

    def in_doubt(self, now: datetime, lease: timedelta = DEFAULT_LEASE) -> bool:
        """Sent (maybe) without an answer: UNKNOWN, or a claim whose caller died."""
        if self.status is CommandStatus.UNKNOWN:
            return True
        return (
            self.status is CommandStatus.PENDING
            and self.attempts > 0
            and not self.in_flight(now, lease)
        )


class CommandLog:
    def __init__(
        self,
        database: Database,
        *,
        clock: Callable[[], datetime] = utc_now,
        lease: timedelta = DEFAULT_LEASE,
    ) -> None:
        self._database = database
        self._clock = clock
        self.lease = lease

    def now(self) -> datetime:
        return self._clock()

    # ------------------------------------------------------------------ writing

    def begin(
        self,
        platform: str,
        key: str,
        kind: str,
        order_number: str,
        request: Mapping[str, Any],
    ) -> tuple[Command, bool]:
        """The command under (`platform`, `key`): a new PENDING one (created True), or the one
        recorded before (created False; its first `request` is kept). The unique key decides
        (ON CONFLICT DO NOTHING), so two concurrent callers get one row."""
        now = self._clock()
        values = {
            "platform": platform,
            "key": key,
            "kind": kind,
            "order_number": order_number,
            "status": CommandStatus.PENDING,
            "request": _dump(request),
            "response": None,
            "attempts": 0,
            "last_error": None,
            "created_at": now,
            "updated_at": now,
        }
        with self._database.session() as session:
            created = _insert_ignoring_duplicates(session, values)
            row = _row(session, platform, key)
            assert row is not None  # inserted now or before; rows are never deleted
            return _command(row), created

    def claim(self, command: Command) -> Command | None:
        """Take `command` (as last read) to send it: PENDING, one more attempt. None when it
        is in flight elsewhere or changed since it was read (another caller claimed it)."""
        now = self._clock()
        if command.in_flight(now, self.lease):
            return None
        with self._database.session() as session:
            result = session.execute(
                update(PlatformCommand)
                .where(
                    PlatformCommand.id == command.id,
                    PlatformCommand.attempts == command.attempts,
                    PlatformCommand.status == command.status,
                )
                .values(status=CommandStatus.PENDING, attempts=command.attempts + 1, updated_at=now)
            )
            if rows_changed(result) != 1:
                return None
            row = session.get(PlatformCommand, command.id)
            assert row is not None
            return _command(row)

    def mark_done(self, claim: Command, response: Mapping[str, Any]) -> bool:
        """The platform did it; `response` is what it answered. False (nothing changed) when
        the claim had expired and was taken over."""
        return self._finish(claim, status=CommandStatus.DONE, response=_dump(response), error=None)

    def mark_refused(self, claim: Command, error: str) -> bool:
        """The platform said no (`error`: its words); nothing happened there."""
        return self._finish(claim, status=CommandStatus.REFUSED, response=None, error=error)

    def mark_unknown(self, claim: Command, error: str) -> bool:
        """Sent, and no answer: it may have happened. Whoever takes it next reads first."""
        return self._finish(claim, status=CommandStatus.UNKNOWN, response=None, error=error)

    def update_request(self, claim: Command, request: Mapping[str, Any]) -> bool:
        """Replace what is asked, while `claim` holds (e.g. with what a read before sending
        found, which a later read-after-write compares with). False if the claim is gone."""
        return self._update_claimed(claim, request=_dump(request), updated_at=self._clock())

    def release(self, claim: Command, previous: Command, note: str) -> bool:
        """Nothing was sent under `claim` after all (the platform could not be reached before
        the request, or a check refused it first): back to what `previous` (the command as it
        was claimed) said, except that a command that was in doubt stays in doubt (UNKNOWN)."""
        now = self._clock()
        status = CommandStatus.UNKNOWN if previous.in_doubt(now, self.lease) else previous.status
        return self._update_claimed(
            claim,
            status=status,
            attempts=previous.attempts,
            last_error=note[:_ERROR_SIZE],
            updated_at=now,
        )

    # ------------------------------------------------------------------ reading

    def get(self, platform: str, key: str) -> Command | None:
        with self._database.session() as session:
            row = _row(session, platform, key)
            return None if row is None else _command(row)

    def for_order(
        self, platform: str, order_number: str, *, kind: str | None = None
    ) -> list[Command]:
        """An order's commands, oldest first."""
        wanted = [PlatformCommand.order_number == order_number]
        if kind is not None:
            wanted.append(PlatformCommand.kind == kind)
        return self._listed(platform, wanted)

    def of_kind(
        self, platform: str, kind: str, *, status: CommandStatus | None = None
    ) -> list[Command]:
        """A platform's commands of one kind, oldest first."""
        wanted = [PlatformCommand.kind == kind]
        if status is not None:
            wanted.append(PlatformCommand.status == status)
        return self._listed(platform, wanted)

    def _listed(self, platform: str, wanted: Sequence[ColumnElement[Boolean]]) -> list[Command]:
        query = select(PlatformCommand).where(PlatformCommand.platform == platform, *wanted)
        with self._database.session() as session:
            rows = session.execute(query.order_by(PlatformCommand.id)).scalars()
            return [_command(row) for row in rows]

    # ------------------------------------------------------------------ internals

    def _finish(
        self,
        claim: Command,
        *,
        status: CommandStatus,
        response: str | None,
        error: str | None,
    ) -> bool:
        return self._update_claimed(
            claim,
            status=status,
            response=response,
            last_error=None if error is None else error[:_ERROR_SIZE],
            updated_at=self._clock(),
        )

    def _update_claimed(self, claim: Command, **values: Any) -> bool:
        """Writes `values` only while `claim` still holds (PENDING, same attempt): False when
        the claim ran out and another caller took the command meanwhile."""
        with self._database.session() as session:
            result = session.execute(
                update(PlatformCommand)
                .where(
                    PlatformCommand.id == claim.id,
                    PlatformCommand.attempts == claim.attempts,
                    PlatformCommand.status == CommandStatus.PENDING,
                )
                .values(**values)
            )
            return bool(rows_changed(result) == 1)


def _dump(value: Mapping[str, Any]) -> str:
    return json.dumps(dict(value), sort_keys=True, separators=(",", ":"), default=str)


def _load(text: str | None) -> JsonObject | None:
    if text is None:
        return None
    value = json.loads(text)
    return value if isinstance(value, dict) else {"value": value}


def _row(session: Session, platform: str, key: str) -> PlatformCommand | None:
    return session.execute(
        select(PlatformCommand).where(
            PlatformCommand.platform == platform, PlatformCommand.key == key
        )
    ).scalar_one_or_none()


def _command(row: PlatformCommand) -> Command:
    return Command(
        id=row.id,
        platform=row.platform,
        key=row.key,
        kind=row.kind,
        order_number=row.order_number,
        status=CommandStatus(row.status),
        request=_load(row.request) or {},
        response=_load(row.response),
        attempts=row.attempts,
        last_error=row.last_error,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _insert_ignoring_duplicates(session: Session, values: dict[str, Any]) -> bool:
    """INSERT that skips a row whose (platform, key) exists; True if it inserted. ON CONFLICT
    DO NOTHING on SQLite and PostgreSQL (a duplicate is an outcome, not an error aborting the
    transaction); a savepoint elsewhere."""
    dialect = session.get_bind().dialect.name
    if dialect in ("sqlite", "postgresql"):
        insert = sqlite_insert if dialect == "sqlite" else postgresql_insert
        result = session.execute(insert(PlatformCommand).values(**values).on_conflict_do_nothing())
        return bool(rows_changed(result) == 1)
    try:
        with session.begin_nested():
            session.add(PlatformCommand(**values))
        return True
    except IntegrityError:
        return False


__all__ = ["DEFAULT_LEASE", "Command", "CommandLog", "CommandStatus"]
