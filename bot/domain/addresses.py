"""Reading a new shipping address from one chat message."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Protocol

# "OR 97205", "CA 94110-1234", "97205"; Canadian "ON M5V 2T6".
_REGION_POSTAL = re.compile(
    r"^(?:(?P<region>[A-Za-z]{2})\s+)?(?P<postal>\d{5}(?:-\d{4})?|[A-Za-z]\d[A-Za-z]\s?\d[A-Za-z]\d)$"
)
_COUNTRY = re.compile(r"^(?:[A-Za-z]{2}|usa|united states|canada)$", re.IGNORECASE)
_COUNTRY_CODES = {"usa": "US", "united states": "US", "canada": "CA"}


class PostalAddress(Protocol):
    """What an address is shown from: the one on an order (`AddressView`) or one typed."""

    @property
    def line1(self) -> str: ...
    @property
    def line2(self) -> str | None: ...
    @property
    def city(self) -> str: ...
    @property
    def region(self) -> str | None: ...
    @property
    def postal_code(self) -> str: ...
    @property
    def country(self) -> str: ...


def one_line(address: PostalAddress) -> str:
    """'1 Main St, Apt 2, Springfield, IL 62701, US': how addresses are shown in chat, both the
    one on the order and the one a shopper typed, so a confirmation compares like with like."""
    locality = " ".join(part for part in (address.region, address.postal_code) if part)
    parts = (address.line1, address.line2, address.city, locality, address.country)
    return ", ".join(part for part in parts if part)


@dataclass(frozen=True)
class ParsedAddress:
    line1: str
    line2: str | None
    city: str
    region: str | None
    postal_code: str
    country: str

    def one_line(self) -> str:
        return one_line(self)


def parse_address(text: str | None, default_country: str = "US") -> ParsedAddress | None:
    """`221 Pine St, Apt 4, Portland, OR 97205[, US]` → ParsedAddress; None if unclear.

    Strict on purpose: a parcel sent to a half-understood address is worse than asking again.
    """
    if not text:
        return None
    parts = [part.strip() for part in re.split(r"[,\n]", text) if part.strip()]
    country = default_country
    if len(parts) >= 4 and _COUNTRY.match(parts[-1]):
        country = _COUNTRY_CODES.get(parts[-1].lower(), parts[-1].upper())
        parts = parts[:-1]
    if len(parts) not in (3, 4):
        return None
    match = _REGION_POSTAL.match(parts[-1])
    if match is None:
        return None
    line1, *middle, city = parts[:-1]
    if not re.search(r"\d", line1) or not re.search(r"[A-Za-z]", city):
        return None  # a street line without a house number is almost always a mistake
    region = match.group("region").upper() if match.group("region") else None
    return ParsedAddress(
        line1=line1,
        line2=middle[0] if middle else None,
        city=city,
        region=region,
        postal_code=match.group("postal").upper(),
        country=country,
    )
