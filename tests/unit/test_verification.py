"""What counts as proof, and the per-conversation limit (bot/domain/verification.py)."""

import pytest

from bot.domain.contacts import Contact, ContactKind, parse_postcode, postcodes_match
from bot.domain.verification import (
    Detail,
    OrderOwner,
    Proof,
    VerificationOutcome,
    VerificationPolicy,
    missing_detail,
    proven_by_channel,
    proves,
)

OWNER = OrderOwner(
    customer_id=7, email="Ava.Martin@example.com", phone="+14155550123", postcode="94110"
)
NO_PHONE = OrderOwner(customer_id=8, email="liam@example.com", phone=None, postcode="94110")
EMAIL = Contact(ContactKind.EMAIL, "ava.martin@example.com")
PHONE = Contact(ContactKind.PHONE, "4155550123")
FULL_PHONE = Contact(ContactKind.PHONE, "+14155550123")
OTHER_PHONE = Contact(ContactKind.PHONE, "+14155550999")
WRONG = Contact(ContactKind.EMAIL, "someone@example.com")

V, N, L = VerificationOutcome.VERIFIED, VerificationOutcome.NOT_MATCHED, VerificationOutcome.LOCKED


# (case, owner, proof, proves?)
PROOF_CASES = [
    ("e-mail on the order", OWNER, Proof(EMAIL), True),
    ("e-mail, any case", OWNER, Proof(Contact(ContactKind.EMAIL, "AVA.MARTIN@example.com")), True),
    ("another e-mail", OWNER, Proof(WRONG), False),
    ("typed phone alone is not proof", OWNER, Proof(PHONE), False),
    ("typed phone + shipping postcode", OWNER, Proof(PHONE, "94110"), True),
    ("full typed phone + postcode", OWNER, Proof(FULL_PHONE, "94110"), True),
    ("phone + ZIP+4 of the postcode", OWNER, Proof(PHONE, "941101234"), True),
    ("phone + another postcode", OWNER, Proof(PHONE, "94111"), False),
    ("another phone + right postcode", OWNER, Proof(OTHER_PHONE, "94110"), False),
    ("phone for an order without phone", NO_PHONE, Proof(PHONE, "94110"), False),
    ("postcode does not help an e-mail", OWNER, Proof(WRONG, "94110"), False),
    ("order without postcode", OrderOwner(7, "a@example.com", "+14155550123"),
     Proof(PHONE, "94110"), False),
]  # fmt: skip


@pytest.mark.parametrize(
    ("owner", "proof", "expected"), [pytest.param(*c[1:], id=c[0]) for c in PROOF_CASES]
)
def test_what_counts_as_proof(owner: OrderOwner, proof: Proof, expected: bool) -> None:
    assert proves(owner, proof) is expected


@pytest.mark.parametrize(
    ("proof", "missing"),
    [
        (Proof(EMAIL), None),
        (Proof(PHONE), Detail.POSTCODE),  # asked for before anything is checked
        (Proof(PHONE, "94110"), None),
        (Proof(PHONE, ""), Detail.POSTCODE),
    ],
)
def test_a_typed_phone_needs_the_postcode_first(proof: Proof, missing: Detail | None) -> None:
    assert missing_detail(proof) is missing


@pytest.mark.parametrize(
    ("channel", "number", "on_file", "expected"),
    [
        ("whatsapp", "+14155550123", "+14155550123", True),  # Twilio-signed sender number
        ("whatsapp", "+14155550999", "+14155550123", False),
        ("whatsapp", "+14155550123", None, False),
        ("whatsapp", None, "+14155550123", False),
        ("whatsapp", "4155550123", "+14155550123", False),  # exact E.164 only
        ("telegram", "+14155550123", "+14155550123", False),  # the channel proves no number
        ("rest", "+14155550123", "+14155550123", False),  # anyone can claim a sender id
        ("webchat", "+14155550123", "+14155550123", False),
    ],
)
def test_a_phone_counts_alone_only_when_the_channel_proves_it(
    channel: str, number: str | None, on_file: str | None, expected: bool
) -> None:
    assert proven_by_channel(channel, number, on_file) is expected


@pytest.mark.parametrize(
    ("owner", "proof", "failures", "expected"),
    [
        (OWNER, Proof(EMAIL), 0, V),
        (OWNER, Proof(PHONE, "94110"), 0, V),
        (OWNER, Proof(PHONE), 0, N),  # never checked alone
        (OWNER, Proof(WRONG), 0, N),
        (None, Proof(EMAIL), 0, N),  # unknown order looks exactly like a wrong contact
        (OWNER, Proof(WRONG), 1, N),
        (OWNER, Proof(WRONG), 2, L),  # the third failure locks
        (OWNER, Proof(EMAIL), 2, V),  # the third attempt may still succeed
        (OWNER, Proof(EMAIL), 3, L),  # after locking even the right answer is refused
        (OWNER, Proof(OTHER_PHONE, "94110"), 0, N),
    ],
)
def test_verify(
    owner: OrderOwner | None, proof: Proof, failures: int, expected: VerificationOutcome
) -> None:
    assert VerificationPolicy(max_attempts=3).verify(owner, proof, failures) is expected


def test_max_attempts_is_configurable() -> None:
    assert VerificationPolicy(max_attempts=1).verify(OWNER, Proof(WRONG), 0) is L


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("94110", "94110"),
        ("my zip is 94110", "94110"),
        ("94110-1234", "941101234"),
        ("It's 94110.", "94110"),
        ("postcode: SW1A 1AA", "SW1A1AA"),
        ("sw1a 1aa", "SW1A1AA"),
        ("my postcode is K1A 0B1", "K1A0B1"),
        ("1012 AB", "1012AB"),
        ("no idea", None),
        ("ava.martin@example.com", None),
        ("+1 415 555 0123", None),
        ("", None),
        (None, None),
    ],
)
def test_parse_postcode(text: str | None, expected: str | None) -> None:
    assert parse_postcode(text) == expected


@pytest.mark.parametrize(
    ("given", "on_file", "expected"),
    [
        ("94110", "94110", True),
        ("941101234", "94110", True),
        ("94110", "94110-1234", True),
        ("941101234", "941109999", False),  # both ZIP+4: all nine digits count
        ("94111", "94110", False),
        ("SW1A1AA", "SW1A 1AA", True),
        ("sw1a-1aa", "SW1A 1AA", True),
        ("SW1A1AB", "SW1A 1AA", False),
        ("94110", None, False),
        ("", "94110", False),
    ],
)
def test_postcodes_match(given: str, on_file: str | None, expected: bool) -> None:
    assert postcodes_match(given, on_file) is expected
