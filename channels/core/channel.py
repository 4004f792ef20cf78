"""The base of every provider connector: a Rasa `InputChannel` that does

    verify → parse → record the delivery (deduplicated) → answer 200 → process in the background

and the matching `OutputChannel` that renders Rasa's responses and sends them with retries.

A connector subclass supplies only the provider-specific parts: `missing_settings`,
`verify`, `parse`, `acknowledge`, `render`, `transmit` and optionally `prepare_turn`
(typing indicator, answering a Telegram callback) and extra routes.
"""

from __future__ import annotations

import asyncio
import logging
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache, partial
from typing import Any, TypeVar

from rasa.core.channels.channel import InputChannel, OutputChannel, UserMessage
from rasa.shared.core.events import ActiveLoop, Event, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse
from sqlalchemy.exc import SQLAlchemyError

from bot.settings import Settings
from bot.store.channel_models import InboundStatus
from bot.store.database import Database
from channels.core.messages import (
    InboundMessage,
    OutboundMessage,
    ParsedWebhook,
    PayloadError,
    ProviderRequest,
    Rendered,
    StatusReport,
    external_id_of,
    utc_now,
)
from channels.core.sending import RetryPolicy, Sender
from channels.core.store import AcceptedDelivery, ChannelStore

logger = logging.getLogger(__name__)

OnNewMessage = Callable[[UserMessage], Awaitable[Any]]
T = TypeVar("T")
#: Lookups of a status report's message before giving up (0.6 s in all).
STATUS_LOOKUP_ATTEMPTS = 4
# The webhook's store writes get their own threads: in the default executor they would queue
# behind the bookkeeping of every message being processed.
_WEBHOOK_THREADS = ThreadPoolExecutor(max_workers=4, thread_name_prefix="channel-webhooks")
_turn_slots: dict[asyncio.AbstractEventLoop, asyncio.Semaphore] = {}


async def _on_webhook_thread(function: Callable[..., T], *args: Any) -> T:
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(_WEBHOOK_THREADS, partial(function, *args))


def _turns_in_flight(limit: int) -> asyncio.Semaphore:
    """Shared by every connector on the loop (the limit is the same setting for all)."""
    loop = asyncio.get_running_loop()
    if loop not in _turn_slots:
        _turn_slots[loop] = asyncio.Semaphore(limit)
    return _turn_slots[loop]


@cache
def shared_database(url: str) -> Database:
    """One engine per store URL for all connectors in the process."""
    return Database(url)


@dataclass(frozen=True)
class ChannelRuntime:
    """What a connector needs besides its credentials."""

    store: ChannelStore
    #: Base URL providers call us under (PUBLIC_URL): Twilio signs it, callbacks point to it.
    public_url: str
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    #: Messages handed to Rasa at the same time, over all connectors. Rasa runs NLU and the
    #: policies on the event loop itself, so every message in flight puts CPU work in front of
    #: the webhooks' own short steps: beyond a few, throughput does not grow but the
    #: acknowledgements providers wait for get slow. Further messages wait their turn.
    max_turns_in_flight: int = 2

    @classmethod
    def from_settings(cls, settings: Settings) -> ChannelRuntime:
        return cls(
            store=ChannelStore(shared_database(settings.database_url)),
            public_url=settings.public_url.rstrip("/"),
            retry=RetryPolicy(
                attempts=settings.channel_send_attempts,
                base_delay=settings.channel_retry_base_delay,
            ),
            max_turns_in_flight=settings.channel_max_turns_in_flight,
        )


class _ConversationLocks:
    """Per-conversation FIFO locks: messages of one shopper reach Rasa in arrival order even
    though each is processed in its own task (asyncio.Lock wakes waiters in order)."""

    def __init__(self) -> None:
        self._locks: dict[str, asyncio.Lock] = {}
        self._users: dict[str, int] = {}

    @asynccontextmanager
    async def hold(self, key: str) -> AsyncIterator[None]:
        lock = self._locks.setdefault(key, asyncio.Lock())
        self._users[key] = self._users.get(key, 0) + 1
        try:
            async with lock:
                yield
        finally:
            self._users[key] -= 1
            if not self._users[key]:
                del self._users[key], self._locks[key]


