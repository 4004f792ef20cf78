"""The bridge's background workers: deliver the outbox to Slack and to shoppers, follow agents'
replies until the shopper has them, re-alert tickets that wait too long.

Deliveries of one ticket go out strictly in order; a failure holds back that ticket's later
messages (not other tickets') until a retry succeeds. Transient failures (Slack or Rasa down,
rate limits) are retried for as long as it takes, with capped exponential backoff; requests the
other side refuses outright are retried a few times, then parked as failed and logged.

Agents' replies are followed on to the shopper by `ReplyFollower`
(handoff/bridge/reply_follower.py), which the shopper worker runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

from slack_sdk.web.async_client import AsyncWebClient

from bot.domain.backoff import backoff
from bot.domain.clock import utc_now
from bot.settings import HandoffSettings
from handoff.bridge.cards import card_blocks, card_text
from handoff.bridge.rasa_client import RasaClient, RasaRejected, RasaUnavailable
from handoff.bridge.reply_follower import ReplyFollower
from handoff.bridge.slack_gateway import SlackFailure, SlackGateway, classify
from handoff.domain.hours import BusinessHours, sla_deadline
from handoff.domain.ticket import Destination
from handoff.store.outbox import Delivery, Outbox
from handoff.store.receipts import ReplySends
from handoff.store.tickets import TicketStore

logger = logging.getLogger(__name__)

#: Attempts for a request the other side refuses (not an outage) before it is parked.
MAX_REFUSED_ATTEMPTS = 5
HANDOFF_CLOSED_ACTION = "action_handoff_closed"
#: Slack message metadata type of a thread message the outbox posted (its payload: the row id).
DELIVERY_EVENT = "relaydesk_delivery"


#: Wait after a delivery's first failed attempt; it doubles with each further one, up to the
#: worker's `max_backoff`, without jitter.
FIRST_RETRY_DELAY = 0.5


class _Failure(Exception):
    def __init__(self, error: str, transient: bool, retry_after: float | None = None) -> None:
        super().__init__(error)
        self.error, self.transient, self.retry_after = error, transient, retry_after


class OutboxWorker:
    """Delivers one destination's queue; subclasses say how to deliver one row."""

    destination: Destination

    def __init__(self, outbox: Outbox, tickets: TicketStore, *, max_backoff: float) -> None:
        self.outbox = outbox
        self.tickets = tickets
        self.max_backoff = max_backoff

    async def deliver(self, delivery: Delivery) -> None:
        raise NotImplementedError

    async def run_once(self) -> int:
        delivered = 0
        for group in self.outbox.due(self.destination):
            for delivery in group:
                if delivery.next_attempt_at > utc_now():
                    break
                try:
                    await self.deliver(delivery)
                except _Failure as failure:
                    self._failed(delivery, failure)
                    break
                self.outbox.delivered(delivery.id)
                self.on_delivered(delivery)
                delivered += 1
        return delivered

    def _failed(self, delivery: Delivery, failure: _Failure) -> None:
        attempts = delivery.attempts + 1
        if not failure.transient and attempts >= MAX_REFUSED_ATTEMPTS:
            logger.error(
                "%s delivery %s (%s, ticket %s) refused %s times, parked: %s",
                self.destination, delivery.id, delivery.kind, delivery.ticket_id, attempts,
                failure.error,
            )  # fmt: skip
            self.outbox.failed(delivery.id, failure.error)
            self.on_parked(delivery)
            return
        delay = failure.retry_after or backoff(
            attempts, first=FIRST_RETRY_DELAY, cap=self.max_backoff
        )
        logger.warning(
            "%s delivery %s (%s) failed (%s); retry %s in %.1fs",
            self.destination, delivery.id, delivery.kind, failure.error, attempts, delay,
        )  # fmt: skip
        self.outbox.retry_later(delivery.id, failure.error, delay)

    def on_parked(self, delivery: Delivery) -> None:
        """Hook: tell someone a delivery was given up."""

    def on_delivered(self, delivery: Delivery) -> None:
        """Hook: the other side has taken a delivery."""


