"""Turns the assistant could not answer, and deliveries a stopped process left unfinished.

A turn is only done when the assistant really answered it. Rasa carries on when an action
fails (the action server is down: "the actions events are lost") and returns normally, so
`process` watches each turn (channels/core/turn_outcome.py): a turn whose actions failed is
undone (slots and form state back to before the message, as for a corrected message), the
delivery goes back to `received` with the reason in `error` (channels/core/parking.py), the
shopper is told once if the wait is longer than a few seconds, and a retry task waits for the
action server's /health and replays the parked deliveries in arrival order per conversation,
not sending again the responses the shopper already has. While the action server is known to
be down, and behind a parked message of the same conversation, a delivery is parked without
being handed to Rasa.

After a restart, `recover` settles the sends the stopped process left pending and resumes the
deliveries it acknowledged but never finished.

`TurnRecovery` is this half of `ProviderInput` (channels/core/channel.py), kept apart from the
webhook pipeline; it works with the pipeline's `process`, `deliver` and `render` and the
state `ProviderInput.__init__` sets up.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy.exc import SQLAlchemyError

from bot.domain.backoff import backoff
from bot.rasa_plugins.tracker_undo import undo_failed_turn, user_events_of
from bot.store.channel_models import InboundStatus
from bot.store.channel_store import AcceptedDelivery
from channels.core.conversation_locks import ConversationLocks
from channels.core.messages import OutboundMessage
from channels.core.origin import ACTIONS_UNAVAILABLE, TURN_GIVEN_UP, sending_as
from channels.core.parked_deliveries import ParkedDeliveries
from channels.core.parking import ParkState, delivered_requests, park, parked, state_of
from channels.core.replay import Replay, request_key
from channels.core.turn_outcome import ActionServerWatch, TurnOutcome, health_url_of, watch_for

if TYPE_CHECKING:
    from bot.store.channel_store import ChannelStore
    from bot.store.database import Database
    from channels.core.channel import ChannelRuntime, OnNewMessage
    from channels.core.messages import Rendered
    from channels.core.sending import Sender

logger = logging.getLogger(__name__)

#: What a shopper reads when their answer has to wait for the action server.
ACTIONS_UNAVAILABLE_REPLY = "Sorry, I can't look that up right now. I'll answer as soon as I can."
#: What a shopper reads when their message was given up (its actions kept failing although
#: the action server answers: a bug, not an outage).
GIVEN_UP_REPLY = (
    "Sorry, something went wrong on my side and I couldn't finish that. Please try again "
    "in a little while, or ask to talk to a person."
)
#: A parked shopper is told only if the answer has not come within this many seconds: the
#: supervisor restarts a crashed action server within a few seconds, and a notice that
#: arrives together with the real answer is noise; a longer silence reads as being ignored.
NOTICE_DELAY = 5.0
#: Failed attempts while the action server answers its health check before giving up.
MAX_UP_FAILURES = 3
#: Pause between retry rounds that left deliveries parked (doubling, with jitter).
RETRY_MIN_DELAY = 1.0
RETRY_MAX_DELAY = 30.0


async def quietly(function: Callable[..., Any], *args: Any) -> None:
    """Store bookkeeping after the fact must not turn a handled message into a crash."""
    try:
        await asyncio.to_thread(function, *args)
    except SQLAlchemyError:
        logger.exception("could not record a delivery's outcome")


class TurnRecovery:
    """Parks failed turns, tells the waiting shopper, retries once the action server answers,
    and resumes what a stopped process left unfinished. Mixed into `ProviderInput`."""

    # Set by ProviderInput.__init__.
    runtime: ChannelRuntime
    _parked: ParkedDeliveries
    _locks: ConversationLocks
    _notices: dict[str, asyncio.Future[None]]
    _retry_task: asyncio.Future[None] | None
    _app: Any
    _on_new_message: OnNewMessage | None
    _started_at: datetime

    if TYPE_CHECKING:
        # What the webhook pipeline (ProviderInput) supplies.
        def name(self) -> str: ...

        @property
        def store(self) -> ChannelStore: ...

        @property
        def database(self) -> Database: ...

        @property
        def sender(self) -> Sender: ...

        def render(self, message: OutboundMessage) -> Rendered: ...

        async def process(
            self,
            delivery: AcceptedDelivery,
            on_new_message: OnNewMessage,
            app: Any,
            *,
            recovering: bool = False,
        ) -> None: ...

        async def deliver(
            self, external_id: str, message: OutboundMessage, *, inbound_id: int | None
        ) -> None: ...

    def _watch(self, app: Any) -> ActionServerWatch | None:
        """The action server Rasa calls (its agent's action endpoint), else the configured."""
        agent = getattr(getattr(app, "ctx", None), "agent", None)
        url = getattr(getattr(agent, "action_endpoint", None), "url", None)
        health = health_url_of(url) if url else self.runtime.action_health_url
        return watch_for(health) if health else None

    async def _after_failed_turn(
        self,
        delivery: AcceptedDelivery,
        agent: Any,
        watch: ActionServerWatch | None,
        turn: TurnOutcome,
        crashed: Exception | None,
        prior: ParkState | None,
    ) -> bool:
        """Undoes and parks a turn whose actions failed; False leaves it to the caller (an
        ordinary crash while the action server answers: `failed`, as before)."""
        message, inbound_id, name = delivery.message, delivery.inbound_id, self.name()
        up = await watch.healthy() if watch is not None else True
        if crashed is not None and not turn.failed and up:
            return False
        reason = turn.describe() if turn.failed else f"{type(crashed).__name__}: {crashed}"
        undone = await undo_failed_turn(agent, message)
        up_failures = (prior.up_failures if prior else 0) + (1 if up else 0)
        if up_failures >= MAX_UP_FAILURES:
            logger.error("%s: gave up delivery %s after %d failed attempts although the action "
                         "server answers: %s", name, message.provider_message_id, up_failures,
                         reason)  # fmt: skip
            self._parked.discard(message.conversation_id, inbound_id)
            await self._tell(message.sender_id, GIVEN_UP_REPLY, TURN_GIVEN_UP, inbound_id)
            await quietly(
                self.store.finish, inbound_id, InboundStatus.FAILED,
                f"gave up after {up_failures} failed attempts: {reason}",
            )  # fmt: skip
            return True
        logger.warning("%s: the actions of delivery %s did not run (%s); the turn is undone and "
                       "the delivery kept for a retry", name, message.provider_message_id,
                       reason)  # fmt: skip
        state = ParkState(undone, prior.told if prior else False, up_failures, reason)
        await self._park(delivery, state)
        return True

    async def _park(self, delivery: AcceptedDelivery, state: ParkState) -> None:
        message = delivery.message
        await asyncio.to_thread(park, self.database, delivery.inbound_id, state)
        self._parked.add(message.conversation_id, delivery.inbound_id, state)
        self._ensure_retrying()
        self._schedule_notice(message.conversation_id, message.sender_id)

    async def _replay_for(self, inbound_id: int) -> Replay:
        delivered = await asyncio.to_thread(delivered_requests, self.database, inbound_id)
        # Our own notices are not the assistant's responses (with an origin recorded they are
        # left out already; this is for connectors that do not record it).
        notices = {
            request_key(r.kind, r.params)
            for text in (ACTIONS_UNAVAILABLE_REPLY, GIVEN_UP_REPLY)
            for r in self.render(OutboundMessage(text=text)).requests
        }
        return Replay([(k, p) for k, p in delivered if request_key(k, p) not in notices])

    async def _tell(self, external_id: str, text: str, origin: str, inbound_id: int) -> None:
        with sending_as(origin):
            await self.deliver(external_id, OutboundMessage(text=text), inbound_id=inbound_id)

    def _schedule_notice(self, conversation: str, external_id: str) -> None:
        if self._parked.told(conversation) or conversation in self._notices:
            return
        self._notices[conversation] = asyncio.ensure_future(
            self._notice_later(conversation, external_id)
        )

    async def _notice_later(self, conversation: str, external_id: str) -> None:
        """Tells the shopper, once, that the answer has to wait, if it still has to after
        NOTICE_DELAY seconds."""
        try:
            await asyncio.sleep(NOTICE_DELAY)
            async with self._locks.hold(conversation):  # not in the middle of a retry's answer
                waiting = self._parked.waiting(conversation)
                if not waiting or self._parked.told(conversation):
                    return
                await self._tell(
                    external_id, ACTIONS_UNAVAILABLE_REPLY, ACTIONS_UNAVAILABLE, waiting[0]
                )
                for inbound_id, state in self._parked.mark_told(conversation):
                    await asyncio.to_thread(park, self.database, inbound_id, state)
        except Exception:
            logger.exception("%s: could not tell %s about the wait", self.name(), conversation)
        finally:
            self._notices.pop(conversation, None)

    def _ensure_retrying(self) -> None:
        if self._retry_task is None or self._retry_task.done():
            self._retry_task = asyncio.ensure_future(self._retry_parked())

    async def _retry_parked(self) -> None:
        """Replays the parked deliveries once the action server answers its health check, in
        arrival order per conversation (each waits for its conversation's lock, which wakes
        in order); rounds that leave some parked are followed by a growing pause. Ends when
        nothing is parked."""
        name, rounds = self.name(), 0  # rounds in a row that failed or left some parked
        while True:
            try:
                generation = self._parked.generation
                watch = self._watch(self._app)
                if watch is not None:
                    await watch.wait_until_up()
                waiting = await asyncio.to_thread(parked, self.database, name)
                if not waiting:
                    if generation == self._parked.generation:
                        return
                    continue
                logger.info("%s: retrying %d deliveries that waited for the action server",
                            name, len(waiting))  # fmt: skip
                assert self._on_new_message is not None
                await asyncio.gather(
                    *(
                        self.process(
                            AcceptedDelivery(item.inbound_id, item.message),
                            self._on_new_message,
                            self._app,
                        )
                        for item in waiting
                    )
                )
                if not await asyncio.to_thread(parked, self.database, name):
                    rounds = 0
                    continue
            except Exception:
                logger.exception("%s: retrying parked deliveries failed", name)
            rounds += 1
            await asyncio.sleep(
                backoff(rounds, first=RETRY_MIN_DELAY, cap=RETRY_MAX_DELAY, jitter=0.2)
            )

    async def recover(self, app: Any, on_new_message: OnNewMessage) -> None:
        """Processes deliveries acknowledged before this process started but never finished,
        parked ones included (they wait for the action server like any parked delivery).

        One still marked "processing" may have reached Rasa before the process stopped: if
        the tracker holds more of its user events than its undone attempts, the latest attempt
        did, and it is not replayed (that would answer twice).
        """
        name = self.name()
        self._app, self._on_new_message = app, on_new_message
        await self._settle_abandoned_sends()
        try:
            unfinished = await asyncio.to_thread(self.store.unfinished, name, self._started_at)
        except SQLAlchemyError:
            logger.exception("%s: could not look for unfinished deliveries", name)
            return
        if not unfinished:
            return
        logger.warning("%s: resuming %d unfinished deliveries", name, len(unfinished))
        watch = self._watch(app)
        if watch is not None:
            await watch.healthy()  # while it is down, deliveries are parked, not run
        agent = getattr(app.ctx, "agent", None)
        for item in unfinished:
            if item.status is InboundStatus.PROCESSING:
                try:
                    state = await asyncio.to_thread(state_of, self.database, item.inbound_id)
                    reached = await user_events_of(agent, item.message)
                except Exception:
                    logger.exception("%s: could not check delivery %s", name, item.inbound_id)
                    continue
                if reached > (state.undone if state else 0):
                    await quietly(
                        self.store.finish, item.inbound_id, InboundStatus.PROCESSED,
                        "interrupted after reaching the assistant; not replayed",
                    )  # fmt: skip
                    continue
            delivery = AcceptedDelivery(item.inbound_id, item.message)
            await self.process(delivery, on_new_message, app, recovering=True)

    async def _settle_abandoned_sends(self) -> None:
        """Sends a dead process left `pending` are settled before any turn is replayed: the
        replay skips what the shopper may have (`sent`, `unknown`) and sends what was not
        carried out (`failed`)."""
        name = self.name()
        try:
            abandoned = await asyncio.to_thread(self.store.abandoned_sends, name, self._started_at)
        except SQLAlchemyError:
            logger.exception("%s: could not look for sends left pending", name)
            return
        for send in abandoned:
            try:
                status = await self.sender.settle_abandoned(send)
            except Exception:
                logger.exception("%s: could not settle send #%d", name, send.outbound_id)
                continue
            logger.warning("%s: send #%d was left pending by a stopped process: now %s",
                           name, send.outbound_id, status.value)  # fmt: skip