class _GroupCommit:
    """Records concurrent webhook deliveries together: whoever arrives while a transaction is
    being written waits for the next one, which takes all of them. On SQLite transactions run
    one at a time, so a burst of deliveries then costs a few transactions instead of a queue of
    one each (measured: a burst of 40 acknowledged in ~0.2 s instead of up to 1.7 s); a lone
    delivery is written at once."""

    def __init__(self, store: ChannelStore) -> None:
        self._store = store
        self._waiting: list[tuple[InboundMessage, asyncio.Future[AcceptedDelivery | None]]] = []
        self._writing = False
        self._writer: asyncio.Future[None] | None = None  # referenced, or the loop may drop it

    async def accept(self, message: InboundMessage) -> AcceptedDelivery | None:
        future: asyncio.Future[AcceptedDelivery | None] = asyncio.get_running_loop().create_future()
        self._waiting.append((message, future))
        if not self._writing:
            self._writing = True
            self._writer = asyncio.ensure_future(self._write())
        return await future

    async def _write(self) -> None:
        try:
            while self._waiting:
                batch, self._waiting = self._waiting, []
                try:
                    results = await _on_webhook_thread(
                        self._store.accept_many, [message for message, _ in batch]
                    )
                except Exception as error:  # each webhook answers for itself (503)
                    for _, future in batch:
                        if not future.done():
                            future.set_exception(error)
                else:
                    for (_, future), result in zip(batch, results, strict=True):
                        if not future.done():
                            future.set_result(result)
        finally:
            self._writing = False


