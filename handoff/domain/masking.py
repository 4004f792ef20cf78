"""Masks secrets shoppers paste into chat before the text reaches Slack or a terminal.

Card numbers (only digit runs that pass the Luhn check, so order and tracking numbers stay
readable), security codes, IBANs, US social security numbers, "password is ..." phrases, and
contact details (as on the ticket card: a***@example.com, +***0123). Pure; the tracker keeps
the original, agents see the masked copy.
"""

from __future__ import annotations

import re

from bot.domain.contacts import email_spans, mask_email, mask_phone

_CARD = re.compile(r"(?<![\d-])(?:\d[ -]?){12,18}\d(?![\d-])")
_CVV = re.compile(r"\b(cvv2?|cvc2?|cv2|csc|security code)(\W{0,3}(?:is\W{0,3})?)\d{3,4}\b", re.I)
_IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){3,7}(?: ?[A-Z0-9]{1,4})?\b")
_SSN = re.compile(r"\b\d{3}-\d{2}-\d{4}\b")
# International numbers, or US-style 415-555-0123 / (415) 555 0123; not bare digit runs, which
# are more often order or tracking numbers.
_PHONE = re.compile(r"\+\d[\d\s().-]{7,}\d|\(?\b\d{3}\)?[\s.-]\d{3}[\s.-]\d{4}\b")
_PASSWORD = re.compile(r"\b(password|passcode|passwd|pin)(\s*(?:is|:|=)\s*)\S+", re.I)


def luhn_valid(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char)
        if index % 2 == 1:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def _mask_card(match: re.Match[str]) -> str:
    digits = re.sub(r"\D", "", match.group(0))
    if not (13 <= len(digits) <= 19 and luhn_valid(digits)):
        return match.group(0)
    return f"[card ending {digits[-4:]}]"


def _mask_emails(text: str) -> str:
    parts: list[str] = []
    done = 0
    for start, end in email_spans(text):
        parts += (text[done:start], mask_email(text[start:end]))
        done = end
    parts.append(text[done:])
    return "".join(parts)


def mask_secrets(text: str) -> str:
    text = _CARD.sub(_mask_card, text)
    text = _CVV.sub(lambda m: f"{m.group(1)}{m.group(2)}•••", text)
    text = _IBAN.sub(lambda m: f"[IBAN ending {m.group(0).replace(' ', '')[-4:]}]", text)
    text = _SSN.sub("[SSN]", text)
    text = _PASSWORD.sub(lambda m: f"{m.group(1)}{m.group(2)}•••", text)
    text = _mask_emails(text)
    return _PHONE.sub(lambda m: mask_phone(m.group(0)), text)
