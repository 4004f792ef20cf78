"""Parsing and masking the contact details shoppers use to prove an order is theirs."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

_EMAIL = re.compile(r"[A-Za-z0-9._%+'-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
# Loose on purpose: shoppers write "+1 (415) 555-0123", "415.555.0123", "whatsapp:+14155550123".
_PHONE = re.compile(r"\+?\d[\d\s().-]{6,}\d")


class ContactKind(StrEnum):
    EMAIL = "email"
    PHONE = "phone"


@dataclass(frozen=True)
class Contact:
    kind: ContactKind
    value: str  # normalised: lower-case email, or phone digits with a leading "+" if given

    @property
    def masked(self) -> str:
        return mask_email(self.value) if self.kind is ContactKind.EMAIL else mask_phone(self.value)


def parse_contact(text: str | None) -> Contact | None:
    """Find an email address or phone number in free text."""
    if not text:
        return None
    email = _EMAIL.search(text)
    if email:
        return Contact(ContactKind.EMAIL, email.group(0).lower().strip("."))
    phone = _PHONE.search(text)
    if phone:
        digits = normalise_phone(phone.group(0))
        if digits and 7 <= len(digits.lstrip("+")) <= 15:
            return Contact(ContactKind.PHONE, digits)
    return None


def normalise_phone(raw: str) -> str:
    """Digits only, keeping a leading '+' (E.164-ish)."""
    raw = raw.strip().removeprefix("whatsapp:")
    digits = re.sub(r"\D", "", raw)
    return f"+{digits}" if raw.startswith("+") else digits


def phones_match(given: str, on_file: str | None) -> bool:
    """Compare a shopper-typed phone with the stored E.164 one.

    Shoppers often omit the country code, so a match on the national number (the last 10
    digits, at least 10 digits given) is accepted; a different number never is.
    """
    if not on_file:
        return False
    a, b = re.sub(r"\D", "", given), re.sub(r"\D", "", on_file)
    if a == b:
        return True
    return len(a) >= 10 and b.endswith(a[-10:])


def mask_email(email: str) -> str:
    """j***@example.com: enough for the shopper to recognise, useless to anyone else."""
    local, _, domain = email.partition("@")
    if not domain:
        return "***"
    return f"{local[:1]}***@{domain}"


def mask_phone(phone: str) -> str:
    """+1 *** *** 0123: only the last four digits are shown."""
    digits = re.sub(r"\D", "", phone)
    return f"{'+' if phone.startswith('+') else ''}***{digits[-4:]}" if len(digits) >= 4 else "***"


def provider_id(channel: str, conversation_id: str) -> str:
    """The provider's own id of a shopper, from the Rasa conversation id of a channel.

    The messaging channels qualify conversation ids with their name ("whatsapp:+1415...",
    "telegram:42", see channels/core/messages.py) so ids of different providers never share a
    tracker; the provider's id is the part after that prefix. Web chat ids have none.
    """
    return conversation_id.removeprefix(f"{channel}:")
