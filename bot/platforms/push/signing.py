"""Is this push from the shop that holds our secret, and is it recent? Pure functions over the
raw body and two headers.

    X-Relaydesk-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>." + raw body)>
    X-Relaydesk-Delivery:  <the sender's id of this delivery, repeated on its retries>

Modelled on Stripe's `Stripe-Signature`: the timestamp is signed with the body, so a captured
request cannot be replayed once `max_skew` has passed, and a replay within it is caught by the
inbox's dedupe (same delivery id, or the same body). Several `v1=` values are allowed so a
sender can sign with the old and the new secret while the secret is being rotated; unknown
schemes (`v0=`, a future `v2=`) are ignored. Digests are compared as bytes in constant time.

The delivery id is not signed (as with Shopify's and GitHub's delivery headers): it only names
the delivery for dedupe, and a replayed body under a fresh id is still the same body.

Stdlib only: the endpoint and scripts/push_store_update.py's way of signing must be one.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

SIGNATURE_HEADER = "X-Relaydesk-Signature"
DELIVERY_HEADER = "X-Relaydesk-Delivery"
SCHEME = "v1"
#: How far the signed timestamp may be from our clock, either way (seconds).
DEFAULT_MAX_SKEW_SECONDS = 300
#: More `v1=` values than this are refused: verifying is work per value, and rotation needs two.
MAX_SIGNATURES = 8
#: Longer headers are refused unread (8 signatures and a timestamp fit in well under this).
MAX_SIGNATURE_HEADER = 1024

_TIMESTAMP = re.compile(r"[0-9]{1,12}")
_HEX_DIGEST = re.compile(r"[0-9a-fA-F]{64}")
#: A UUID, a WooCommerce delivery number, "shop-42:order-10023:7"... (it goes in a 255 column).
DELIVERY_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")


class Refusal(StrEnum):
    """Why a push is refused. All but BAD_DELIVERY_ID are authentication failures (401)."""

    #: No X-Relaydesk-Signature, or an empty one.
    MISSING_SIGNATURE = "missing_signature"
    #: Not `t=<digits>,v1=<64 hex>[,v1=...]`.
    MALFORMED_SIGNATURE = "malformed_signature"
    #: No `v1=` value is the HMAC of this timestamp and body under our secret.
    INVALID_SIGNATURE = "invalid_signature"
    #: Correctly signed, but the timestamp is more than the allowed skew from our clock.
    STALE_TIMESTAMP = "stale_timestamp"
    #: Correctly signed and recent, but X-Relaydesk-Delivery is missing or malformed (400).
    BAD_DELIVERY_ID = "bad_delivery_id"

    @property
    def is_authentication(self) -> bool:
        return self is not Refusal.BAD_DELIVERY_ID


class PushRefused(Exception):
    def __init__(self, reason: Refusal, detail: str) -> None:
        super().__init__(f"{reason.value}: {detail}")
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class SignedDelivery:
    """A push whose signature, timestamp and delivery id were checked."""

    delivery_id: str
    #: The signed timestamp (unix seconds): when the sender signed this delivery.
    timestamp: int

    @property
    def signed_at(self) -> datetime:
        return datetime.fromtimestamp(self.timestamp, UTC)


def signed_payload(timestamp: int, body: bytes) -> bytes:
    """What is signed: the timestamp in decimal, a dot, the raw body bytes."""
    return f"{timestamp}.".encode("ascii") + body


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """The hex `v1` value for `body` signed at `timestamp` with `secret`."""
    key = secret.encode("utf-8")
    return hmac.new(key, signed_payload(timestamp, body), hashlib.sha256).hexdigest()


def signature_header(secrets: str | Sequence[str], timestamp: int, body: bytes) -> str:
    """The X-Relaydesk-Signature value; one `v1=` per secret (two while rotating)."""
    keys = [secrets] if isinstance(secrets, str) else list(secrets)
    return ",".join(
        [f"t={timestamp}", *(f"{SCHEME}={signature(k, timestamp, body)}" for k in keys)]
    )


def parse_signature_header(value: str) -> tuple[int, tuple[str, ...]]:
    """(timestamp, v1 digests) of a header value; raises PushRefused(MALFORMED_SIGNATURE)."""
    if len(value) > MAX_SIGNATURE_HEADER:
        raise PushRefused(Refusal.MALFORMED_SIGNATURE, "the header is too long")
    timestamps: list[str] = []
    digests: list[str] = []
    for item in value.split(","):
        key, separator, text = item.strip().partition("=")
        if not separator:
            raise PushRefused(
                Refusal.MALFORMED_SIGNATURE, f"{item.strip()[:20]!r} is not key=value"
            )
        if key == "t":
            timestamps.append(text.strip())
        elif key == SCHEME:
            digests.append(text.strip())
    if len(timestamps) != 1 or not _TIMESTAMP.fullmatch(timestamps[0]):
        raise PushRefused(Refusal.MALFORMED_SIGNATURE, "it needs exactly one t=<unix seconds>")
    if not digests or len(digests) > MAX_SIGNATURES:
        raise PushRefused(Refusal.MALFORMED_SIGNATURE, f"it needs 1 to {MAX_SIGNATURES} v1=")
    if not all(_HEX_DIGEST.fullmatch(digest) for digest in digests):
        raise PushRefused(Refusal.MALFORMED_SIGNATURE, "a v1= value is not 64 hex digits")
    return int(timestamps[0]), tuple(digest.lower() for digest in digests)


def verify_signature(
    secrets: Sequence[str],
    header_value: str | None,
    body: bytes,
    *,
    now: float,
    max_skew: float = DEFAULT_MAX_SKEW_SECONDS,
) -> int:
    """The signed timestamp if a `v1` value is `body`'s HMAC under one of `secrets` and the
    timestamp is within `max_skew` seconds of `now`; raises PushRefused otherwise."""
    if not header_value or not header_value.strip():
        raise PushRefused(Refusal.MISSING_SIGNATURE, f"no {SIGNATURE_HEADER}")
    timestamp, given = parse_signature_header(header_value)
    keys = [secret for secret in secrets if secret]
    if not keys:  # an empty secret would sign for anyone: the endpoint is off then, too
        raise PushRefused(Refusal.INVALID_SIGNATURE, "no secret to check against")
    expected = [bytes.fromhex(signature(key, timestamp, body)) for key in keys]
    matched = False
    # Every pair is compared (no early exit), so timing does not tell which value matched.
    for digest in given:
        candidate = bytes.fromhex(digest)
        for wanted in expected:
            matched |= hmac.compare_digest(wanted, candidate)
    if not matched:
        raise PushRefused(Refusal.INVALID_SIGNATURE, "no v1= value is the body's signature")
    if abs(now - timestamp) > max_skew:
        raise PushRefused(
            Refusal.STALE_TIMESTAMP,
            f"signed at {timestamp}, {now - timestamp:+.0f} s from our clock "
            f"(at most {max_skew:.0f} s either way)",
        )
    return timestamp


def parse_delivery_id(value: str | None) -> str:
    text = (value or "").strip()
    if not DELIVERY_ID.fullmatch(text):
        raise PushRefused(
            Refusal.BAD_DELIVERY_ID,
            f"{DELIVERY_HEADER} is missing or not 1-128 letters, digits, '.', '_', ':' or '-'",
        )
    return text


def verify_delivery(
    secrets: Sequence[str],
    headers: Mapping[str, str],
    body: bytes,
    *,
    now: float,
    max_skew: float = DEFAULT_MAX_SKEW_SECONDS,
) -> SignedDelivery:
    """The checked delivery; raises PushRefused. The signature is checked before anything else
    is read, so an unsigned request learns nothing about its other headers."""
    found = {str(name).lower(): str(value) for name, value in headers.items()}
    timestamp = verify_signature(
        secrets, found.get(SIGNATURE_HEADER.lower()), body, now=now, max_skew=max_skew
    )
    delivery_id = parse_delivery_id(found.get(DELIVERY_HEADER.lower()))
    return SignedDelivery(delivery_id=delivery_id, timestamp=timestamp)
