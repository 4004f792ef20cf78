"""Fuzzing POST /webhooks/shopify/webhook over real HTTP, on SQLite and PostgreSQL: whatever
the body and headers, the answer is 200, 400 or 401 (never a 5xx: the documented 503s need the
store down or the endpoint off), nothing unsigned is ever stored, and a signed body is stored
exactly once, however often and under whichever webhook id it comes again.

Bodies start from Shopify's own samples (../shared/fixtures/shopify/webhooks) and are then
broken: bytes flipped, inserted or cut, any JSON value, any bytes, invalid UTF-8, nesting
deeper than the recursion limit. Headers are dropped, or replaced by any text (control and
non-ASCII characters included), and the signature is right, made with another secret, random,
or absent.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.platforms.shopify.webhook_auth import (
    API_VERSION_HEADER,
    EVENT_ID_HEADER,
    HMAC_HEADER,
    SHOP_HEADER,
    TOPIC_HEADER,
    TRIGGERED_AT_HEADER,
    WEBHOOK_ID_HEADER,
    signature,
)
from tests.platforms.shopify_webhooks import (
    SAMPLE_TOPICS,
    TEST_SECRET,
    TEST_SHOP,
    ServedIntake,
    ShopifyDelivery,
    sample_body,
    serve_intake,
)
from tests.store.conftest import (  # noqa: F401  (fixtures the PostgreSQL databases come from)
    BACKENDS,
    postgres_server,
    scratch_database,
    scratch_postgres,
)

#: Requests per test and database.
EXAMPLES = 80
SAMPLES = [sample_body(name) for name in sorted(SAMPLE_TOPICS)]
HEADER_TEXT = st.text(
    st.characters(min_codepoint=0x20, max_codepoint=0xFF, blacklist_characters="\x7f"),
    max_size=40,
).map(str.strip)  # requests refuses values with surrounding whitespace
#: Values that look right, and a few that do not.
TOKENS = {
    TOPIC_HEADER: st.sampled_from(["orders/create", "orders/updated", "refunds/create"]),
    API_VERSION_HEADER: st.sampled_from(["2026-07", "2026-10", "unstable"]),
    # A small pool, so that ids repeat across examples.
    WEBHOOK_ID_HEADER: st.sampled_from(["w-1", "w-2", "w-3"]) | st.uuids().map(str),
}
SHOPS = {
    "ours": st.just(TEST_SHOP),
    "upper": st.just(TEST_SHOP.upper()),
    "other": st.just("other.myshopify.com"),
    "text": HEADER_TEXT,
}
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=8,
)


@st.composite
def bodies(draw: st.DrawFn) -> bytes:
    body = draw(st.sampled_from(SAMPLES))
    form = draw(st.integers(0, 13))
    if form == 0:
        return body
    if form == 1:  # one byte changed
        index = draw(st.integers(0, len(body) - 1))
        return body[:index] + bytes([draw(st.integers(0, 255))]) + body[index + 1 :]
    if form == 2:  # bytes inserted
        index = draw(st.integers(0, len(body)))
        return body[:index] + draw(st.binary(min_size=1, max_size=8)) + body[index:]
    if form == 3:  # cut short
        return body[: draw(st.integers(0, len(body) - 1))]
    if form == 4:
        return draw(st.binary(max_size=64))
    if form == 5:
        return b"[" * 50_000 + b"]" * 50_000
    if form == 6:  # invalid UTF-8 inside a string
        return body.replace(b'"', b'"\xed\xa0\x80', 1)
    return json.dumps(draw(JSON_VALUES)).encode()


@st.composite
def deliveries(draw: st.DrawFn) -> tuple[ShopifyDelivery, str, bool]:
    """A request; how it is signed ("right", "other secret", "random" or "none"); whether its
    required headers all look right."""
    body = draw(bodies())
    headers: dict[str, str] = {"Content-Type": "application/json"}
    wellformed = True
    for name, good in TOKENS.items():
        choice = draw(st.sampled_from(["good"] * 10 + ["missing", "text"]))
        wellformed = wellformed and choice == "good"
        if choice == "good":
            headers[name] = draw(good)
        elif choice == "text":
            headers[name] = draw(HEADER_TEXT)
    shop = draw(st.sampled_from(["ours"] * 6 + ["upper", "other", "text", "missing"]))
    if shop != "missing":
        headers[SHOP_HEADER] = draw(SHOPS[shop])
    if draw(st.booleans()):
        headers[TRIGGERED_AT_HEADER] = draw(st.sampled_from(["2026-12-01T09:00:00.000000Z", "x"]))
        headers[EVENT_ID_HEADER] = draw(HEADER_TEXT | st.uuids().map(str))
    signing = draw(st.sampled_from(["right"] * 7 + ["other secret", "random", "none"]))
    if signing == "right":
        headers[HMAC_HEADER] = signature(TEST_SECRET, body)
    elif signing == "other secret":
        headers[HMAC_HEADER] = signature("not-" + TEST_SECRET, body)
    elif signing == "random":
        headers[HMAC_HEADER] = draw(HEADER_TEXT)
    return ShopifyDelivery(body, headers), signing, wellformed


def _valid_json(body: bytes) -> bool:
    try:
        json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return False
    return True


@dataclass
class Model:
    """What the inbox must hold: the ids and body digests accepted so far."""

    webhook_ids: set[str] = field(default_factory=set)
    digests: set[str] = field(default_factory=set)
    rows: int = 0


@pytest.fixture(params=BACKENDS)
def intake(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ServedIntake]:
    with scratch_database(request.param, tmp_path, request) as database:
        database.migrate()
        with serve_intake(database) as served:
            yield served


FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                           HealthCheck.data_too_large],
)  # fmt: skip


def test_any_request_is_200_400_or_401_and_a_signed_body_is_stored_exactly_once(
    intake: ServedIntake,
) -> None:
    model = Model()

    @FUZZ
    @given(case=deliveries())
    def check(case: tuple[ShopifyDelivery, str, bool]) -> None:
        delivery, signing, wellformed = case
        answer = delivery.post(intake.base_url)
        status = answer.status_code
        rows = intake.rows()
        assert status in (200, 400, 401), f"{status} {answer.text[:200]} for {delivery!r:.300}"

        shop = delivery.headers.get(SHOP_HEADER, "").strip().lower()
        if signing != "right" or shop != TEST_SHOP:
            assert status == 401
        elif wellformed and _valid_json(delivery.body):
            assert status == 200, answer.text[:200]
        if status != 200:
            assert len(rows) == model.rows, "a refused request changed the inbox"
            return
        assert signing == "right" and _valid_json(delivery.body)
        webhook_id = delivery.headers[WEBHOOK_ID_HEADER]
        digest = hashlib.sha256(delivery.body).hexdigest()
        seen = webhook_id in model.webhook_ids or digest in model.digests
        assert answer.json() == {"status": "duplicate" if seen else "accepted"}
        if not seen:
            model.webhook_ids.add(webhook_id)
            model.digests.add(digest)
            model.rows += 1
            assert rows[-1].body.encode("utf-8") == delivery.body  # byte for byte
            # Again, as Shopify's retry and as a replay under a fresh id: stored once.
            fresh_id = delivery.with_headers({WEBHOOK_ID_HEADER: str(uuid.uuid4())})
            for again in (delivery, fresh_id):
                assert again.post(intake.base_url).json() == {"status": "duplicate"}
        assert len(intake.rows()) == len(rows) == model.rows

    check()
    print(f"fuzzing: {model.rows} of {EXAMPLES} requests stored")  # shown with pytest -s
    stored = [hashlib.sha256(row.body.encode("utf-8")).hexdigest() for row in intake.rows()]
    assert sorted(stored) == sorted(model.digests)


def test_an_unsigned_request_is_never_stored(intake: ServedIntake) -> None:
    @FUZZ
    @given(
        body=bodies(),
        headers=st.dictionaries(
            st.sampled_from([HMAC_HEADER, TOPIC_HEADER, SHOP_HEADER, API_VERSION_HEADER,
                             WEBHOOK_ID_HEADER, EVENT_ID_HEADER, "X-Other"]),
            HEADER_TEXT | st.just(TEST_SHOP) | st.just("w-1"),
        ),
    )  # fmt: skip
    def check(body: bytes, headers: dict[str, Any]) -> None:
        if headers.get(HMAC_HEADER) == signature(TEST_SECRET, body):  # astronomically unlikely
            return
        answer = ShopifyDelivery(body, headers).post(intake.base_url)
        assert answer.status_code == 401, answer.text[:200]

    check()
    assert intake.rows() == []


def test_the_unbroken_samples_are_accepted(intake: ServedIntake) -> None:
    # The fuzzing starts from these; each is a valid webhook as Shopify sends it.
    for body in SAMPLES:
        headers = {
            HMAC_HEADER: signature(TEST_SECRET, body),
            SHOP_HEADER: TEST_SHOP,
            TOPIC_HEADER: "orders/create",
            API_VERSION_HEADER: "2026-07",
            WEBHOOK_ID_HEADER: str(uuid.uuid4()),
        }
        assert ShopifyDelivery(body, headers).post(intake.base_url).json() == {"status": "accepted"}
    assert len(intake.rows()) == len(SAMPLES)
