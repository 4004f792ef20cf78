"""Where an agent's reply stands: the outbox row joined with the sends the shopper's channel
recorded for it (`channel_outbound.origin = "handoff:<delivery id>"`, written by the Rasa
process into the same store). The bridge's `ReplyFollower` and `relaydesk agent show` both
read it here, so Slack and the terminal always say the same. The rules are pure
(handoff.domain.delivery); this module only fetches their input.
"""

from __future__ import annotations

from datetime import datetime

from bot.store.channel_store import ChannelStore
from bot.store.database import Database
from handoff.domain.delivery import ChannelSend, ReplyState, ReplyTrail, origin_of
from handoff.domain.ticket import DeliveryStatus


class ReplySends:
    def __init__(self, database: Database) -> None:
        self._channels = ChannelStore(database)

    def sends(self, delivery_id: int) -> list[ChannelSend]:
        reports = self._channels.outbound_by_origin(origin_of(delivery_id))
        return [
            ChannelSend(r.status, r.delivery_status, r.last_error, r.delivery_error_code)
            for r in reports
        ]

    def trail(
        self,
        delivery_id: int,
        status: DeliveryStatus,
        last_error: str | None,
        receipt: ReplyState | None,
        delivered_at: datetime | None,
        channel: str,
        now: datetime,
    ) -> ReplyTrail:
        taken = status is DeliveryStatus.DELIVERED
        return ReplyTrail(
            outbox_status=str(status),
            outbox_error=last_error,
            channel=channel,
            sends=tuple(self.sends(delivery_id)) if taken else (),
            waited=(now - delivered_at).total_seconds() if taken and delivered_at else 0.0,
            retried=receipt is ReplyState.RETRIED,
        )
