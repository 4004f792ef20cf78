"""bot/platforms/push/signing.py: which pushes are authentic and recent, table-driven; the
scheme itself (a known vector computed independently); the header parser."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from bot.platforms.push.signing import (
    DELIVERY_HEADER,
    MAX_SIGNATURES,
    SIGNATURE_HEADER,
    PushRefused,
    Refusal,
    SignedDelivery,
    parse_signature_header,
    signature,
    signature_header,
    verify_delivery,
)

SECRET = "whsec-current-0123456789"
OLD_SECRET = "whsec-previous-9876543210"
BODY = b'{"format_version": 1, "records": []}'
NOW = 1_796_000_000
SKEW = 300


def headers(value: str | None, delivery: str | None = "d-1") -> dict[str, str]:
    found = {}
    if value is not None:
        found[SIGNATURE_HEADER] = value
    if delivery is not None:
        found[DELIVERY_HEADER] = delivery
    return found


def signed(*secrets: str, at: int = NOW, body: bytes = BODY) -> str:
    return signature_header(list(secrets), at, body)


# (case, our secrets, headers, body) -> the refusal, or None for accepted
CASES: list[tuple[str, list[str], dict[str, str], bytes, Refusal | None]] = [
    ("good signature", [SECRET], headers(signed(SECRET)), BODY, None),
    ("good, lower-case header names",
     [SECRET], {k.lower(): v for k, v in headers(signed(SECRET)).items()}, BODY, None),
    ("good, 299 s old", [SECRET], headers(signed(SECRET, at=NOW - 299)), BODY, None),
    ("good, 300 s ahead", [SECRET], headers(signed(SECRET, at=NOW + 300)), BODY, None),
    ("spaces around the parts", [SECRET],
     headers(" , ".join(signed(SECRET).split(","))), BODY, None),
    ("an unknown scheme beside v1 is ignored", [SECRET],
     headers(signed(SECRET) + ",v0=abc"), BODY, None),
    ("wrong secret", [SECRET], headers(signed("not-the-secret")), BODY, Refusal.INVALID_SIGNATURE),
    ("stale timestamp", [SECRET], headers(signed(SECRET, at=NOW - 301)), BODY,
     Refusal.STALE_TIMESTAMP),
    ("a day old", [SECRET], headers(signed(SECRET, at=NOW - 86_400)), BODY,
     Refusal.STALE_TIMESTAMP),
    ("future timestamp", [SECRET], headers(signed(SECRET, at=NOW + 301)), BODY,
     Refusal.STALE_TIMESTAMP),
    ("missing header", [SECRET], headers(None), BODY, Refusal.MISSING_SIGNATURE),
    ("empty header", [SECRET], headers("  "), BODY, Refusal.MISSING_SIGNATURE),
    ("tampered body", [SECRET], headers(signed(SECRET)), BODY + b" ", Refusal.INVALID_SIGNATURE),
    ("body signed at another time", [SECRET],
     headers(signed(SECRET, at=NOW - 1).replace(f"t={NOW - 1}", f"t={NOW}")), BODY,
     Refusal.INVALID_SIGNATURE),
    ("rotating: old and new signatures, we have the new secret",
     [SECRET], headers(signed(OLD_SECRET, SECRET)), BODY, None),
    ("rotating: old and new signatures, we still have the old secret",
     [OLD_SECRET], headers(signed(OLD_SECRET, SECRET)), BODY, None),
    ("rotating: we accept two secrets, the sender signs with one",
     [OLD_SECRET, SECRET], headers(signed(SECRET)), BODY, None),
    ("rotating: neither signature is ours", [SECRET],
     headers(signed(OLD_SECRET, "third")), BODY, Refusal.INVALID_SIGNATURE),
    ("no v1", [SECRET], headers(f"t={NOW}"), BODY, Refusal.MALFORMED_SIGNATURE),
    ("no t", [SECRET], headers(signed(SECRET).split(",", 1)[1]), BODY,
     Refusal.MALFORMED_SIGNATURE),
    ("two t", [SECRET], headers(f"t={NOW}," + signed(SECRET)), BODY, Refusal.MALFORMED_SIGNATURE),
    ("t not a number", [SECRET], headers(signed(SECRET).replace(f"t={NOW}", "t=soon")), BODY,
     Refusal.MALFORMED_SIGNATURE),
    ("v1 not hex", [SECRET], headers(f"t={NOW},v1=" + "z" * 64), BODY,
     Refusal.MALFORMED_SIGNATURE),
    ("v1 too short", [SECRET], headers(signed(SECRET)[:-2]), BODY, Refusal.MALFORMED_SIGNATURE),
    ("Shopify-style base64", [SECRET], headers("dGVzdA=="), BODY, Refusal.MALFORMED_SIGNATURE),
    ("too many v1", [SECRET], headers(signed(*[f"s{i}" for i in range(MAX_SIGNATURES)], SECRET)),
     BODY, Refusal.MALFORMED_SIGNATURE),
    ("we have no secret", [""], headers(signature_header([""], NOW, BODY)), BODY,
     Refusal.INVALID_SIGNATURE),
    ("signed, but no delivery id", [SECRET], headers(signed(SECRET), delivery=None), BODY,
     Refusal.BAD_DELIVERY_ID),
    ("signed, delivery id with a space", [SECRET], headers(signed(SECRET), delivery="a b"), BODY,
     Refusal.BAD_DELIVERY_ID),
    ("signed, delivery id too long", [SECRET], headers(signed(SECRET), delivery="d" * 129), BODY,
     Refusal.BAD_DELIVERY_ID),
    ("unsigned and no delivery id: the signature is what is reported", [SECRET],
     headers(signed("other"), delivery=None), BODY, Refusal.INVALID_SIGNATURE),
]  # fmt: skip


@pytest.mark.parametrize(
    ("secrets", "given", "body", "refusal"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_verify_delivery(
    secrets: list[str], given: dict[str, str], body: bytes, refusal: Refusal | None
) -> None:
    if refusal is None:
        delivery = verify_delivery(secrets, given, body, now=NOW, max_skew=SKEW)
        assert isinstance(delivery, SignedDelivery)
        assert delivery.delivery_id == "d-1"
        assert abs(delivery.timestamp - NOW) <= SKEW
        return
    with pytest.raises(PushRefused) as refused:
        verify_delivery(secrets, given, body, now=NOW, max_skew=SKEW)
    assert refused.value.reason is refusal
    assert refused.value.reason.is_authentication == (refusal is not Refusal.BAD_DELIVERY_ID)


def test_the_signature_is_hmac_sha256_over_timestamp_dot_body_in_hex() -> None:
    # Computed by hand here, as a sender in any language would: the scheme, not our helper.
    expected = hmac.new(SECRET.encode(), f"{NOW}.".encode() + BODY, hashlib.sha256).hexdigest()
    assert signature(SECRET, NOW, BODY) == expected
    assert signature_header(SECRET, NOW, BODY) == f"t={NOW},v1={expected}"
    # And what openssl says, as docs/store-push-webhook.md signs with it:
    #   printf '%s.%s' 1796000000 "$BODY" | openssl dgst -sha256 -hmac "$SECRET" -hex
    assert expected == "bc7933dec31a699db75c15cf50bc6a212034f6fd464580194bd572a2a88ccaad"


def test_a_flipped_bit_anywhere_in_the_body_is_refused() -> None:
    given = headers(signed(SECRET))
    for index in range(len(BODY)):
        for bit in (0x01, 0x80):
            body = bytearray(BODY)
            body[index] ^= bit
            with pytest.raises(PushRefused) as refused:
                verify_delivery([SECRET], given, bytes(body), now=NOW)
            assert refused.value.reason is Refusal.INVALID_SIGNATURE


def test_upper_case_hex_is_the_same_digest() -> None:
    value = signed(SECRET)
    timestamp, digests = parse_signature_header(
        value.upper().replace("T=", "t=").replace("V1=", "v1=")
    )
    assert (timestamp, digests) == (NOW, (signature(SECRET, NOW, BODY),))


def test_an_overlong_header_is_refused_unread() -> None:
    with pytest.raises(PushRefused) as refused:
        parse_signature_header(signed(SECRET) + "," + "x=1," * 300)
    assert refused.value.reason is Refusal.MALFORMED_SIGNATURE


def test_the_skew_is_configurable() -> None:
    given = headers(signed(SECRET, at=NOW - 3600))
    assert verify_delivery([SECRET], given, BODY, now=NOW, max_skew=3600).timestamp == NOW - 3600
    with pytest.raises(PushRefused):
        verify_delivery([SECRET], given, BODY, now=NOW, max_skew=3599)


def test_signed_at_is_the_timestamp_in_utc() -> None:
    delivery = SignedDelivery("d", 0)
    assert delivery.signed_at.isoformat() == "1970-01-01T00:00:00+00:00"