class ProviderInput(InputChannel, ABC):
    """Base of the WhatsApp, Messenger and Telegram input channels."""

    def __init__(self, runtime: ChannelRuntime) -> None:
        self.runtime = runtime
        self._tasks: set[asyncio.Task[Any]] = set()
        self._locks = _ConversationLocks()
        self._started_at: datetime = utc_now()
        self._sender: Sender | None = None
        self._accepts = _GroupCommit(runtime.store)

    # ---------------------------------------------------------------- provider hooks

    @abstractmethod
    def missing_settings(self) -> list[str]:
        """Environment variables still needed before the connector can work."""

    @abstractmethod
    def verify(self, request: Request) -> bool:
        """True if the request provably comes from the provider (signature / secret)."""

    @abstractmethod
    def parse(self, request: Request) -> ParsedWebhook:
        """The webhook body in our terms; raises `PayloadError` if it is malformed."""

    @abstractmethod
    def acknowledge(self) -> HTTPResponse:
        """The fast 200 the provider expects."""

    @abstractmethod
    def render(self, message: OutboundMessage) -> Rendered:
        """A bot response as provider requests (pure)."""

    @abstractmethod
    async def transmit(self, external_id: str, request: ProviderRequest) -> str | None:
        """Performs one provider request; raises `ProviderError`; returns the provider's id."""

    @abstractmethod
    def output_channel(self, inbound_id: int | None) -> ChannelOutput:
        """The output channel for replies to one delivery (None: pushed via Rasa's API)."""

    async def prepare_turn(self, delivery: AcceptedDelivery) -> None:
        """Runs before the message goes to Rasa (typing indicator, ...). Best effort."""

    async def on_stale_choice(self, delivery: AcceptedDelivery) -> None:
        """The shopper tapped an option of a menu that has since been replaced."""

    def add_routes(self, blueprint: Blueprint, on_new_message: OnNewMessage) -> None:
        """Extra provider routes (Messenger's GET handshake, Twilio status callbacks)."""

    # ---------------------------------------------------------------- Rasa integration

    @property
    def store(self) -> ChannelStore:
        return self.runtime.store

    @property
    def sender(self) -> Sender:
        if self._sender is None:
            self._sender = Sender(self.name(), self.store, self.transmit, self.runtime.retry)
        return self._sender

    def get_output_channel(self) -> OutputChannel | None:
        # Lets Rasa's HTTP API (trigger_intent, execute with ?output_channel=<name>) reach
        # shoppers on this channel, e.g. an agent's follow-up.
        return None if self.missing_settings() else self.output_channel(None)

    def blueprint(self, on_new_message: OnNewMessage) -> Blueprint:
        name = self.name()
        blueprint = Blueprint(f"{name}_webhook", __name__)

        @blueprint.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            missing = self.missing_settings()
            if missing:
                return response.json({"status": "unconfigured", "missing": missing})
            return response.json({"status": "ok"})

        @blueprint.route("/webhook", methods=["POST"])
        async def webhook(request: Request) -> HTTPResponse:
            return await self.receive(request, on_new_message)

        @blueprint.listener("after_server_start")
        async def recover(app: Any, _loop: Any) -> None:
            if not self.missing_settings():
                self._spawn(self.recover(app, on_new_message))

        self.add_routes(blueprint, on_new_message)
        return blueprint

    def unconfigured_response(self) -> HTTPResponse:
        missing = ", ".join(self.missing_settings())
        logger.error("%s: webhook called but the channel is not configured (set %s)",
                     self.name(), missing)  # fmt: skip
        return response.json(
            {"error": f"the {self.name()} channel is not configured: set {missing}"}, status=503
        )

    async def receive(self, request: Request, on_new_message: OnNewMessage) -> HTTPResponse:
        name = self.name()
        if self.missing_settings():
            return self.unconfigured_response()
        if not self.verify(request):
            logger.warning("%s: refused a webhook call from %s: bad or missing signature",
                           name, request.ip)  # fmt: skip
            return response.text("invalid signature", status=403)
        try:
            parsed = self.parse(request)
        except PayloadError as error:
            logger.warning("%s: refused a malformed webhook payload (400): %s", name, error)
            return response.json({"error": f"malformed payload: {error}"}, status=400)
        try:
            for report in parsed.statuses:
                await self._record_status(report)
            for message in parsed.messages:
                accepted = await self._accepts.accept(message)
                if accepted is None:
                    logger.info("%s: duplicate delivery %s ignored",
                                name, message.provider_message_id)  # fmt: skip
                    continue
                self._spawn(self.process(accepted, on_new_message, request.app))
        except SQLAlchemyError:
            # Not recorded, so not acknowledged: the provider's redelivery is what we want.
            logger.exception("%s: could not record a webhook delivery; asking for a retry", name)
            return response.json({"error": "temporarily unavailable"}, status=503)
        return self.acknowledge()

    async def _record_status(self, report: StatusReport) -> None:
        # A report can overtake the API response that tells us the message's id (Twilio
        # posts "queued"/"sent" at once), so an unknown id gets a few short second chances.
        for attempt in range(STATUS_LOOKUP_ATTEMPTS):
            if attempt:
                await asyncio.sleep(0.1 * attempt)
            known = await _on_webhook_thread(
                self.store.record_delivery_status,
                self.name(), report.provider_message_id, report.status, report.error_code,
            )  # fmt: skip
            if known:
                return
        logger.info("%s: status %r for unknown message %s",
                    self.name(), report.status, report.provider_message_id)  # fmt: skip

    def _spawn(self, coroutine: Awaitable[Any]) -> None:
        task: asyncio.Task[Any] = asyncio.ensure_future(coroutine)
        self._tasks.add(task)  # the loop keeps only weak references to tasks
        task.add_done_callback(self._tasks.discard)

    async def process(
        self,
        delivery: AcceptedDelivery,
        on_new_message: OnNewMessage,
        app: Any,
        *,
        recovering: bool = False,
    ) -> None:
        """Hands one recorded delivery to Rasa. Never raises: the outcome goes to the store."""
        message, inbound_id, name = delivery.message, delivery.inbound_id, self.name()
        turns = _turns_in_flight(self.runtime.max_turns_in_flight)
        async with self._locks.hold(message.conversation_id), turns:
            try:
                if not await asyncio.to_thread(self.store.claim, inbound_id, recovering=recovering):
                    return
                agent = getattr(app.ctx, "agent", None)
                if agent is not None and not await _wait_until_ready(agent):
                    logger.error("%s: no trained model is loaded; delivery %s kept for the "
                                 "next start", name, message.provider_message_id)  # fmt: skip
                    await asyncio.to_thread(self.store.release, inbound_id)
                    return
                if delivery.stale_choice:
                    await self.on_stale_choice(delivery)
                    await asyncio.to_thread(
                        self.store.finish, inbound_id, InboundStatus.IGNORED, "stale choice"
                    )
                    return
                if message.corrects is not None and not await _undo_corrected_turn(agent, message):
                    # Only the latest message can be corrected; editing older ones changes
                    # nothing the assistant still acts on.
                    await asyncio.to_thread(
                        self.store.finish, inbound_id, InboundStatus.IGNORED,
                        "edit of an earlier message",
                    )  # fmt: skip
                    return
                try:
                    await self.prepare_turn(delivery)
                except Exception:
                    logger.warning("%s: preparing the turn failed", name, exc_info=True)
                await on_new_message(
                    UserMessage(
                        text=message.rasa_text(),
                        output_channel=self.output_channel(inbound_id),
                        sender_id=message.conversation_id,
                        input_channel=name,
                        message_id=message.provider_message_id,
                        metadata=message.rasa_metadata(),
                    )
                )
            except Exception as error:
                logger.exception("%s: processing delivery %s failed",
                                 name, message.provider_message_id)  # fmt: skip
                await _quietly(self.store.finish, inbound_id, InboundStatus.FAILED, repr(error))
            else:
                await _quietly(self.store.finish, inbound_id, InboundStatus.PROCESSED)

    async def recover(self, app: Any, on_new_message: OnNewMessage) -> None:
        """Processes deliveries acknowledged before this process started but never finished.

        One still marked "processing" may have reached Rasa before the process stopped: if
        its user event is in the tracker it is not replayed (that would answer twice).
        """
        name = self.name()
        try:
            unfinished = await asyncio.to_thread(self.store.unfinished, name, self._started_at)
        except SQLAlchemyError:
            logger.exception("%s: could not look for unfinished deliveries", name)
            return
        if unfinished:
            logger.warning("%s: resuming %d unfinished deliveries", name, len(unfinished))
        for item in unfinished:
            if item.status is InboundStatus.PROCESSING and await _reached_tracker(
                getattr(app.ctx, "agent", None), item.message
            ):
                await _quietly(
                    self.store.finish, item.inbound_id, InboundStatus.PROCESSED,
                    "interrupted after reaching the assistant; not replayed",
                )  # fmt: skip
                continue
            delivery = AcceptedDelivery(item.inbound_id, item.message)
            await self.process(delivery, on_new_message, app, recovering=True)

    async def deliver(
        self, external_id: str, message: OutboundMessage, *, inbound_id: int | None
    ) -> None:
        """Renders one bot response and sends it, request by request, in order."""
        rendered = self.render(message)
        if rendered.choices:
            await asyncio.to_thread(
                self.store.offer_choices, self.name(), external_id, rendered.choices
            )
        for request in rendered.requests:
            await self.sender.send(external_id, request, inbound_id=inbound_id)


