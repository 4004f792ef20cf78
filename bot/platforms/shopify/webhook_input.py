"""``bot.platforms.shopify.webhook_input.ShopifyWebhookInput``: the shop's webhooks in.

Not a messaging channel: it never produces a `UserMessage` and nobody chats through it. It is
the intake of a store-platform adapter that happens to be an `InputChannel`, because Rasa's
web server (the one public server, behind the README's reverse proxy) mounts each
credentials.yml entry's blueprint under `/webhooks/<name>/`:

    POST /webhooks/shopify/webhook      (X-Shopify-Hmac-Sha256, X-Shopify-Topic, ...)
    GET  /webhooks/shopify/             {"status": "ok"} or which variables are missing

What a POST gets (docs/shopify.md has the same table):

- 503 while SHOPIFY_WEBHOOK_SECRET or SHOPIFY_SHOP_DOMAIN is empty;
- 413 for a body over `MAX_BODY_BYTES`;
- 401 without a valid signature over the raw body, or for another shop; nothing is stored;
- 400 for a signed request without the required headers, or whose body is not UTF-8 JSON;
- 200 {"status": "accepted"} once the webhook is committed to the inbox
  (bot/store/platform_inbox.py), never before, so an acknowledged webhook is never lost;
- 200 {"status": "duplicate"} for one already there (a retry, or a replayed body): Shopify
  retries any non-2xx answer, so a duplicate must still be a success;
- 503 when the store cannot be written, so that Shopify retries.

While the server runs, the inbox is worked by an `InboxWorker` in a thread of this process
(bot/platforms/shopify/sync.py: webhooks → store, and the periodic reconciliation), started
once all three SHOPIFY_* credentials are set.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from rasa.core.channels.channel import InputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse
from sqlalchemy.exc import SQLAlchemyError

from bot.platforms.inbox_worker import InboxWorker, run_with_server
from bot.platforms.shopify.runtime import inbox_worker, shopify_parts
from bot.platforms.shopify.webhook_auth import (
    Refusal,
    WebhookHeaders,
    WebhookRefused,
    verify_webhook,
)
from bot.settings import ShopifySettings, process_settings
from bot.store.platform_inbox import Acceptance, IncomingWebhook, Outcome, PlatformInbox
from channels.core.channel import shared_database, webhook_blueprint
from channels.core.connector import with_credentials
from channels.core.group_commit import on_webhook_thread

logger = logging.getLogger(__name__)

OnNewMessage = Callable[[UserMessage], Awaitable[Any]]
PLATFORM = "shopify"
#: Bigger bodies are refused (413). Shopify documents no limit; an order with hundreds of line
#: items is a few hundred kB, so this leaves room while keeping one request's memory bounded.
MAX_BODY_BYTES = 5 * 1024 * 1024
#: Setting → the variable that sets it, for the "not configured" answers.
REQUIRED_SETTINGS = {
    "webhook_secret": "SHOPIFY_WEBHOOK_SECRET",
    "shop_domain": "SHOPIFY_SHOP_DOMAIN",
}


class ShopifyWebhookInput(InputChannel):
    """Shopify's webhooks into the durable inbox (see the module docstring). Rasa builds it
    from credentials.yml; it produces no messages for the assistant."""

    @classmethod
    def name(cls) -> str:
        return PLATFORM

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> InputChannel:
        # The settings section, unless the credentials.yml entry names values of its own.
        settings = process_settings()
        config = with_credentials(settings.shopify, credentials)
        database = shared_database(settings.database_url)

        def worker() -> InboxWorker | None:
            if not config.configured:
                logger.warning(
                    "shopify: webhooks are not processed until SHOPIFY_SHOP_DOMAIN, "
                    "SHOPIFY_ADMIN_TOKEN and SHOPIFY_WEBHOOK_SECRET are set"
                )
                return None
            return inbox_worker(
                shopify_parts(config, database),
                config,
                database,
                retention_days=settings.platform_inbox_retention_days,
            )

        return cls(config, PlatformInbox(database), worker)

    def __init__(
        self,
        config: ShopifySettings,
        inbox: PlatformInbox,
        worker: Callable[[], InboxWorker | None] | None = None,
    ) -> None:
        self.config = config
        self.inbox = inbox
        #: Builds the inbox's worker when the server starts (None: stored, not processed).
        self.worker = worker

    def missing_settings(self) -> list[str]:
        return [
            variable
            for field, variable in REQUIRED_SETTINGS.items()
            if not getattr(self.config, field)
        ]

    def blueprint(self, on_new_message: OnNewMessage) -> Blueprint:
        blueprint = webhook_blueprint(self, on_new_message)
        if self.worker is not None:
            run_with_server(blueprint, self.worker)
        return blueprint

    def get_output_channel(self) -> None:
        return None  # nobody to talk to

    async def receive(self, request: Request, on_new_message: OnNewMessage) -> HTTPResponse:
        """Verifies, stores, answers; `on_new_message` is never called."""
        missing = self.missing_settings()
        if missing:
            logger.error("shopify: webhook called but not configured (set %s)", ", ".join(missing))
            return response.json(
                {"error": f"Shopify is not configured: set {', '.join(missing)}"}, status=503
            )
        body: bytes = request.body or b""
        if len(body) > MAX_BODY_BYTES:
            logger.error("shopify: refused a webhook of %d bytes (limit %d)", len(body),
                         MAX_BODY_BYTES)  # fmt: skip
            return response.json({"error": "body too large"}, status=413)
        try:
            headers = verify_webhook(
                self.config.webhook_secret, self.config.shop_domain, request.headers, body
            )
        except WebhookRefused as refused:
            return self._refused(request, refused)
        try:
            # Off the event loop: parsing a large body and the commit both take a while.
            acceptance = await on_webhook_thread(self._accept, headers, body)
        except SQLAlchemyError:
            # Not stored, so not acknowledged: Shopify's retry is what we want.
            logger.exception("shopify: could not store webhook %s; asking for a retry",
                             headers.webhook_id)  # fmt: skip
            return response.json({"error": "temporarily unavailable"}, status=503)
        if acceptance is None:
            logger.error("shopify: a signed webhook %s (%s) has a body that is not UTF-8 JSON",
                         headers.webhook_id, headers.topic)  # fmt: skip
            return response.json({"error": "the body is not UTF-8 JSON"}, status=400)
        if acceptance.outcome is Outcome.DUPLICATE:
            logger.info("shopify: duplicate webhook %s (%s) ignored",
                        headers.webhook_id, headers.topic)  # fmt: skip
        return response.json({"status": acceptance.outcome.value})

    def _accept(self, headers: WebhookHeaders, body: bytes) -> Acceptance | None:
        """Stores the webhook (committed on return); None if the body is not UTF-8 JSON."""
        text = _json_text(body)
        if text is None:
            return None
        return self.inbox.accept(_incoming(headers, text))

    def _refused(self, request: Request, refused: WebhookRefused) -> HTTPResponse:
        logger.warning("shopify: refused a webhook from %s: %s", request.ip, refused)
        if refused.reason is Refusal.BAD_HEADERS:
            return response.json({"error": f"malformed webhook: {refused.detail}"}, status=400)
        # One answer for every authentication failure: a prober learns nothing of which failed.
        return response.json({"error": "invalid webhook signature"}, status=401)


def _json_text(body: bytes) -> str | None:
    """The body as text if it is UTF-8 JSON (what the inbox's text column and a processor
    need); None otherwise."""
    try:
        text = body.decode("utf-8")
        json.loads(text)
    except (UnicodeDecodeError, ValueError, RecursionError):
        return None
    return text


def _incoming(headers: WebhookHeaders, body: str) -> IncomingWebhook:
    return IncomingWebhook(
        platform=PLATFORM,
        webhook_id=headers.webhook_id,
        topic=headers.topic,
        shop_domain=headers.shop_domain,
        api_version=headers.api_version,
        body=body,
        triggered_at=headers.triggered_at,
        event_id=headers.event_id,
    )
