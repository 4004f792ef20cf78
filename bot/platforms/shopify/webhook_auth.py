"""Is this webhook from Shopify, for our shop? Pure functions over the raw body and headers.

Shopify signs a webhook with the app's API secret: `X-Shopify-Hmac-Sha256` is
base64(HMAC-SHA256(secret, raw body bytes)). Only the body is signed; the other headers
(topic, shop, webhook id, ...) are not, so they are checked for shape here and trusted no
further than that: a processor takes its facts from the body (docs/shopify.md).

The digest is compared as bytes after decoding, in constant time, as Shopify's Ruby library
does (shopify-api-ruby decodes the header and compares digests, so a base64 with a trailing
newline, which Ruby's `Base64.encode64` writes, is still valid).

Stdlib only: the endpoint (webhook_input.py) and the test sender share these functions.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

HMAC_HEADER = "X-Shopify-Hmac-Sha256"
TOPIC_HEADER = "X-Shopify-Topic"
SHOP_HEADER = "X-Shopify-Shop-Domain"
API_VERSION_HEADER = "X-Shopify-API-Version"
WEBHOOK_ID_HEADER = "X-Shopify-Webhook-Id"
TRIGGERED_AT_HEADER = "X-Shopify-Triggered-At"
EVENT_ID_HEADER = "X-Shopify-Event-Id"
NAME_HEADER = "X-Shopify-Name"

#: Header → the longest value accepted (they go into columns of these sizes). The first four
#: are required, as in Shopify's own validate() (shopify-app-js); the HMAC is checked first.
REQUIRED_HEADERS: dict[str, int] = {
    TOPIC_HEADER: 100,
    SHOP_HEADER: 255,
    API_VERSION_HEADER: 32,
    WEBHOOK_ID_HEADER: 255,
}
OPTIONAL_HEADERS: dict[str, int] = {TRIGGERED_AT_HEADER: 64, EVENT_ID_HEADER: 255, NAME_HEADER: 255}
# Visible ASCII only: Shopify's values are ids, topics and domains, and anything else (NUL,
# control characters, non-ASCII) would only be a forgery that the store might choke on.
_TOKEN = re.compile(r"[\x21-\x7e]+")
_DIGEST_SIZE = hashlib.sha256().digest_size


class Refusal(StrEnum):
    """Why a webhook is refused."""

    #: No X-Shopify-Hmac-Sha256, or an empty one.
    MISSING_HMAC = "missing_hmac"
    #: A signature that is not the body's under our secret (or not base64 of a digest).
    INVALID_HMAC = "invalid_hmac"
    #: Correctly signed, but for another shop than SHOPIFY_SHOP_DOMAIN.
    WRONG_SHOP = "wrong_shop"
    #: Correctly signed, but a required header is missing or malformed.
    BAD_HEADERS = "bad_headers"


class WebhookRefused(Exception):
    def __init__(self, reason: Refusal, detail: str) -> None:
        super().__init__(f"{reason.value}: {detail}")
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class WebhookHeaders:
    """The delivery headers Shopify sends with a webhook (docs: "Headers" of the webhooks
    reference), checked for shape."""

    topic: str
    #: Normalised (`normalise_shop_domain`).
    shop_domain: str
    api_version: str
    #: Unique per delivery attempt series: Shopify's retries of one delivery repeat it.
    webhook_id: str
    hmac: str
    #: When Shopify triggered the delivery; None when absent or unreadable (not required).
    triggered_at: datetime | None = None
    #: Shared by every delivery of one merchant action.
    event_id: str | None = None
    #: The subscription's developer-supplied name.
    name: str | None = None


def signature(secret: str, body: bytes) -> str:
    """The X-Shopify-Hmac-Sha256 value Shopify sends for `body`."""
    digest = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def hmac_matches(secret: str, body: bytes, header_value: str | None) -> bool:
    """True if `header_value` is the base64 HMAC-SHA256 of `body` under `secret`. Whitespace
    (a trailing newline) is ignored; anything that is not base64 of a digest is False."""
    if not secret or not header_value:
        return False
    try:
        encoded = "".join(header_value.split()).encode("ascii")
        given = base64.b64decode(encoded, validate=True)
    except (UnicodeEncodeError, binascii.Error, ValueError):
        return False
    expected = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).digest()
    # The length is no secret (always 32); compare_digest still runs on equal sizes only.
    return len(given) == _DIGEST_SIZE and hmac.compare_digest(expected, given)


def normalise_shop_domain(domain: str) -> str:
    """ "https://Example.myshopify.com/" → "example.myshopify.com": how a domain is written in
    settings should not decide whether webhooks are accepted."""
    text = domain.strip().lower()
    for scheme in ("https://", "http://"):
        text = text.removeprefix(scheme)
    return text.rstrip("/")


def _lookup(headers: Mapping[str, str]) -> dict[str, str]:
    # HTTP/2 lowercases header names, and Shopify says to treat them case-insensitively.
    return {str(name).lower(): str(value) for name, value in headers.items()}


def _token(value: str | None, limit: int) -> str | None:
    if value is None:
        return None
    value = value.strip()
    if not value or len(value) > limit or not _TOKEN.fullmatch(value):
        return None
    return value


def parse_triggered_at(value: str | None) -> datetime | None:
    """ "2025-07-10T16:15:47.000000Z" → an aware UTC datetime; None if absent or unreadable."""
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    if parsed.tzinfo is None:
        return None
    return parsed.astimezone(UTC)


def parse_headers(headers: Mapping[str, str]) -> WebhookHeaders:
    """The webhook headers, typed; raises `WebhookRefused` (BAD_HEADERS or MISSING_HMAC) when
    one that is required is missing or malformed. Checks no signature."""
    found = _lookup(headers)
    hmac_value = found.get(HMAC_HEADER.lower(), "").strip()
    if not hmac_value:
        raise WebhookRefused(Refusal.MISSING_HMAC, f"no {HMAC_HEADER}")
    required: dict[str, str] = {}
    for name, limit in REQUIRED_HEADERS.items():
        value = _token(found.get(name.lower()), limit)
        if value is None:
            raise WebhookRefused(Refusal.BAD_HEADERS, f"{name} is missing or malformed")
        required[name] = value
    optional = {
        name: _token(found.get(name.lower()), limit) for name, limit in OPTIONAL_HEADERS.items()
    }
    return WebhookHeaders(
        topic=required[TOPIC_HEADER],
        shop_domain=normalise_shop_domain(required[SHOP_HEADER]),
        api_version=required[API_VERSION_HEADER],
        webhook_id=required[WEBHOOK_ID_HEADER],
        hmac=hmac_value,
        triggered_at=parse_triggered_at(optional[TRIGGERED_AT_HEADER]),
        event_id=optional[EVENT_ID_HEADER],
        name=optional[NAME_HEADER],
    )


def verify_webhook(
    secret: str, shop_domain: str, headers: Mapping[str, str], body: bytes
) -> WebhookHeaders:
    """The headers of a webhook that Shopify signed for `shop_domain`; raises `WebhookRefused`.

    The signature is checked before anything else is read, so an unsigned request learns
    nothing about which of its headers would have been accepted.
    """
    found = _lookup(headers)
    given = found.get(HMAC_HEADER.lower(), "").strip()
    if not given:
        raise WebhookRefused(Refusal.MISSING_HMAC, f"no {HMAC_HEADER}")
    if not hmac_matches(secret, body, given):
        raise WebhookRefused(Refusal.INVALID_HMAC, "the signature is not the body's")
    claimed = _token(found.get(SHOP_HEADER.lower()), REQUIRED_HEADERS[SHOP_HEADER])
    expected = normalise_shop_domain(shop_domain)
    if claimed is None or normalise_shop_domain(claimed) != expected:
        raise WebhookRefused(Refusal.WRONG_SHOP, f"{SHOP_HEADER} {claimed!r} is not {expected!r}")
    return parse_headers(headers)
