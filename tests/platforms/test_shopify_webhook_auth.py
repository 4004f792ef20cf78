"""bot/platforms/shopify/webhook_auth.py: Shopify's signature over the raw body, checked as
Shopify's libraries check it (shopify-app-js's test vector), the headers typed, and every way a
webhook can fail to be Shopify's for our shop; plus the settings it reads."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from typing import Any

import pytest

from bot.platforms.shopify.webhook_auth import (
    API_VERSION_HEADER,
    EVENT_ID_HEADER,
    HMAC_HEADER,
    NAME_HEADER,
    SHOP_HEADER,
    TOPIC_HEADER,
    TRIGGERED_AT_HEADER,
    WEBHOOK_ID_HEADER,
    Refusal,
    WebhookHeaders,
    WebhookRefused,
    hmac_matches,
    normalise_shop_domain,
    parse_headers,
    parse_triggered_at,
    signature,
    verify_webhook,
)
from bot.settings import Settings
from tests.platforms.shopify_webhooks import hmac_vector

VECTOR, VECTOR_BODY = hmac_vector()
SECRET: str = VECTOR["secret"]
EXPECTED: str = VECTOR["expected_x_shopify_hmac_sha256"]
VECTOR_HEADERS: dict[str, str] = VECTOR["request_headers_used_by_test"]
VECTOR_SHOP: str = VECTOR_HEADERS[SHOP_HEADER]


def refusal(headers: dict[str, Any], body: bytes = VECTOR_BODY, shop: str = VECTOR_SHOP) -> Refusal:
    with pytest.raises(WebhookRefused) as raised:
        verify_webhook(SECRET, shop, headers, body)
    return raised.value.reason


# ------------------------------------------------------------------ the real vector


def test_the_vector_body_is_what_the_vector_says() -> None:
    assert VECTOR["raw_body"].encode() == VECTOR_BODY
    assert len(VECTOR_BODY) == VECTOR["raw_body_length_bytes"] == 14


def test_the_signature_of_the_vector_is_shopifys() -> None:
    assert signature(SECRET, VECTOR_BODY) == EXPECTED
    assert hmac_matches(SECRET, VECTOR_BODY, EXPECTED)


def test_the_vector_request_verifies_and_gives_its_headers() -> None:
    headers = verify_webhook(SECRET, VECTOR_SHOP, VECTOR_HEADERS, VECTOR_BODY)

    expected = VECTOR["expected_validate_result"]
    assert headers == WebhookHeaders(
        topic="products/create",
        shop_domain=expected["domain"],
        api_version=expected["apiVersion"],
        webhook_id=expected["webhookId"],
        hmac=expected["hmac"],
    )


@pytest.mark.parametrize(
    "value",
    [
        EXPECTED + "\n",  # Ruby's Base64.encode64 (shopify-api-ruby's own tests sign this way)
        " " + EXPECTED + " ",
        EXPECTED[:30] + "\n" + EXPECTED[30:],  # encode64 wraps long lines
    ],
    ids=["trailing-newline", "spaces", "wrapped"],
)
def test_the_digest_is_compared_not_the_text(value: str) -> None:
    assert hmac_matches(SECRET, VECTOR_BODY, value)


@pytest.mark.parametrize(
    ("secret", "body", "value"),
    [
        ("wrong_secret", VECTOR_BODY, EXPECTED),
        (SECRET, b'{"foo":"bar"}', EXPECTED),  # re-serialised JSON: other bytes, other HMAC
        (SECRET, b'{"foo": "baz"}', EXPECTED),
        (SECRET, VECTOR_BODY + b"\n", EXPECTED),
        (SECRET, b"", EXPECTED),
        (SECRET, VECTOR_BODY, "fake"),  # shopify-app-js's negative case
        (SECRET, VECTOR_BODY, ""),
        (SECRET, VECTOR_BODY, None),
        (SECRET, VECTOR_BODY, EXPECTED[:-4]),  # a truncated digest
        (SECRET, VECTOR_BODY, base64.b64encode(base64.b64decode(EXPECTED) + b"\0").decode()),
        (SECRET, VECTOR_BODY, base64.b64decode(EXPECTED).hex()),  # hex, not base64
        (SECRET, VECTOR_BODY, "sha256=" + EXPECTED),
        (SECRET, VECTOR_BODY, EXPECTED.replace("=", "\u00e9")),  # not ASCII
        (SECRET, VECTOR_BODY, "!!!!"),
        ("", VECTOR_BODY, signature("", VECTOR_BODY)),  # no secret: never valid
    ],
    ids=["wrong-secret", "reserialised", "tampered", "appended", "empty-body", "fake", "empty",
         "none", "truncated", "too-long", "hex", "prefixed", "non-ascii", "garbage",
         "no-secret"],
)  # fmt: skip
def test_anything_else_does_not_match(secret: str, body: bytes, value: str | None) -> None:
    assert not hmac_matches(secret, body, value)


def test_every_flipped_bit_of_the_body_breaks_the_signature() -> None:
    for index in range(len(VECTOR_BODY) * 8):
        tampered = bytearray(VECTOR_BODY)
        tampered[index // 8] ^= 1 << (index % 8)
        assert not hmac_matches(SECRET, bytes(tampered), EXPECTED), index


# ------------------------------------------------------------------ refusals


@pytest.mark.parametrize("header", [HMAC_HEADER])
@pytest.mark.parametrize("value", [None, "", "   "])
def test_a_missing_signature_is_refused_first(header: str, value: str | None) -> None:
    headers = {k: v for k, v in VECTOR_HEADERS.items() if k != header}
    if value is not None:
        headers[header] = value
    assert refusal(headers) is Refusal.MISSING_HMAC
    # Even with nothing else: an unsigned request learns nothing about the other headers.
    assert refusal({} if value is None else {header: value}) is Refusal.MISSING_HMAC


def test_a_wrong_secret_or_tampered_body_is_refused() -> None:
    wrong = {**VECTOR_HEADERS, HMAC_HEADER: signature("someone else's", VECTOR_BODY)}
    assert refusal(wrong) is Refusal.INVALID_HMAC
    assert refusal(VECTOR_HEADERS, body=b'{"foo": "bar", "admin": true}') is Refusal.INVALID_HMAC
    # The other headers are not looked at before the signature holds.
    assert refusal({HMAC_HEADER: "fake"}) is Refusal.INVALID_HMAC


@pytest.mark.parametrize(
    ("claimed", "configured"),
    [
        ("other-shop.myshopify.com", VECTOR_SHOP),
        (VECTOR_SHOP + ".evil.example", VECTOR_SHOP),
        (VECTOR_SHOP, "example.myshopify.com"),
        (None, VECTOR_SHOP),
        ("", VECTOR_SHOP),
        ("shop1.myshopify.io\x00", VECTOR_SHOP),
    ],
    ids=["other-shop", "suffix", "other-configured", "missing", "empty", "nul"],
)
def test_a_signed_webhook_of_another_shop_is_refused(claimed: str | None, configured: str) -> None:
    # A public app's secret signs every shop's webhooks; only ours is accepted.
    headers = {k: v for k, v in VECTOR_HEADERS.items() if k != SHOP_HEADER}
    if claimed is not None:
        headers[SHOP_HEADER] = claimed
    assert refusal(headers, shop=configured) is Refusal.WRONG_SHOP


@pytest.mark.parametrize("header", [TOPIC_HEADER, API_VERSION_HEADER, WEBHOOK_ID_HEADER])
@pytest.mark.parametrize(
    "value", [None, "", "two words", "x" * 300, "caf\u00e9", "id\x00", "a\tb"],
    ids=["missing", "empty", "space", "long", "non-ascii", "nul", "tab"],
)  # fmt: skip
def test_a_signed_webhook_without_a_required_header_is_malformed(
    header: str, value: str | None
) -> None:
    headers = {k: v for k, v in VECTOR_HEADERS.items() if k != header}
    if value is not None:
        headers[header] = value
    assert refusal(headers) is Refusal.BAD_HEADERS


# ------------------------------------------------------------------ the headers


def test_header_names_are_case_insensitive_and_the_shop_is_normalised() -> None:
    lowered = {k.lower(): v for k, v in VECTOR_HEADERS.items()}  # HTTP/2 lowercases them
    lowered[SHOP_HEADER.lower()] = "SHOP1.MyShopify.io"
    headers = verify_webhook(SECRET, "https://shop1.myshopify.io/", lowered, VECTOR_BODY)
    assert headers.shop_domain == "shop1.myshopify.io"


def test_the_optional_headers_are_typed() -> None:
    headers = parse_headers(
        {
            **VECTOR_HEADERS,
            TRIGGERED_AT_HEADER: "2025-07-10T16:15:47.000000Z",
            EVENT_ID_HEADER: "59d6d79c-595f-4e7e-bc6f-72f5c3d0c66f",
            NAME_HEADER: "product-sync",
        }
    )
    assert headers.triggered_at == datetime(2025, 7, 10, 16, 15, 47, tzinfo=UTC)
    assert headers.event_id == "59d6d79c-595f-4e7e-bc6f-72f5c3d0c66f"
    assert headers.name == "product-sync"
    with pytest.raises(AttributeError):  # frozen
        headers.topic = "orders/create"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2025-07-10T16:15:47.000000Z", datetime(2025, 7, 10, 16, 15, 47, tzinfo=UTC)),
        ("2025-07-10T18:15:47+02:00", datetime(2025, 7, 10, 16, 15, 47, tzinfo=UTC)),
        ("2025-07-10T16:15:47", None),  # no zone: not guessed
        ("yesterday", None),
        ("", None),
        (None, None),
    ],
)
def test_triggered_at(value: str | None, expected: datetime | None) -> None:
    assert parse_triggered_at(value) == expected


def test_unreadable_optional_headers_are_dropped_not_refused() -> None:
    headers = parse_headers(
        {**VECTOR_HEADERS, TRIGGERED_AT_HEADER: "soon", EVENT_ID_HEADER: "\x00"}
    )
    assert (headers.triggered_at, headers.event_id) == (None, None)


@pytest.mark.parametrize(
    ("raw", "normal"),
    [
        ("example.myshopify.com", "example.myshopify.com"),
        (" Example.MyShopify.com ", "example.myshopify.com"),
        ("https://example.myshopify.com/", "example.myshopify.com"),
    ],
)
def test_shop_domains_are_normalised(raw: str, normal: str) -> None:
    assert normalise_shop_domain(raw) == normal


# ------------------------------------------------------------------ settings


def test_shopify_settings_come_from_their_variables() -> None:
    settings = Settings.from_env(
        {
            "SHOPIFY_SHOP_DOMAIN": "example.myshopify.com",
            "SHOPIFY_ADMIN_TOKEN": "shpat_1",
            "SHOPIFY_WEBHOOK_SECRET": "s",
            "SHOPIFY_API_VERSION": "2026-10",
        }
    ).shopify
    assert (settings.shop_domain, settings.admin_token, settings.webhook_secret) == (
        "example.myshopify.com", "shpat_1", "s"
    )  # fmt: skip
    assert settings.admin_api_url == "https://example.myshopify.com/admin/api/2026-10"
    local = Settings.from_env({"SHOPIFY_API_BASE_URL": "http://127.0.0.1:9/admin/api/x/"})
    assert local.shopify.admin_api_url == "http://127.0.0.1:9/admin/api/x"


def test_shopify_is_off_by_default() -> None:
    settings = Settings().shopify
    assert (settings.shop_domain, settings.admin_token, settings.webhook_secret) == ("", "", "")
    assert (settings.api_base_url, settings.api_version) == ("", "2026-07")
