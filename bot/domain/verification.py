"""Deciding whether a shopper has proven that an order is theirs, and whether they may try.

Pure rules over plain data (no Rasa, no SQL), table-tested in tests/unit/test_verification.py
and tests/unit/test_verification_limits.py; docs/self-service.md, "What counts as proof".

Two questions, asked in this order for every attempt:

1. *May this attempt proceed?* Failed attempts are limited per conversation (a slot,
   `VerificationPolicy.max_attempts`) and, in the store so it holds across conversations,
   channels, processes and restarts, per order, per source (the channel's id of the shopper)
   and per contact typed (`AttemptLimits.lock`). A success never erases a failure: they only
   age out of their window.
2. *Does what the shopper gave prove the order is theirs?* (`VerificationPolicy.proves`)
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from bot.domain.contacts import Contact, ContactKind, phones_match, postcodes_match


class VerificationOutcome(StrEnum):
    VERIFIED = "verified"
    # One outcome for "no such order" and "not your contact details": telling them apart
    # would let anyone probe which order numbers exist.
    NOT_MATCHED = "not_matched"
    LOCKED = "locked"


@dataclass(frozen=True)
class OrderOwner:
    """What verification needs to know about an order and its customer, and nothing more."""

    customer_id: int
    email: str
    phone: str | None
    #: Postal code of the order's shipping address: the second detail a typed phone needs.
    postcode: str | None = None


class Detail(StrEnum):
    """A further detail a contact needs before it counts as proof."""

    POSTCODE = "postcode"


@dataclass(frozen=True)
class Proof:
    """What the shopper typed to prove an order is theirs."""

    contact: Contact
    #: The shipping postcode, given with a typed phone number.
    postcode: str | None = None


# -- what counts as proof ------------------------------------------------------------------------
def missing_detail(proof: Proof) -> Detail | None:
    """What else `proof` needs before it may be checked at all.

    A typed phone number is weak: it is printed on business cards and profiles and is easy to
    find for someone who knows the shopper. It only counts together with the postcode the
    order ships to, and it is not checked (nor counted) until that is given, so the bot never
    says whether the phone alone was right.
    """
    if proof.contact.kind is ContactKind.PHONE and not proof.postcode:
        return Detail.POSTCODE
    return None


def proves(owner: OrderOwner, proof: Proof) -> bool:
    """True if `proof` shows the shopper owns `owner`'s order (see `missing_detail`)."""
    contact = proof.contact
    if contact.kind is ContactKind.EMAIL:
        return contact.value.strip().lower() == owner.email.strip().lower()
    return (
        proof.postcode is not None
        and phones_match(contact.value, owner.phone)
        and postcodes_match(proof.postcode, owner.postcode)
    )


#: Channels whose provider proves the number a shopper writes from: Twilio signs every
#: WhatsApp webhook (channels/whatsapp checks the signature), and WhatsApp itself verified the
#: number when the shopper registered it.
CHANNELS_PROVING_THE_NUMBER = frozenset({"whatsapp"})


def proven_by_channel(channel: str, number: str | None, phone_on_file: str | None) -> bool:
    """The shopper writes from the order's phone number on a channel that proves the number.

    `number` is the sender's number in E.164 as the channel reports it. Exact equality only:
    unlike a typed number, nothing here is guessed, so there is no national-number leniency.
    """
    return (
        channel in CHANNELS_PROVING_THE_NUMBER
        and number is not None
        and phone_on_file is not None
        and number == phone_on_file
    )


# -- how often one may try -----------------------------------------------------------------------
class Scope(StrEnum):
    """What failed attempts are counted against, across conversations."""

    #: The order number typed, whether or not such an order exists (so a lock says nothing
    #: about existence).
    ORDER = "order"
    #: Who is asking, as the channel knows them: WhatsApp number, Messenger PSID, Telegram
    #: chat, web chat session.
    SOURCE = "source"
    #: The e-mail address or phone number typed (a digest of it): one address tried against
    #: many order numbers.
    CONTACT = "contact"


@dataclass(frozen=True)
class AttemptLimit:
    scope: Scope
    max_failures: int
    window: timedelta