class ChannelOutput(OutputChannel):
    """Rasa's side of a connector: every response funnels into `ProviderInput.deliver`."""

    def __init__(self, channel: ProviderInput, inbound_id: int | None) -> None:
        self.channel = channel
        self.inbound_id = inbound_id

    async def send_response(self, recipient_id: str, message: dict[str, Any]) -> None:
        # Rasa's default splits text at blank lines into separate messages; channels decide
        # about splitting themselves (by provider limits).
        outbound = OutboundMessage.from_rasa(message, self.name())
        if outbound.is_empty:
            return
        external_id = external_id_of(self.name(), recipient_id)
        await self.channel.deliver(external_id, outbound, inbound_id=self.inbound_id)

    async def send_text_message(self, recipient_id: str, text: str, **kwargs: Any) -> None:
        await self.send_response(recipient_id, {"text": text})

    async def send_image_url(self, recipient_id: str, image: str, **kwargs: Any) -> None:
        await self.send_response(recipient_id, {"image": image})

    async def send_text_with_buttons(
        self, recipient_id: str, text: str, buttons: list[dict[str, Any]], **kwargs: Any
    ) -> None:
        await self.send_response(recipient_id, {"text": text, "buttons": buttons})

    async def send_quick_replies(
        self, recipient_id: str, text: str, quick_replies: list[dict[str, Any]], **kwargs: Any
    ) -> None:
        await self.send_response(recipient_id, {"text": text, "buttons": quick_replies})

    async def send_custom_json(
        self, recipient_id: str, json_message: dict[str, Any], **kwargs: Any
    ) -> None:
        await self.send_response(recipient_id, {"custom": json_message})


