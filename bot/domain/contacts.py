"""Parsing and masking the contact details shoppers use to prove an order is theirs."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum

# Emails are found from their "@" (see email_spans): the one-regex form
# [A-Za-z0-9._%+'-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,} costs O(n²) on a long word without "@", as
# the engine retries the local part from every position of it.
_LOCAL_RUN = re.compile(r"[A-Za-z0-9._%+'-]+")
_AT_DOMAIN = re.compile(r"@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
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


def email_spans(text: str) -> Iterator[tuple[int, int]]:
    """(start, end) of each email address, as `finditer` of the one-regex form above finds
    them, in linear time.

    A match's "@" is the first one after its start (the local part cannot hold one), so each
    "@" followed by a domain (_AT_DOMAIN, which cannot reach the next "@") is tried once: its
    local part is the run of local characters just before it, starting where the previous
    match ended at the earliest (the leftmost start, as the regex finds). Every character is
    read a bounded number of times, and "@"s without a domain are skipped inside the engine.
    """
    if "@" not in text:
        return
    reverse, size = text[::-1], len(text)
    done = 0  # where the previous match ended
    for found in _AT_DOMAIN.finditer(text):
        at = found.start()
        run = _LOCAL_RUN.match(reverse, size - at)  # the local characters just before "@"
        start = max(at - (run.end() - run.start()), done) if run else at
        if start < at:
            yield start, found.end()
            done = found.end()


def parse_contact(text: str | None) -> Contact | None:
    """Find an email address or phone number in free text."""
    if not text:
        return None
    email = next(email_spans(text), None)
    if email:
        start, end = email
        return Contact(ContactKind.EMAIL, text[start:end].lower().strip("."))
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


# "my zip is 94110", "postcode: SW1A 1AA", "it's 94110-1234"
_POSTCODE_LEAD_IN = re.compile(
    r"^\W*(?:(?:it'?s|it is|my|the|our)\s+)*"
    r"(?:(?:zip|postal|post)\s*(?:code)?|postcode|zip)?\s*(?:is|:|=)?\s*",
    re.IGNORECASE,
)
_US_ZIP = re.compile(r"(?<![\w-])(\d{5})(?:[\s-]?(\d{4}))?(?![\w-])")


def parse_postcode(text: str | None) -> str | None:
    """A postal code in free text, normalised (upper case, no spaces or dashes), or None.

    A US ZIP (optionally ZIP+4) anywhere in the text is taken; otherwise the whole answer, after
    a lead-in like "my postcode is", must look like a postcode: 3-10 letters and digits with at
    least one digit (SW1A 1AA, 1012 AB, K1A 0B1, D02 X285).
    """
    if not text:
        return None
    zip_code = _US_ZIP.search(text)
    if zip_code:
        return zip_code.group(1) + (zip_code.group(2) or "")
    candidate = _POSTCODE_LEAD_IN.sub("", text.strip()).strip().rstrip(".!")
    compact = re.sub(r"[\s-]", "", candidate).upper()
    if 3 <= len(compact) <= 10 and compact.isalnum() and any(c.isdigit() for c in compact):
        return compact
    return None


def postcodes_match(given: str, on_file: str | None) -> bool:
    """Compare a typed postcode with the order's: case, spaces and dashes do not matter, and a
    5-digit US ZIP matches its ZIP+4 (and the other way round); a different code never does."""
    if not on_file:
        return False
    a, b = (re.sub(r"[\s-]", "", code).upper() for code in (given, on_file))
    if not a or not b:
        return False
    if a == b:
        return True
    if a.isdigit() and b.isdigit() and sorted((len(a), len(b))) == [5, 9]:
        return a[:5] == b[:5]
    return False


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
