"""Which of two versions of a platform record wins: the ordering rule for synced data.

Store platforms (Shopify first) notify changes at least once and in no guaranteed order: a
webhook can be redelivered hours later, after a newer one was applied. Each record relaydesk
keeps from a platform remembers the `Stamp` of the version it holds; `decide(stored, incoming)`
says whether an incoming version replaces it.

The rule, first match wins (docs/shopify-mapping.md has the same table):

| # | Case | Verdict |
| --- | --- | --- |
| 1 | nothing stored yet | apply |
| 2 | same event id as the stored version (a redelivery) | ignore as duplicate |
| 3 | both have `updated_at`, incoming is later | apply |
| 4 | both have `updated_at`, incoming is earlier | ignore as older |
| 5 | same (or unknown) `updated_at`, same fingerprint | ignore as duplicate |
| 6 | same (or unknown) `updated_at`, later `triggered_at` | apply |
| 7 | same (or unknown) `updated_at`, earlier `triggered_at` | ignore as older |
| 8 | anything else (same time, different or unknown content) | apply, and reconcile |

Case 8 exists because platform timestamps have one-second resolution: two edits in the same
second carry the same `updated_at`. Ignoring the incoming one could lose the newer edit for
good; applying it could, rarely, put back the older one. We apply (the store keeps moving) and
flag `reconcile` so the caller re-reads the record from the platform, whose current state
settles it. Timestamps are compared as instants: "19:00:00-05:00" equals "00:00:00Z" next day.

Pure: stdlib only, no clock (the caller passes every time in).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class Verdict(StrEnum):
    APPLY = "apply"
    IGNORE_OLDER = "ignore_older"
    IGNORE_DUPLICATE = "ignore_duplicate"


@dataclass(frozen=True)
class Stamp:
    """What identifies one version of a record, as far as ordering is concerned."""

    #: The record's own last-change time on the platform (Shopify's `updated_at`).
    updated_at: datetime | None
    #: When the platform emitted the notification carrying this version (Shopify's
    #: X-Shopify-Triggered-At header); breaks ties between equal `updated_at`s.
    triggered_at: datetime | None = None
    #: The platform's id of the notification (X-Shopify-Event-Id): equal ids are one event.
    event_id: str | None = None
    #: A digest of the mapped content, so an identical copy is recognised as one.
    fingerprint: str | None = None

    @classmethod
    def parse(
        cls,
        updated_at: str | datetime | None,
        *,
        triggered_at: str | datetime | None = None,
        event_id: str | None = None,
        fingerprint: str | None = None,
    ) -> Stamp:
        """A stamp from ISO 8601 strings as platforms send them ("2021-12-31T19:00:00-05:00")."""
        return cls(
            updated_at=parse_timestamp(updated_at),
            triggered_at=parse_timestamp(triggered_at),
            event_id=event_id or None,
            fingerprint=fingerprint or None,
        )


@dataclass(frozen=True)
class Decision:
    verdict: Verdict
    #: Why, in words for logs.
    reason: str
    #: The order could not be decided from the stamps (case 8): re-read the record from the
    #: platform to be sure the stored version is the current one.
    reconcile: bool = False

    @property
    def apply(self) -> bool:
        return self.verdict is Verdict.APPLY


def parse_timestamp(value: str | datetime | None) -> datetime | None:
    """An aware datetime from an ISO 8601 string or datetime; None stays None.

    Raises ValueError for text that is not ISO 8601 and for times without a UTC offset: a
    naive time cannot be ordered against an offset one without guessing the zone.
    """
    if value is None:
        return None
    if isinstance(value, datetime):
        parsed = value
    else:
        text = value.strip()
        # Python 3.11 reads "Z" itself, but not a lower-case "z".
        parsed = datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith("z") else text)
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        raise ValueError(f"timestamp without a UTC offset: {value!r}")
    return parsed


def decide(stored: Stamp | None, incoming: Stamp) -> Decision:
    """Whether `incoming` replaces `stored` (None: the record was never seen)."""
    if stored is None:
        return Decision(Verdict.APPLY, "first version seen")
    if stored.event_id is not None and stored.event_id == incoming.event_id:
        return Decision(Verdict.IGNORE_DUPLICATE, f"event {incoming.event_id} delivered again")
    order = _compare(stored.updated_at, incoming.updated_at)
    if order > 0:
        return Decision(Verdict.APPLY, "newer updated_at")
    if order < 0:
        return Decision(Verdict.IGNORE_OLDER, "older updated_at than the stored version")
    if stored.fingerprint is not None and stored.fingerprint == incoming.fingerprint:
        return Decision(Verdict.IGNORE_DUPLICATE, "same updated_at and same content")
    order = _compare(stored.triggered_at, incoming.triggered_at)
    if order > 0:
        return Decision(Verdict.APPLY, "same updated_at, triggered later")
    if order < 0:
        return Decision(Verdict.IGNORE_OLDER, "same updated_at, triggered earlier")
    return Decision(
        Verdict.APPLY, "same updated_at and no way to order the content", reconcile=True
    )


def _compare(stored: datetime | None, incoming: datetime | None) -> int:
    """1 when `incoming` is later, -1 when earlier, 0 when equal or either is unknown."""
    if stored is None or incoming is None:
        return 0
    return (incoming > stored) - (incoming < stored)
