import pytest

from bot.domain.contacts import (
    Contact,
    ContactKind,
    mask_email,
    mask_phone,
    parse_contact,
    phones_match,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ava.martin@example.com", Contact(ContactKind.EMAIL, "ava.martin@example.com")),
        ("it's Ava.Martin@Example.com.", Contact(ContactKind.EMAIL, "ava.martin@example.com")),
        ("+1 (415) 555-0123", Contact(ContactKind.PHONE, "+14155550123")),
        ("415.555.0123", Contact(ContactKind.PHONE, "4155550123")),
        ("whatsapp:+14155550123", Contact(ContactKind.PHONE, "+14155550123")),
        ("my number is 415 555 0123", Contact(ContactKind.PHONE, "4155550123")),
        ("no idea", None),
        ("12345", None),
        ("", None),
        (None, None),
    ],
)
def test_parse_contact(text: str | None, expected: Contact | None) -> None:
    assert parse_contact(text) == expected


@pytest.mark.parametrize(
    ("given", "on_file", "expected"),
    [
        ("+14155550123", "+14155550123", True),
        ("4155550123", "+14155550123", True),  # national number without country code
        ("14155550123", "+14155550123", True),
        ("+14155550124", "+14155550123", False),
        ("5550123", "+14155550123", False),  # too little of the number to prove anything
        ("+14155550123", None, False),
    ],
)
def test_phones_match(given: str, on_file: str | None, expected: bool) -> None:
    assert phones_match(given, on_file) is expected


@pytest.mark.parametrize(
    ("value", "masked"),
    [
        ("ava.martin@example.com", "a***@example.com"),
        ("j@example.com", "j***@example.com"),
        ("not-an-email", "***"),
    ],
)
def test_mask_email(value: str, masked: str) -> None:
    assert mask_email(value) == masked


@pytest.mark.parametrize(
    ("value", "masked"), [("+14155550123", "+***0123"), ("4155550123", "***0123"), ("12", "***")]
)
def test_mask_phone(value: str, masked: str) -> None:
    assert mask_phone(value) == masked


def test_contact_masked_hides_the_value() -> None:
    contact = Contact(ContactKind.EMAIL, "ava.martin@example.com")
    assert "martin" not in contact.masked