#: Why these numbers: docs/self-service.md, "What counts as proof".
DEFAULT_LIMITS: tuple[AttemptLimit, ...] = (
    AttemptLimit(Scope.ORDER, 5, timedelta(hours=24)),
    AttemptLimit(Scope.SOURCE, 5, timedelta(hours=1)),
    AttemptLimit(Scope.SOURCE, 10, timedelta(hours=24)),
    AttemptLimit(Scope.CONTACT, 5, timedelta(hours=24)),
)


@dataclass(frozen=True)
class AttemptKeys:
    """The keys one attempt is counted under; None where the scope is unknown."""

    order: str
    source: str | None = None
    contact: str | None = None

    def items(self) -> dict[Scope, str]:
        keys = {Scope.ORDER: self.order, Scope.SOURCE: self.source, Scope.CONTACT: self.contact}
        return {scope: key for scope, key in keys.items() if key is not None}


def attempt_keys(
    order_number: str, source: tuple[str, str] | None = None, contact: Contact | None = None
) -> AttemptKeys:
    """Keys of an attempt at `order_number` from `source` ((channel, provider's id))."""
    return AttemptKeys(
        order=order_number,
        source=f"{source[0]}:{source[1]}"[:300] if source else None,
        contact=contact_digest(contact) if contact else None,
    )


def contact_digest(contact: Contact) -> str:
    """A stable digest of a typed contact, so the store counts it without keeping it.

    E-mails lower-cased; phones by their last ten digits (the national number), so
    "+1 415 555 0123" and "415-555-0123" are one key, as they are one guess.
    """
    if contact.kind is ContactKind.EMAIL:
        value = contact.value.strip().lower()
    else:
        value = re.sub(r"\D", "", contact.value)[-10:]
    return hashlib.sha256(f"{contact.kind}:{value}".encode()).hexdigest()


@dataclass(frozen=True)
class Lock:
    """Self-service verification refused: which limit holds, and until when."""

    scope: Scope
    until: datetime


#: Failure times already recorded, per scope (only scopes whose key is known).
History = Mapping[Scope, Sequence[datetime]]


@dataclass(frozen=True)
class AttemptLimits:
    limits: tuple[AttemptLimit, ...] = DEFAULT_LIMITS

    @property
    def longest_window(self) -> timedelta:
        return max((limit.window for limit in self.limits), default=timedelta(0))

    def lock(self, failures: History, now: datetime) -> Lock | None:
        """The lock that holds at `now` given the recorded `failures`, or None to proceed.

        A limit holds while at least `max_failures` failures of its scope are younger than its
        window, so it lifts by itself once enough of them have aged out (a rolling window: no
        burst at a bucket boundary). Failures stamped after `now` (another server's clock a
        little ahead) count. When several limits hold, the one that lasts longest is reported.
        """
        found: Lock | None = None
        for limit in self.limits:
            if limit.scope not in failures or limit.max_failures <= 0:
                continue
            recent = sorted(t for t in failures[limit.scope] if t > now - limit.window)
            if len(recent) < limit.max_failures:
                continue
            until = recent[len(recent) - limit.max_failures] + limit.window
            if found is None or until > found.until:
                found = Lock(limit.scope, until)
        return found


@dataclass(frozen=True)
class VerificationPolicy:
    #: Failed attempts per conversation before the bot stops asking (MAX_VERIFICATION_ATTEMPTS).
    max_attempts: int = 3
    #: Failed attempts per order, source and contact across conversations (in the store).
    limits: AttemptLimits = field(default_factory=AttemptLimits)

    def conversation_locked(self, failed_attempts: int) -> bool:
        return failed_attempts >= self.max_attempts

    def verify(
        self, owner: OrderOwner | None, proof: Proof, failed_attempts: int
    ) -> VerificationOutcome:
        """One attempt within a conversation; `failed_attempts` counts its failures so far.

        The store-wide limits are checked around this (`AttemptLimits.lock`), by the caller
        that holds the store's counts.
        """
        if self.conversation_locked(failed_attempts):
            return VerificationOutcome.LOCKED
        if owner is not None and missing_detail(proof) is None and proves(owner, proof):
            return VerificationOutcome.VERIFIED
        if self.conversation_locked(failed_attempts + 1):
            return VerificationOutcome.LOCKED
        return VerificationOutcome.NOT_MATCHED