class SlackWorker(OutboxWorker):
    destination = Destination.SLACK

    def __init__(
        self,
        outbox: Outbox,
        tickets: TicketStore,
        gateway: SlackGateway,
        config: HandoffSettings,
        *,
        max_backoff: float = 30.0,
    ) -> None:
        super().__init__(outbox, tickets, max_backoff=max_backoff)
        self.gateway = gateway
        self.config = config
        # Rows queued before this process started may have been posted by the previous one.
        self._started_at = utc_now()

    async def deliver(self, delivery: Delivery) -> None:
        try:
            await self._deliver(delivery)
        except SlackFailure as failure:
            raise _Failure(failure.error, failure.transient, failure.retry_after) from failure

    async def _deliver(self, delivery: Delivery) -> None:
        ticket = self.tickets.get(delivery.ticket_id)
        if ticket is None:
            return
        payload, kind = delivery.payload, delivery.kind
        if kind in ("card", "card_update") and not (ticket.slack_ts and ticket.slack_channel):
            # Cards are drawn from the ticket as it is now, so posting late loses nothing.
            channels = self.config.slack_channels
            target = channels.get(ticket.route) or channels["general"]
            channel, ts = await self.gateway.post(
                target, card_text(ticket), blocks=card_blocks(ticket)
            )
            self.tickets.set_card(ticket.id, channel, ts)
        elif kind in ("card", "card_update"):
            assert ticket.slack_channel and ticket.slack_ts
            await self.gateway.update(
                ticket.slack_channel, ticket.slack_ts, card_text(ticket), card_blocks(ticket)
            )
        elif kind == "thread":
            if ticket.slack_ts is None or ticket.slack_channel is None:
                raise _Failure("the card is not posted yet", transient=False)
            mark = {"delivery_id": delivery.id}
            if delivery.created_at < self._started_at and await self._already_posted(
                ticket.slack_channel, ticket.slack_ts, mark
            ):
                logger.info("delivery %s is already in the thread (posted before a restart)",
                            delivery.id)  # fmt: skip
                return
            await self.gateway.post(
                ticket.slack_channel, payload["text"], thread_ts=ticket.slack_ts,
                broadcast=bool(payload.get("broadcast")), blocks=payload.get("blocks"),
                metadata={"event_type": DELIVERY_EVENT, "event_payload": mark},
            )  # fmt: skip
        elif kind == "alert":
            await self.gateway.post(payload["channel"], payload["text"])
        elif kind == "ephemeral":
            await self.gateway.ephemeral(payload["channel"], payload["user"], payload["text"])
        elif kind == "prompt":
            await _call(
                self.gateway.client.chat_postEphemeral, channel=payload["channel"],
                user=payload["user"], text=payload["text"], blocks=payload["blocks"],
                thread_ts=payload["thread_ts"],
            )  # fmt: skip
        elif kind == "reaction":
            await self._react(payload)
        else:
            raise _Failure(f"unknown Slack delivery kind {kind!r}", transient=False)

    async def _already_posted(self, channel: str, thread_ts: str, mark: dict[str, Any]) -> bool:
        """A lookup Slack refuses for good (e.g. the app lacks channels:history) must not lose
        the message: it is posted then, at least once, as before."""
        try:
            return await self.gateway.thread_has(channel, thread_ts, DELIVERY_EVENT, mark)
        except SlackFailure as failure:
            if failure.transient:
                raise
            logger.warning("cannot look the thread up (%s); posting the message", failure.error)
            return False

    async def _react(self, payload: dict[str, Any]) -> None:
        """Make the message's reactions say the new state: drop the old, add the new."""
        channel, ts = payload["channel"], payload["ts"]
        try:
            for name in payload.get("remove") or ():
                await _unreact(self.gateway.client, channel, ts, name)
            for name in payload.get("add") or ([payload["name"]] if payload.get("name") else []):
                await self.gateway.react(channel, ts, name)
        except SlackFailure as failure:
            if failure.error != "message_not_found":
                raise
            # The agent deleted their message: nothing left to mark, and retrying would hold
            # back the ticket's later Slack messages.
            logger.info("reaction on a deleted message %s skipped", ts)

    async def run_once(self) -> int:
        delivered = await super().run_once()
        if delivered:
            # Slack answers again: rows waiting out an outage's backoff need not wait longer.
            self.outbox.retry_now(self.destination)
        return delivered


async def _call(method: Any, **arguments: Any) -> Any:
    """A Web API call SlackGateway has no method for, its failures classified the same way."""
    try:
        return await method(**arguments)
    except Exception as error:  # transient ones are retried by the outbox
        raise classify(error) from error


async def _unreact(client: AsyncWebClient, channel: str, ts: str, name: str) -> None:
    try:
        await _call(client.reactions_remove, channel=channel, timestamp=ts, name=name)
    except SlackFailure as failure:
        if failure.error != "no_reaction":  # a retried delivery, or it was never added
            raise


@runtime_checkable
class TimedWork(Protocol):
    """A worker with work due at a time it knows (`run_forever` wakes it then)."""

    def seconds_until_due(self) -> float | None:
        """Seconds until work is due (0: now); None: nothing scheduled."""