async def _quietly(function: Callable[..., Any], *args: Any) -> None:
    """Store bookkeeping after the fact must not turn a handled message into a crash."""
    try:
        await asyncio.to_thread(function, *args)
    except SQLAlchemyError:
        logger.exception("could not record a delivery's outcome")


async def _wait_until_ready(agent: Any, timeout: float = 30.0) -> bool:
    """Rasa silently drops messages while no model is loaded, so look before handing over."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not agent.is_ready():
        if asyncio.get_running_loop().time() > deadline:
            return False
        await asyncio.sleep(0.5)
    return True


async def _undo_corrected_turn(agent: Any, message: InboundMessage) -> bool:
    """Undoes the shopper's latest turn if it is the one `message` corrects.

    The slots and the form state go back to what they were before that message, so the
    corrected text is answered as if the original had never been sent (an edited order number
    is looked up again). Rasa's own `UserUtteranceReverted` cannot do this inside a form: the
    tracker folds a form's steps together, and the rewind then also drops the turn that started
    the form. The superseded events stay in the history. Outside Rasa (the dev server, channel
    tests) there is no tracker and the correction is simply passed on.
    """
    if agent is None:
        return True
    conversation = message.conversation_id
    async with agent.lock_store.lock(conversation):
        tracker = await agent.tracker_store.retrieve(conversation)
        if tracker is None:
            return False
        events = list(tracker.events)
        turns = [i for i, event in enumerate(events) if isinstance(event, UserUttered)]
        if not turns or (events[turns[-1]].metadata or {}).get("message_ref") != message.corrects:
            return False
        before = DialogueStateTracker.from_events(
            conversation, events[: turns[-1]], list(agent.domain.slots)
        )
        undo: list[Event] = [
            SlotSet(name, before.get_slot(name))
            for name in tracker.slots
            if tracker.get_slot(name) != before.get_slot(name)
        ]
        if tracker.active_loop_name != before.active_loop_name:
            undo.append(ActiveLoop(before.active_loop_name))
        for event in undo:
            tracker.update(event)
        await agent.tracker_store.save(tracker)
    return True


async def _reached_tracker(agent: Any, message: InboundMessage) -> bool:
    if agent is None:
        return False
    tracker = await agent.tracker_store.retrieve(message.conversation_id)
    if tracker is None:
        return False
    return any(
        isinstance(event, UserUttered) and event.message_id == message.provider_message_id
        for event in tracker.events
    )


def missing(values: Sequence[tuple[str, str]]) -> list[str]:
    """Names (environment variables) whose value is empty."""
    return [name for name, value in values if not value]
