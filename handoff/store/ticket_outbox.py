"""What ticket changes queue in the outbox (handoff/store/outbox.py): Slack posts, reactions,
prompts and ephemerals, and messages for the shopper, an agent's reply followed until it
arrives.

`TicketOutbox` is a part of `TicketStore` (handoff/store/tickets.py): its commands queue
through these in the same transaction as the change that causes them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from bot.store.database import Database
from handoff.domain.delivery import ReplyState
from handoff.domain.ticket import Destination
from handoff.store.models import HandoffTicket
from handoff.store.outbox import enqueue

logger = logging.getLogger(__name__)


class TicketOutbox:
    """The outbox part of `TicketStore`, which sets `_database`, `_slack` and `_clock`."""

    _database: Database
    _slack: bool
    _clock: Callable[[], datetime]

    def queue_alert(self, ticket_id: int, text: str, channel: str) -> None:
        with self._database.session() as session:
            self._to_slack(session, ticket_id, "alert", text=text, channel=channel)

    def queue_reaction(
        self,
        ticket_id: int,
        message: dict[str, str],
        name: str | None = None,
        *,
        remove: Sequence[str] = (),
    ) -> None:
        """Add a reaction to an agent's Slack message (`message`: channel and ts) and/or take
        others off (a note: a memo; a reply's state: see handoff.domain.delivery)."""
        if self._slack:
            with self._database.session() as session:
                self._to_slack(
                    session, ticket_id, "reaction", **message, add=[name] if name else [],
                    remove=list(remove),
                )  # fmt: skip

    def queue_prompt(
        self,
        ticket_id: int,
        channel: str,
        user: str,
        thread_ts: str,
        text: str,
        blocks: list[dict[str, Any]],
    ) -> None:
        """An ephemeral question with buttons, in the ticket's thread (a held-back message)."""
        if self._slack:
            with self._database.session() as session:
                self._to_slack(
                    session, ticket_id, "prompt", channel=channel, user=user,
                    thread_ts=thread_ts, text=text, blocks=blocks,
                )  # fmt: skip

    def queue_ephemeral(self, ticket_id: int, channel: str, user: str, text: str) -> None:
        """A message only `user` sees in `channel` (refusals, "already claimed")."""
        if self._slack:
            with self._database.session() as session:
                if session.get(HandoffTicket, ticket_id) is None:
                    # A forged or stale button naming no ticket: the outbox row would break
                    # its foreign key after the ack, and bolt would then answer Slack 404.
                    logger.warning("no ticket %s for an ephemeral to %s; not sent", ticket_id, user)
                    return
                self._to_slack(
                    session, ticket_id, "ephemeral", channel=channel, user=user, text=text
                )

    def _to_slack(self, session: Session, ticket_id: int, kind: str, **payload: Any) -> None:
        enqueue(session, ticket_id, Destination.SLACK, kind, payload, now=self._clock())

    def _to_shopper(
        self,
        session: Session,
        ticket_id: int,
        kind: str,
        *,
        receipt: ReplyState | None = None,
        **payload: Any,
    ) -> int:
        row = enqueue(
            session, ticket_id, Destination.SHOPPER, kind, payload, now=self._clock(),
            receipt=receipt,
        )  # fmt: skip
        session.flush()
        return row.id

    def _queue_reply(
        self,
        session: Session,
        ticket_id: int,
        text: str,
        agent_first_name: str | None,
        message_id: int | None,
        slack_ref: dict[str, str] | None,
        **extra: Any,
    ) -> int:
        """An agent's reply for the shopper, followed until it arrives (its `receipt`); its
        Slack message shows that it is queued until the bridge learns more."""
        if self._slack and slack_ref:
            self._to_slack(
                session, ticket_id, "reaction", **slack_ref, name="hourglass_flowing_sand"
            )
        return self._to_shopper(
            session, ticket_id, "say", receipt=ReplyState.QUEUED, text=text,
            agent=agent_first_name, slack_ref=slack_ref, message_id=message_id, **extra,
        )  # fmt: skip
