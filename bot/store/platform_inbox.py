"""The store platforms' durable webhook inbox (`platform_webhooks`): a verified webhook is
committed here before the platform gets its 200, and a processor works the rows afterwards,
at least once.

    accept(...)      → "accepted" | "duplicate"      (the endpoint, before answering)
    claim_next(...)  → the oldest claimable row       (the processor)
    mark_done / mark_failed(claim, ...)               (the processor, when it is through)

Nothing is lost in between: a crash after `accept` leaves the row PENDING; a crash while
processing leaves it PROCESSING until its lease (`lease`) runs out, then `claim_next` hands it
out again. So a row may be processed twice, never zero times: processing must be idempotent.
A claim's `attempts` is its token, so the late `mark_done` of a claim that expired and was
handed out again changes nothing.

Synchronous (SQLAlchemy), every method one short transaction; async callers run it in a worker
thread so a busy database never stalls the event loop.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import and_, delete, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.domain.clock import utc_now
from bot.store.database import Database, rows_changed
from bot.store.platform_models import PlatformWebhook, WebhookStatus

#: How long a claim holds before another processor may take the row (a crashed one's).
DEFAULT_LEASE = timedelta(minutes=5)
#: Candidates one `claim_next` tries when other processors win the first ones.
_CLAIM_CANDIDATES = 5
_ERROR_SIZE = 500


class Outcome(StrEnum):
    ACCEPTED = "accepted"
    #: Already in the inbox: the same webhook id (a redelivery) or the same signed body
    #: (a replay); nothing was changed.
    DUPLICATE = "duplicate"


@dataclass(frozen=True)
class IncomingWebhook:
    """A verified webhook as the endpoint hands it over."""

    platform: str
    webhook_id: str
    topic: str
    shop_domain: str
    api_version: str
    #: The raw body, exactly as signed (UTF-8 JSON).
    body: str
    triggered_at: datetime | None = None
    event_id: str | None = None

    @property
    def body_sha256(self) -> str:
        return hashlib.sha256(self.body.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Acceptance:
    outcome: Outcome
    #: The row: the new one, or the one it duplicates.
    webhook_row_id: int


@dataclass(frozen=True)
class ClaimedWebhook:
    """A row handed to a processor; pass it back to `mark_done` or `mark_failed`."""

    id: int
    platform: str
    webhook_id: str
    topic: str
    shop_domain: str
    api_version: str
    body: str
    triggered_at: datetime | None
    event_id: str | None
    received_at: datetime
    #: Claims so far, this one included; the claim's token.
    attempts: int
    #: What the previous attempt failed with, if one did.
    last_error: str | None


class PlatformInbox:
    def __init__(self, database: Database, *, clock: Callable[[], datetime] = utc_now) -> None:
        self._database = database
        self._clock = clock

    @property
    def database(self) -> Database:
        return self._database

    # ------------------------------------------------------------------ intake

    def accept(self, webhook: IncomingWebhook) -> Acceptance:
        """Stores a webhook once; committed when this returns. A second delivery with the
        same webhook id, or with the same body, is a DUPLICATE and changes nothing.

        The unique keys decide (ON CONFLICT DO NOTHING on SQLite and PostgreSQL), so
        concurrent duplicates in several workers or processes cannot both get through.
        """
        digest = webhook.body_sha256
        values = {
            "platform": webhook.platform,
            "webhook_id": webhook.webhook_id,
            "topic": webhook.topic,
            "shop_domain": webhook.shop_domain,
            "api_version": webhook.api_version,
            "triggered_at": webhook.triggered_at,
            "event_id": webhook.event_id,
            "body": webhook.body,
            "body_sha256": digest,
            "received_at": self._clock(),
            "status": WebhookStatus.PENDING,
            "attempts": 0,
        }
        with self._database.session() as session:
            inserted = _insert_ignoring_duplicates(session, values)
            row_id = session.execute(
                select(PlatformWebhook.id)
                .where(
                    PlatformWebhook.platform == webhook.platform,
                    or_(
                        PlatformWebhook.webhook_id == webhook.webhook_id,
                        PlatformWebhook.body_sha256 == digest,
                    ),
                )
                .order_by(PlatformWebhook.id)
                .limit(1)
            ).scalar_one()
        return Acceptance(Outcome.ACCEPTED if inserted else Outcome.DUPLICATE, row_id)

    # ------------------------------------------------------------------ processing

    def claim_next(
        self, platform: str, *, lease: timedelta = DEFAULT_LEASE
    ) -> ClaimedWebhook | None:
        """The oldest row of `platform` that is PENDING (and due), or PROCESSING with a lease
        older than `lease` (its processor died); marked PROCESSING for the caller. None when
        there is nothing to do."""
        now = self._clock()
        claimable = and_(
            PlatformWebhook.platform == platform,
            or_(
                and_(
                    PlatformWebhook.status == WebhookStatus.PENDING,
                    or_(
                        PlatformWebhook.next_attempt_at.is_(None),
                        PlatformWebhook.next_attempt_at <= now,
                    ),
                ),
                and_(
                    PlatformWebhook.status == WebhookStatus.PROCESSING,
                    PlatformWebhook.claimed_at < now - lease,
                ),
            ),
        )
        with self._database.session() as session:
            candidates = session.execute(
                select(PlatformWebhook.id, PlatformWebhook.attempts)
                .where(claimable)
                .order_by(PlatformWebhook.id)
                .limit(_CLAIM_CANDIDATES)
            ).all()
        for row_id, attempts in candidates:
            # Optimistic: the update wins only if nobody claimed the row since the select
            # (the attempt count moves on every claim), on any database and any isolation.
            with self._database.session() as session:
                won = session.execute(
                    update(PlatformWebhook)
                    .where(PlatformWebhook.id == row_id, PlatformWebhook.attempts == attempts)
                    .where(claimable)
                    .values(
                        status=WebhookStatus.PROCESSING,
                        attempts=attempts + 1,
                        claimed_at=now,
                        next_attempt_at=None,
                    )
                )
                if rows_changed(won) != 1:
                    continue
                row = session.get(PlatformWebhook, row_id)
                assert row is not None  # rows are never deleted
                return _claimed(row)
        return None

    def mark_done(self, claim: ClaimedWebhook) -> bool:
        """The row is processed. False (and nothing changed) if the claim expired and the row
        was handed out again meanwhile."""
        return self._finish(
            claim,
            status=WebhookStatus.DONE,
            last_error=None,
            processed_at=self._clock(),
            next_attempt_at=None,
        )

    def mark_failed(
        self, claim: ClaimedWebhook, error: str, *, retry_after: timedelta | None = None
    ) -> bool:
        """Processing failed with `error`. With `retry_after` the row goes back to PENDING and
        is claimable again after that long; without, it is FAILED for good (an operator's
        turn). False (and nothing changed) if the claim had expired and was handed out again."""
        now = self._clock()
        clipped = error[:_ERROR_SIZE]
        if retry_after is None:
            return self._finish(
                claim,
                status=WebhookStatus.FAILED,
                last_error=clipped,
                processed_at=now,
                next_attempt_at=None,
            )
        return self._finish(
            claim,
            status=WebhookStatus.PENDING,
            last_error=clipped,
            processed_at=None,
            next_attempt_at=now + retry_after,
        )

    def _finish(
        self,
        claim: ClaimedWebhook,
        *,
        status: WebhookStatus,
        last_error: str | None,
        processed_at: datetime | None,
        next_attempt_at: datetime | None,
    ) -> bool:
        with self._database.session() as session:
            result = session.execute(
                update(PlatformWebhook)
                .where(
                    PlatformWebhook.id == claim.id,
                    PlatformWebhook.status == WebhookStatus.PROCESSING,
                    PlatformWebhook.attempts == claim.attempts,
                )
                .values(
                    status=status,
                    last_error=last_error,
                    processed_at=processed_at,
                    next_attempt_at=next_attempt_at,
                    claimed_at=None,
                )
            )
            return bool(rows_changed(result) == 1)

    # ------------------------------------------------------------------ looking

    def waiting_since(self, platform: str, since: datetime) -> bool:
        """Whether webhooks of `platform` received after `since` are still waiting (pending or
        being processed): a copy synced at `since` may then be older than what they carry."""
        with self._database.session() as session:
            found = session.execute(
                select(PlatformWebhook.id)
                .where(
                    PlatformWebhook.platform == platform,
                    PlatformWebhook.status.in_((WebhookStatus.PENDING, WebhookStatus.PROCESSING)),
                    PlatformWebhook.received_at > since,
                )
                .limit(1)
            ).first()
            return found is not None

    def retry_failed(self, platform: str) -> int:
        """Puts every FAILED row of `platform` back to PENDING, due now (an operator's retry
        after fixing the cause); returns how many. Their `last_error` stays until they pass."""
        with self._database.session() as session:
            result = session.execute(
                update(PlatformWebhook)
                .where(
                    PlatformWebhook.platform == platform,
                    PlatformWebhook.status == WebhookStatus.FAILED,
                )
                .values(status=WebhookStatus.PENDING, next_attempt_at=None, processed_at=None)
            )
            return rows_changed(result)

    def prune(self, platform: str, *, older_than: timedelta) -> int:
        """Deletes DONE rows of `platform` processed more than `older_than` ago (their bodies
        hold customer data); returns how many. Safe for ordering: a late redelivery of a pruned
        webhook is stored again, and the sync's ordering rule (bot/domain/freshness.py) finds
        the version it carries already applied or older."""
        cutoff = self._clock() - older_than
        with self._database.session() as session:
            result = session.execute(
                delete(PlatformWebhook).where(
                    PlatformWebhook.platform == platform,
                    PlatformWebhook.status == WebhookStatus.DONE,
                    PlatformWebhook.processed_at < cutoff,
                )
            )
            return rows_changed(result)

    def platforms(self) -> list[str]:
        with self._database.session() as session:
            return sorted(
                session.execute(select(PlatformWebhook.platform).distinct()).scalars().all()
            )

    def counts(self, platform: str) -> dict[WebhookStatus, int]:
        """Rows of `platform` per status (every status, zeros included)."""
        counts: dict[WebhookStatus, int] = {status: 0 for status in WebhookStatus}
        with self._database.session() as session:
            rows = session.execute(
                select(PlatformWebhook.status, func.count())
                .where(PlatformWebhook.platform == platform)
                .group_by(PlatformWebhook.status)
            ).all()
        for status, count in rows:
            counts[WebhookStatus(status)] = int(count)
        return counts


def _claimed(row: PlatformWebhook) -> ClaimedWebhook:
    return ClaimedWebhook(
        id=row.id,
        platform=row.platform,
        webhook_id=row.webhook_id,
        topic=row.topic,
        shop_domain=row.shop_domain,
        api_version=row.api_version,
        body=row.body,
        triggered_at=row.triggered_at,
        event_id=row.event_id,
        received_at=row.received_at,
        attempts=row.attempts,
        last_error=row.last_error,
    )


def _insert_ignoring_duplicates(session: Session, values: dict[str, Any]) -> bool:
    """INSERT that skips a row violating either unique key; True if it inserted. ON CONFLICT
    DO NOTHING (no target: both keys) on SQLite and PostgreSQL, so a duplicate is an ordinary
    outcome, not an error aborting the transaction; a savepoint on other databases."""
    dialect = session.get_bind().dialect.name
    if dialect in ("sqlite", "postgresql"):
        insert = sqlite_insert if dialect == "sqlite" else postgresql_insert
        result = session.execute(insert(PlatformWebhook).values(**values).on_conflict_do_nothing())
        return bool(rows_changed(result) == 1)
    try:
        with session.begin_nested():
            session.add(PlatformWebhook(**values))
        return True
    except IntegrityError:
        return False
