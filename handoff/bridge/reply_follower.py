"""Following an agent's reply from Rasa to the shopper, and showing each change in Slack.

Rasa taking a reply is not the shopper having it: the `ReplyFollower` keeps looking at what the
shopper's channel recorded (sent, delivered, read, withheld by WhatsApp's 24-hour rule,
failed) and shows each change on the agent's Slack message, with a way forward when the reply
did not arrive. It looks only while a reply is not in a final state, at growing intervals, and
knows in memory when the next look is due, so an idle bridge makes no query for it. The
shopper worker (handoff/bridge/workers.py) runs it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

from bot.domain.clock import utc_now
from handoff.bridge.cards import reply_notice
from handoff.domain.delivery import (
    Presentation,
    ReplyState,
    ReplyStatus,
    presentation,
    reply_status,
)
from handoff.domain.ticket_views import TicketView
from handoff.store.outbox import FollowUp, Outbox
from handoff.store.receipts import ReplySends
from handoff.store.tickets import TicketStore

logger = logging.getLogger(__name__)


#: Stop following a reply after this long: no report will come any more.
FOLLOW_FOR = timedelta(hours=24)
#: A delivered reply is followed this much longer, for the "read" report.
FOLLOW_DELIVERED_FOR = timedelta(hours=1)
FIRST_LOOK, LONGEST_WAIT = 0.5, 300.0


def next_look(waited: float) -> float:
    """Seconds until the next look at a reply that has been on its way `waited` seconds:
    about doubling the time so far (0.5, 1, 2, 4 ... s), at most 5 minutes."""
    return min(LONGEST_WAIT, max(FIRST_LOOK, waited))


class ReplyFollower:
    """Follows agents' replies from Rasa to the shopper and shows each change in Slack."""

    def __init__(
        self,
        outbox: Outbox,
        tickets: TicketStore,
        sends: ReplySends,
        *,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.outbox = outbox
        self.tickets = tickets
        self.sends = sends
        self.clock = clock
        #: When a followed reply is next due; the first round looks in the store (a restart
        #: resumes what the previous process followed). None: nothing is followed.
        self._due: datetime | None = clock()

    def expect(self) -> None:
        """A reply has just been handed over (or parked): look at it at once."""
        self._due = self.clock()

    def seconds_until_due(self) -> float | None:
        if self._due is None:
            return None
        return max(0.0, (self._due - self.clock()).total_seconds())

    def run_due(self) -> int:
        """Look at every reply that is due; returns how many changed state."""
        now = self.clock()
        if self._due is None or now < self._due:
            return 0
        changed = sum(self._look(item, now) for item in self.outbox.follow_ups())
        self._due = self.outbox.next_follow_up()
        return changed

    def _look(self, item: FollowUp, now: datetime) -> bool:
        ticket = self.tickets.get(item.ticket_id)
        if ticket is None:
            return self.outbox.record_receipt(item.id, item.receipt, ReplyState.UNCONFIRMED, None)
        trail = self.sends.trail(
            item.id, item.status, item.last_error, item.receipt, item.delivered_at,
            ticket.channel, now,
        )  # fmt: skip
        status = reply_status(trail)
        shown = presentation(status)
        age = now - (item.delivered_at or item.created_at)
        horizon = FOLLOW_DELIVERED_FOR if status.state is ReplyState.DELIVERED else FOLLOW_FOR
        settled = shown.final or age >= horizon
        follow_at = None if settled else now + timedelta(seconds=next_look(trail.waited))
        if status.state is item.receipt:
            self.outbox.record_receipt(item.id, item.receipt, status.state, follow_at)
            return False
        slack = self._slack(item, ticket, status, shown) if self.tickets.slack_enabled else []
        if status.state is not ReplyState.QUEUED:
            logger.info(
                "reply %s (ticket %s): %s -> %s", item.id, item.ticket_id, item.receipt,
                status.state,
            )  # fmt: skip
        return self.outbox.record_receipt(item.id, item.receipt, status.state, follow_at, slack)

    @staticmethod
    def _slack(
        item: FollowUp, ticket: TicketView, status: ReplyStatus, shown: Presentation
    ) -> Sequence[tuple[str, dict[str, Any]]]:
        rows: list[tuple[str, dict[str, Any]]] = []
        before = (
            presentation(ReplyStatus(item.receipt, status.channel)).reactions
            if item.receipt
            else ()
        )
        slack_ref = item.payload.get("slack_ref")
        if slack_ref and set(before) != set(shown.reactions):
            add = [name for name in shown.reactions if name not in before]
            remove = [name for name in before if name not in shown.reactions]
            rows.append(("reaction", {**slack_ref, "add": add, "remove": remove}))
        if shown.problem and ticket.slack_ts:
            author = str(item.payload.get("agent") or "an agent")
            text, blocks = reply_notice(item.id, author, str(item.payload.get("text")), shown)
            rows.append(("thread", {"text": text, "blocks": blocks}))
        return rows