class ShopperWorker(OutboxWorker):
    """Sends agents' messages to shoppers and resumes the bot, through Rasa's HTTP API, and
    follows each reply on until the shopper has it (`ReplyFollower`)."""

    destination = Destination.SHOPPER

    def __init__(
        self,
        outbox: Outbox,
        tickets: TicketStore,
        rasa: RasaClient,
        *,
        on_slack_work: Callable[[], None] | None = None,
        max_backoff: float = 10.0,
    ) -> None:
        super().__init__(outbox, tickets, max_backoff=max_backoff)
        self.rasa = rasa
        self._sends = ReplySends(tickets.database)
        self.follower = ReplyFollower(outbox, tickets, self._sends)
        self._slack_work = on_slack_work
        self._started_at = utc_now()

    async def run_once(self) -> int:
        delivered = await super().run_once()
        if self.follower.run_due() and self._slack_work:
            self._slack_work()  # reactions and notices were queued for Slack
        return delivered

    def seconds_until_due(self) -> float | None:
        """The next look at a reply on its way (`TimedWork`): the bridge's loop may otherwise
        sleep for seconds between store writes."""
        return self.follower.seconds_until_due()

    async def deliver(self, delivery: Delivery) -> None:
        ticket = self.tickets.get(delivery.ticket_id)
        if ticket is None:
            return
        payload = delivery.payload
        try:
            if delivery.kind == "say":
                conversation = ticket.conversation_id
                # An earlier attempt, in this process or in one that died before it could mark
                # the row done (a kill -9 between Rasa's answer and the commit), may have got
                # through: look first. New rows of this process need no look.
                tried_before = delivery.attempts or delivery.created_at < self._started_at
                if tried_before and await self._reached_channel(conversation, delivery.id):
                    return
                metadata = {
                    "agent": payload.get("agent"),
                    "handoff_ticket": ticket.id,
                    "handoff_delivery": delivery.id,
                }
                await self.rasa.say(conversation, payload["text"], metadata)
            elif delivery.kind == "close":
                if ticket.status.is_active:
                    return  # escalated again before the bot resumed: it stays with a person
                await self.rasa.execute(ticket.conversation_id, HANDOFF_CLOSED_ACTION)
                self.tickets.mark_resumed(ticket.id)
            else:
                raise _Failure(f"unknown shopper delivery kind {delivery.kind!r}", False)
        except RasaUnavailable as error:
            raise _Failure(str(error), transient=True) from error
        except RasaRejected as error:
            raise _Failure(str(error), transient=False) from error

    async def _reached_channel(self, conversation: str, delivery_id: int) -> bool:
        """Did an earlier attempt of this reply reach the shopper's channel? The provider
        channels record each send (origin "handoff:<id>") before calling the provider, while
        Rasa saves the bot event in the tracker only after its side effects, so a request cut
        short in between (the bridge killed, the connection dropped) leaves only the former;
        the web chat records no sends, so the tracker is asked as well."""
        if await asyncio.to_thread(self._sends.sends, delivery_id):
            return True
        return await self.rasa.delivered(conversation, delivery_id)

    def on_delivered(self, delivery: Delivery) -> None:
        # Rasa took it: from here on, what the shopper's channel says is what counts.
        self._follow(delivery)

    def on_parked(self, delivery: Delivery) -> None:
        self._follow(delivery)

    def _follow(self, delivery: Delivery) -> None:
        if delivery.kind == "say":
            self.outbox.follow(delivery.id)  # only agents' replies are followed (receipt set)
            self.follower.expect()


class SlaWatcher:
    """Re-alerts unclaimed tickets past their priority's target, in the priority channel."""

    def __init__(
        self,
        tickets: TicketStore,
        hours: BusinessHours,
        config: HandoffSettings,
        *,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.tickets = tickets
        self.hours = hours
        self.config = config
        self.clock = clock

    def run_once(self) -> int:
        now, alerted = self.clock(), 0
        for ticket in self.tickets.unclaimed():
            target = self.config.sla_minutes.get(ticket.priority)
            if target is None:
                continue
            due = sla_deadline(ticket.opened_at, target, self.hours, ticket.sla_alerted_at)
            if now < due or not self.tickets.mark_alerted(ticket.id, ticket.sla_alerts, now):
                continue
            alerted += 1
            waited = int((now - ticket.opened_at).total_seconds() // 60)
            text = (
                f"{self.config.slack_alert_mention} :rotating_light: *{ticket.priority} ticket "
                f"#{ticket.id}* ({ticket.route}) has waited {waited} min, past its {target}-minute "
                "target, and nobody has claimed it."
            )
            if ticket.slack_channel and ticket.slack_ts:
                link = f"https://slack.com/archives/{ticket.slack_channel}/p"
                text += f" <{link}{ticket.slack_ts.replace('.', '')}|Open the ticket>"
            logger.warning("SLA: ticket %s (%s) waited %s min", ticket.id, ticket.priority, waited)
            if self.config.slack_enabled:
                channels = self.config.slack_channels
                channel = channels.get("vip") or channels["general"]
                self.tickets.queue_alert(ticket.id, text, channel)
        return alerted


async def run_forever(
    step: Callable[[], Awaitable[int]],
    wake: asyncio.Event,
    stop: asyncio.Event,
    *,
    idle_seconds: float,
    name: str,
) -> None:
    """Run `step` again at once while it finds work, else when woken or after `idle_seconds`
    (other processes, the action server and the CLI, queue work without waking us), or
    earlier when the step's worker has work due at a known time (`TimedWork`, e.g. the next
    look at a reply on its way): a timer, not a poll."""
    owner = getattr(step, "__self__", None)
    timed = owner if isinstance(owner, TimedWork) else None
    while not stop.is_set():
        try:
            busy = await step()
        except Exception:  # a worker must survive anything one round throws
            logger.exception("%s failed; continuing", name)
            busy = 0
            await asyncio.sleep(1)
        if busy:
            continue
        timeout = idle_seconds
        due = timed.seconds_until_due() if timed is not None else None
        if due is not None:
            timeout = max(0.0, min(timeout, due))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(wake.wait(), timeout=timeout)
        wake.clear()
