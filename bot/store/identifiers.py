"""Canonical forms of the keys shoppers are looked up by.

The store keeps one spelling of each key (lower-case e-mail, E.164 phone, digits-only order
number) so lookups are plain equality and unique constraints mean what they say.
"""

from __future__ import annotations

import re

E164_PATTERN = re.compile(r"^\+[1-9]\d{6,14}$")
ORDER_NUMBER_PATTERN = re.compile(r"^\d{1,20}$")
CHANNEL_PATTERN = re.compile(r"^[a-z][a-z0-9_.-]{0,31}$")
# Separators people type in phone numbers; anything else makes the input not a phone number.
_PHONE_SEPARATORS = re.compile(r"[\s().\-]")


def normalise_email(email: str) -> str:
    return email.strip().lower()


def normalise_phone(phone: str) -> str | None:
    """`phone` in E.164 with separators removed, or None when it is not an E.164 number.

    Only strips formatting; it does not guess a country for national numbers.
    """
    candidate = _PHONE_SEPARATORS.sub("", phone)
    return candidate if E164_PATTERN.fullmatch(candidate) else None


def require_e164(phone: str) -> str:
    if not E164_PATTERN.fullmatch(phone):
        raise ValueError(f"phone {phone!r} is not in E.164 form (e.g. +14155550123)")
    return phone


def require_order_number(number: str) -> str:
    if not ORDER_NUMBER_PATTERN.fullmatch(number):
        raise ValueError(f"order number {number!r} must be digits only")
    return number


def normalise_channel(channel: str) -> str | None:
    """The channel's canonical name ("WhatsApp" -> "whatsapp"), or None if it is not a name."""
    canonical = channel.strip().lower()
    return canonical if CHANNEL_PATTERN.fullmatch(canonical) else None
