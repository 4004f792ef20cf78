"""Deciding whether a shopper has proven that an order is theirs."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from bot.domain.contacts import Contact, ContactKind, phones_match


class VerificationOutcome(StrEnum):
    VERIFIED = "verified"
    # One outcome for "no such order" and "not your contact details": telling them apart
    # would let anyone probe which order numbers exist.
    NOT_MATCHED = "not_matched"
    LOCKED = "locked"


@dataclass(frozen=True)
class OrderOwner:
    """What verification needs to know about an order's customer, and nothing more."""

    customer_id: int
    email: str
    phone: str | None


@dataclass(frozen=True)
class VerificationPolicy:
    max_attempts: int = 3

    def verify(
        self, owner: OrderOwner | None, contact: Contact, failed_attempts: int
    ) -> VerificationOutcome:
        """`failed_attempts` counts failures before this attempt."""
        if failed_attempts >= self.max_attempts:
            return VerificationOutcome.LOCKED
        if owner is not None and self.contact_matches(owner, contact):
            return VerificationOutcome.VERIFIED
        if failed_attempts + 1 >= self.max_attempts:
            return VerificationOutcome.LOCKED
        return VerificationOutcome.NOT_MATCHED

    @staticmethod
    def contact_matches(owner: OrderOwner, contact: Contact) -> bool:
        if contact.kind is ContactKind.EMAIL:
            return contact.value.strip().lower() == owner.email.strip().lower()
        return phones_match(contact.value, owner.phone)
