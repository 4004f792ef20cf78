"""What the connectors keep in the store: deduplicated deliveries, sends and their outcomes, and
per-conversation state (last inbound time, offered choices). The SQL adapter over
`bot.store.channel_models`; every method is one short transaction.

Synchronous (SQLAlchemy); async callers run it in a worker thread (`asyncio.to_thread`) so a
busy database never stalls the webhook's event loop.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.store.channel_models import (
    ChannelConversation,
    ChannelInbound,
    ChannelOutbound,
    InboundStatus,
    OutboundStatus,
)
from bot.store.database import Database, rows_changed
from channels.core.messages import CHOICE_TOKEN_PREFIX, Button, InboundMessage, utc_now
from channels.core.text import match_choice

logger = logging.getLogger(__name__)

# Twilio's message status progression; a late "sent" must not overwrite "read".
_DELIVERY_RANK = {
    "accepted": 0, "scheduled": 0, "queued": 1, "sending": 2, "sent": 3, "receiving": 3,
    "received": 4, "delivered": 4, "read": 5, "undelivered": 6, "failed": 6, "canceled": 6,
}  # fmt: skip


def _clip(text: str | None, size: int = 500) -> str | None:
    return None if text is None else text[:size]


@dataclass(frozen=True)
class AcceptedDelivery:
    inbound_id: int
    #: The message with a numbered reply or choice token resolved into its button's payload.
    message: InboundMessage
    #: It carried a choice token whose choices have since been replaced.
    stale_choice: bool = False


@dataclass(frozen=True)
class AbandonedSend:
    outbound_id: int
    external_id: str
    kind: str
    content: dict[str, Any]
    created_at: datetime


@dataclass(frozen=True)
class UnfinishedDelivery:
    inbound_id: int
    status: InboundStatus
    message: InboundMessage


@dataclass(frozen=True)
class OutboundReport:
    """The fate of one send, for whoever caused it (`ChannelStore.outbound_by_origin`)."""

    id: int
    status: OutboundStatus
    #: The provider's latest delivery report (Twilio: delivered, read, failed, ...), if any.
    delivery_status: str | None
    last_error: str | None
    delivery_error_code: str | None
    sent_at: datetime | None
    delivery_status_at: datetime | None


@dataclass(frozen=True)
class ConversationWindow:
    last_inbound_at: datetime | None
    template_sent_at: datetime | None


def resolve_choice(
    message: InboundMessage, choices: Sequence[Button]
) -> tuple[InboundMessage, bool]:
    """The message with a picked option turned into its payload; True when a token was stale."""
    if message.payload and message.payload.startswith(CHOICE_TOKEN_PREFIX):
        index = message.payload.removeprefix(CHOICE_TOKEN_PREFIX)
        if index.isdigit() and 1 <= int(index) <= len(choices):
            chosen = choices[int(index) - 1]
            return replace(message, payload=chosen.payload, text=chosen.title), False
        return replace(message, payload=None), True
    if message.payload is None and not message.attachments:
        chosen_button = match_choice(message.text, choices)
        if chosen_button is not None:
            return replace(message, payload=chosen_button.payload), False
    return message, False


class ChannelStore:
    def __init__(self, database: Database, *, clock: Callable[[], datetime] = utc_now) -> None:
        self._database = database
        self._clock = clock

    # ------------------------------------------------------------------ inbound

    def accept(self, message: InboundMessage) -> AcceptedDelivery | None:
        """Records a delivery; None if this provider id was recorded before (a duplicate).

        The unique (channel, provider_message_id) constraint decides, so concurrent
        duplicates in several workers or processes cannot both get through. In the same
        transaction the conversation's last-inbound time is updated and the choices offered
        last are consumed (a numbered reply is resolved against them).
        """
        return self.accept_many([message])[0]

    def accept_many(self, messages: Sequence[InboundMessage]) -> list[AcceptedDelivery | None]:
        """`accept` for several deliveries, in order, in one transaction (one disk flush)."""
        for attempt in (1, 2):
            try:
                with self._database.session() as session:
                    return [self._accept(session, message) for message in messages]
            except IntegrityError:
                # Two first messages of a new conversation inserted its row at once; the
                # retry finds it. (The deliveries themselves never raise: insert-or-ignore.)
                if attempt == 2:
                    raise
        raise AssertionError("unreachable: the second attempt returns or raises")

    def _accept(self, session: Session, message: InboundMessage) -> AcceptedDelivery | None:
        # The insert comes first: on SQLite it takes the write lock, so the reads below see
        # a stable conversation row.
        inserted = _insert_ignoring_duplicates(
            session,
            ChannelInbound,
            {
                "channel": message.channel,
                "provider_message_id": message.provider_message_id,
                "external_id": message.sender_id,
                "message": message.to_json(),
                "status": InboundStatus.RECEIVED,
                "attempts": 0,
                "received_at": message.received_at,
            },
        )
        if not inserted:
            return None
        inbound_id = session.execute(
            select(ChannelInbound.id).where(
                ChannelInbound.channel == message.channel,
                ChannelInbound.provider_message_id == message.provider_message_id,
            )
        ).scalar_one()
        conversation = self._conversation(session, message.channel, message.sender_id)
        if conversation is None:
            conversation = ChannelConversation(
                channel=message.channel, external_id=message.sender_id
            )
            session.add(conversation)
        choices = [Button(**c) for c in conversation.choices or []]
        resolved, stale = resolve_choice(message, choices)
        if message.corrects is None:
            # Choices answer the turn that offered them; the shopper's next message ends it.
            conversation.choices = None
            conversation.last_inbound_at = message.received_at
        if message.profile_name:
            conversation.profile_name = message.profile_name[:200]
        if resolved != message:
            session.execute(
                update(ChannelInbound)
                .where(ChannelInbound.id == inbound_id)
                .values(message=resolved.to_json())
            )
        return AcceptedDelivery(inbound_id, resolved, stale)

    def claim(self, inbound_id: int, *, recovering: bool = False) -> bool:
        """Marks the delivery as being processed; False if someone else has it already."""
        allowed = [InboundStatus.RECEIVED]
        if recovering:
            allowed.append(InboundStatus.PROCESSING)
        with self._database.session() as session:
            result = session.execute(
                update(ChannelInbound)
                .where(ChannelInbound.id == inbound_id, ChannelInbound.status.in_(allowed))
                .values(status=InboundStatus.PROCESSING, attempts=ChannelInbound.attempts + 1)
            )
            return bool(rows_changed(result) == 1)

    def finish(self, inbound_id: int, status: InboundStatus, error: str | None = None) -> None:
        with self._database.session() as session:
            session.execute(
                update(ChannelInbound)
                .where(ChannelInbound.id == inbound_id)
                .values(status=status, finished_at=self._clock(), error=_clip(error))
            )

    def release(self, inbound_id: int) -> None:
        """Puts a claimed delivery back, for a later start-up to process."""
        with self._database.session() as session:
            session.execute(
                update(ChannelInbound)
                .where(ChannelInbound.id == inbound_id)
                .values(status=InboundStatus.RECEIVED)
            )

    def unfinished(self, channel: str, before: datetime) -> list[UnfinishedDelivery]:
        """Deliveries received before `before` (this process's start) and never finished:
        the process that acknowledged them stopped before it was done."""
        with self._database.session() as session:
            rows = session.execute(
                select(ChannelInbound)
                .where(
                    ChannelInbound.channel == channel,
                    ChannelInbound.status.in_([InboundStatus.RECEIVED, InboundStatus.PROCESSING]),
                    ChannelInbound.received_at < before,
                )
                .order_by(ChannelInbound.id)
            ).scalars()
            return [
                UnfinishedDelivery(row.id, row.status, InboundMessage.from_json(row.message))
                for row in rows
            ]

    # ------------------------------------------------------------------ conversations

    def offer_choices(self, channel: str, external_id: str, buttons: Sequence[Button]) -> None:
        """Remembers the options just shown, for the shopper's next message to pick from."""
        choices = [{"title": b.title, "payload": b.payload} for b in buttons]
        self._set_conversation(channel, external_id, choices=choices)

    def window(self, channel: str, external_id: str) -> ConversationWindow:
        with self._database.session() as session:
            conversation = self._conversation(session, channel, external_id)
            if conversation is None:
                return ConversationWindow(None, None)
            return ConversationWindow(conversation.last_inbound_at, conversation.template_sent_at)

    def mark_template_sent(self, channel: str, external_id: str) -> None:
        self._set_conversation(channel, external_id, template_sent_at=self._clock())

    def _set_conversation(self, channel: str, external_id: str, **values: Any) -> None:
        """Sets fields of the conversation, creating it if the shopper never wrote yet."""
        for attempt in (1, 2):
            try:
                with self._database.session() as session:
                    conversation = self._conversation(session, channel, external_id)
                    if conversation is None:
                        conversation = ChannelConversation(channel=channel, external_id=external_id)
                        session.add(conversation)
                    for name, value in values.items():
                        setattr(conversation, name, value)
                return
            except IntegrityError:  # created concurrently; the retry updates it
                if attempt == 2:
                    raise

    @staticmethod
    def _conversation(
        session: Session, channel: str, external_id: str
    ) -> ChannelConversation | None:
        return session.execute(
            select(ChannelConversation).where(
                ChannelConversation.channel == channel,
                ChannelConversation.external_id == external_id,
            )
        ).scalar_one_or_none()

    # ------------------------------------------------------------------ outbound

    def abandoned_sends(self, channel: str, before: datetime) -> list[AbandonedSend]:
        """Sends still `pending` that were recorded before `before` (this process's start):
        the process that made them died during the request, so whether the shopper got them
        is unknown until someone asks."""
        with self._database.session() as session:
            rows = session.execute(
                select(ChannelOutbound)
                .where(
                    ChannelOutbound.channel == channel,
                    ChannelOutbound.status == OutboundStatus.PENDING,
                    ChannelOutbound.created_at < before,
                )
                .order_by(ChannelOutbound.id)
            ).scalars()
            return [
                AbandonedSend(row.id, row.external_id, row.kind, dict(row.content), row.created_at)
                for row in rows
            ]

    def new_outbound(
        self,
        channel: str,
        external_id: str,
        kind: str,
        content: dict[str, Any],
        *,
        inbound_id: int | None,
        status: OutboundStatus = OutboundStatus.PENDING,
        error: str | None = None,
        origin: str | None = None,
    ) -> int:
        """Records a send before its first attempt; `origin` says who caused it when it is not
        the shopper's own turn (e.g. "handoff:<delivery id>", at most 64 characters)."""
        if origin is not None and len(origin) > 64:
            raise ValueError(f"origin is longer than 64 characters: {origin!r}")
        with self._database.session() as session:
            row = ChannelOutbound(
                channel=channel,
                external_id=external_id,
                inbound_id=inbound_id,
                kind=kind,
                content=content,
                status=status,
                attempts=0,
                last_error=_clip(error),
                created_at=self._clock(),
                origin=origin,
            )
            session.add(row)
            session.flush()
            return int(row.id)

    def outbound_attempt_failed(self, outbound_id: int, error: str, *, final: bool) -> None:
        values: dict[str, Any] = {"last_error": _clip(error)}
        if final:
            values["status"] = OutboundStatus.FAILED
        self._update_outbound(outbound_id, values, count_attempt=True)

    def outbound_sent(
        self, outbound_id: int, provider_message_id: str | None, *, count_attempt: bool = True
    ) -> None:
        """The provider took the message. `count_attempt=False` when no new attempt was made
        (an earlier attempt whose answer timed out turned out to have been carried out)."""
        values = {
            "status": OutboundStatus.SENT,
            "provider_message_id": provider_message_id,
            "sent_at": self._clock(),
        }
        self._update_outbound(outbound_id, values, count_attempt=count_attempt)

    def outbound_unknown(self, outbound_id: int, error: str, *, count_attempt: bool = True) -> None:
        """The provider may or may not have carried the send out, and cannot tell us."""
        values = {"status": OutboundStatus.UNKNOWN, "last_error": _clip(error)}
        self._update_outbound(outbound_id, values, count_attempt=count_attempt)

    def outbound_failed(self, outbound_id: int) -> None:
        """Gives up on a send whose last attempt was already recorded."""
        self._update_outbound(outbound_id, {"status": OutboundStatus.FAILED}, count_attempt=False)

    def _update_outbound(
        self, outbound_id: int, values: dict[str, Any], *, count_attempt: bool
    ) -> None:
        if count_attempt:
            values = {**values, "attempts": ChannelOutbound.attempts + 1}
        with self._database.session() as session:
            session.execute(
                update(ChannelOutbound).where(ChannelOutbound.id == outbound_id).values(**values)
            )

    def recorded_provider_ids(
        self, channel: str, external_id: str, provider_message_ids: Sequence[str]
    ) -> set[str]:
        """Which of these provider ids already belong to a recorded send to this shopper."""
        if not provider_message_ids:
            return set()
        with self._database.session() as session:
            return set(
                session.execute(
                    select(ChannelOutbound.provider_message_id).where(
                        ChannelOutbound.channel == channel,
                        ChannelOutbound.external_id == external_id,
                        ChannelOutbound.provider_message_id.in_(list(provider_message_ids)),
                    )
                ).scalars()
            )

    def outbound_by_origin(self, origin: str) -> list[OutboundReport]:
        """Every send recorded with this `origin`, oldest first."""
        with self._database.session() as session:
            rows = session.execute(
                select(ChannelOutbound)
                .where(ChannelOutbound.origin == origin)
                .order_by(ChannelOutbound.id)
            ).scalars()
            return [
                OutboundReport(
                    id=row.id,
                    status=OutboundStatus(row.status),
                    delivery_status=row.delivery_status,
                    last_error=row.last_error,
                    delivery_error_code=row.delivery_error_code,
                    sent_at=row.sent_at,
                    delivery_status_at=row.delivery_status_at,
                )
                for row in rows
            ]

    def record_delivery_status(
        self,
        channel: str,
        provider_message_id: str,
        status: str,
        error_code: str | None,
        *,
        external_id: str | None = None,
    ) -> bool:
        """Applies a provider's status report to the message it concerns.

        Reports arrive out of order (Twilio posts them concurrently), so a report never moves
        a message back ("sent" after "read" is ignored). False if the message is unknown.

        The provider's id identifies a message within (channel, recipient): Twilio SIDs are
        global, so their reports need no `external_id`; with per-recipient ids (Telegram's
        per-chat numbers) a report without the recipient matching several messages is
        ambiguous and applied to none.
        """
        query = select(ChannelOutbound).where(
            ChannelOutbound.channel == channel,
            ChannelOutbound.provider_message_id == provider_message_id,
        )
        if external_id is not None:
            query = query.where(ChannelOutbound.external_id == external_id)
        with self._database.session() as session:
            rows = session.execute(query.limit(2)).scalars().all()
            if not rows:
                return False
            if len(rows) > 1:
                logger.warning(
                    "%s: status %r for %s matches messages to several recipients; not applied",
                    channel, status, provider_message_id,
                )  # fmt: skip
                return True
            row = rows[0]
            current = _DELIVERY_RANK.get(row.delivery_status or "", -1)
            if _DELIVERY_RANK.get(status, 0) >= current:
                row.delivery_status = status
                row.delivery_status_at = self._clock()
                row.delivery_error_code = error_code
            return True


def _insert_ignoring_duplicates(session: Session, model: type[Any], values: dict[str, Any]) -> bool:
    """INSERT that skips a row violating a unique constraint; True if it inserted.

    `ON CONFLICT DO NOTHING` on SQLite and PostgreSQL, so a duplicate is an ordinary outcome
    inside the transaction instead of an error that aborts it; a savepoint elsewhere.
    """
    dialect = session.get_bind().dialect.name
    if dialect in ("sqlite", "postgresql"):
        insert = sqlite_insert if dialect == "sqlite" else postgresql_insert
        result = session.execute(insert(model).values(**values).on_conflict_do_nothing())
        return bool(rows_changed(result) == 1)
    try:
        with session.begin_nested():
            session.add(model(**values))
        return True
    except IntegrityError:
        return False
