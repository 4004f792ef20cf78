"""``bot.platforms.push.webhook_input.StorePushInput``: pushes from any shop system in.

Like the Shopify intake, not a messaging channel: it never produces a `UserMessage`. It is an
`InputChannel` because Rasa's web server (the one public server) mounts each credentials.yml
entry under `/webhooks/<name>/`:

    POST /webhooks/store_push/webhook   (X-Relaydesk-Signature, X-Relaydesk-Delivery)
    GET  /webhooks/store_push/          {"status": "ok"} or which variable is missing

What a POST gets (docs/store-push-webhook.md has the same table):

- 503 while STORE_PUSH_SECRET is empty, or when the store cannot be written;
- 413 for a body over `MAX_BODY_BYTES`;
- 401 without a valid signature over the timestamp and raw body, or with a timestamp too far
  from our clock; one answer for every such case, and nothing is stored;
- 400 for a signed push without a usable X-Relaydesk-Delivery, or whose body is not UTF-8 JSON;
- 422 {"error": ..., "problems": [...]} for signed JSON that is not a valid push: validated
  here, before storing, so the sender learns of its mistake now, not from a failed row later;
- 200 {"status": "accepted"} once committed to the inbox (platform "push"), never before;
- 200 {"status": "duplicate"} for a delivery id or a body already there (a retry, a replay).

With the secret set, the blueprint also starts the inbox worker that applies the stored pushes
(worker.py) when the server starts.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from rasa.core.channels.channel import InputChannel, OutputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse
from sqlalchemy.exc import SQLAlchemyError

from bot.platforms.inbox_worker import InboxWorker, run_with_server
from bot.platforms.push.handler import PLATFORM
from bot.platforms.push.records import FORMAT_VERSION, PushBodyError, parse_body
from bot.platforms.push.signing import PushRefused, SignedDelivery, verify_delivery
from bot.platforms.push.worker import push_worker
from bot.settings import StorePushSettings, process_settings
from bot.store.platform_inbox import Acceptance, IncomingWebhook, PlatformInbox
from channels.core.channel import shared_database, webhook_blueprint
from channels.core.connector import with_credentials
from channels.core.group_commit import on_webhook_thread

logger = logging.getLogger(__name__)

OnNewMessage = Callable[[UserMessage], Awaitable[Any]]
CHANNEL = "store_push"
#: The inbox's topic for every push (the records say what they are).
TOPIC = "records"
#: Bigger bodies are refused (413); MAX_RECORDS orders with their parcels fit well within.
MAX_BODY_BYTES = 5 * 1024 * 1024
UNAUTHORISED = {"error": "invalid signature"}


@dataclass(frozen=True)
class _Refusal:
    """A signed push that is not stored, and why."""

    status: int
    answer: dict[str, Any]


class StorePushInput(InputChannel):
    """Signed pushes into the durable inbox (see the module docstring). Rasa builds it from
    credentials.yml; it produces no messages for the assistant."""

    @classmethod
    def name(cls) -> str:
        return CHANNEL

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> InputChannel:
        # The settings section, unless the credentials.yml entry names values of its own.
        settings = process_settings()
        config = with_credentials(settings.store_push, credentials)
        database = shared_database(settings.database_url)
        worker = push_worker(database, retention_days=settings.platform_inbox_retention_days)
        return cls(config, PlatformInbox(database), worker=worker)

    def __init__(
        self,
        config: StorePushSettings,
        inbox: PlatformInbox,
        *,
        worker: InboxWorker | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.config = config
        self.inbox = inbox
        #: Applies what the intake stores; None: someone else runs it (tests, another process).
        self.worker = worker
        self._clock = clock

    def missing_settings(self) -> list[str]:
        return [] if self.config.secret else ["STORE_PUSH_SECRET"]

    def blueprint(self, on_new_message: OnNewMessage) -> Blueprint:
        blueprint = webhook_blueprint(self, on_new_message)
        # Unconfigured, nothing can arrive: no thread polling an inbox that stays empty.
        worker = self.worker
        if worker is not None and not self.missing_settings():
            run_with_server(blueprint, lambda: worker)
        return blueprint

    def get_output_channel(self) -> OutputChannel | None:
        return None  # nobody to talk to

    async def receive(self, request: Request, on_new_message: OnNewMessage) -> HTTPResponse:
        """Verifies, validates, stores, answers; `on_new_message` is never called."""
        if self.missing_settings():
            logger.error("store_push: a push arrived but STORE_PUSH_SECRET is not set")
            return response.json(
                {"error": "the push webhook is not configured: set STORE_PUSH_SECRET"}, status=503
            )
        body: bytes = request.body or b""
        if len(body) > MAX_BODY_BYTES:
            logger.error("store_push: refused a push of %d bytes (limit %d)", len(body),
                         MAX_BODY_BYTES)  # fmt: skip
            return response.json(
                {"error": f"body too large (at most {MAX_BODY_BYTES} bytes)"}, status=413
            )
        try:
            delivery = verify_delivery(
                [self.config.secret],
                request.headers,
                body,
                now=self._clock(),
                max_skew=self.config.max_skew_seconds,
            )
        except PushRefused as refused:
            logger.warning("store_push: refused a push from %s: %s", request.ip, refused)
            if refused.reason.is_authentication:
                # One answer for every authentication failure: a prober learns nothing.
                return response.json(UNAUTHORISED, status=401)
            return response.json({"error": f"malformed push: {refused.detail}"}, status=400)
        try:
            # Off the event loop: validating a large body and the commit both take a while.
            outcome = await on_webhook_thread(self._accept, delivery, body)
        except SQLAlchemyError:
            # Not stored, so not acknowledged: the sender's retry is what we want.
            logger.exception("store_push: could not store delivery %s; asking for a retry",
                             delivery.delivery_id)  # fmt: skip
            return response.json({"error": "temporarily unavailable"}, status=503)
        if isinstance(outcome, _Refusal):
            logger.warning("store_push: delivery %s refused (%d): %s", delivery.delivery_id,
                           outcome.status, outcome.answer)  # fmt: skip
            return response.json(outcome.answer, status=outcome.status)
        logger.info("store_push: delivery %s %s", delivery.delivery_id, outcome.outcome.value)
        return response.json({"status": outcome.outcome.value})

    def _accept(self, delivery: SignedDelivery, body: bytes) -> Acceptance | _Refusal:
        """Validates the body and stores it (committed on return), or says why not."""
        try:
            text = body.decode("utf-8")
            data = json.loads(text)
        except (UnicodeDecodeError, ValueError, RecursionError):
            return _Refusal(400, {"error": "the body is not UTF-8 JSON"})
        try:
            parse_body(data)
        except PushBodyError as error:
            return _Refusal(422, {"error": "invalid push", "problems": error.problems})
        except RecursionError:  # nested too deep for the validator, though json read it
            return _Refusal(422, {"error": "invalid push", "problems": ["body: nested too deep"]})
        return self.inbox.accept(
            IncomingWebhook(
                platform=PLATFORM,
                webhook_id=delivery.delivery_id,
                topic=TOPIC,
                shop_domain="",
                api_version=str(FORMAT_VERSION),
                body=text,
                # Signed, unlike Shopify's header: the handler may order ties by it.
                triggered_at=delivery.signed_at,
                event_id=delivery.delivery_id,
            )
        )
