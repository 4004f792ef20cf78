"""Fuzzing POST /webhooks/store_push/webhook over real HTTP, on SQLite and PostgreSQL: whatever
the body and headers, the answer is 200, 400, 401 or 422 (never a 5xx: the documented 503s
need the store down or the endpoint off), nothing unsigned or stale is ever stored, a signed
body is stored exactly once, and what the intake accepts the handler can apply (no accepted
push ends up failed as unprocessable).

Bodies start from valid pushes made of the demo store's orders, products and stock levels and
are then broken: a value anywhere replaced by any JSON value or removed, bytes flipped, inserted
or cut, any bytes, invalid UTF-8, nesting deeper than the recursion limit. Headers: the
signature right, made with another secret, stale, from the future, random text or absent; the
delivery id good, repeated, random text or absent.
"""

from __future__ import annotations

import copy
import hashlib
import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.platforms.push.records import PushBodyError, parse_body
from bot.platforms.push.signing import DELIVERY_HEADER, SIGNATURE_HEADER, signature_header
from bot.platforms.push.worker import push_worker
from bot.store.platform_inbox import PlatformInbox
from bot.store.platform_models import WebhookStatus
from tests.platforms.test_push_support import (
    TEST_SECRET,
    PushDelivery,
    ServedPush,
    order_record,
    product_record,
    serve_push,
    stock_record,
)
from tests.store.conftest import (  # noqa: F401  (fixtures the PostgreSQL databases come from)
    BACKENDS,
    postgres_server,
    scratch_database,
    scratch_postgres,
)

#: Requests per test and database.
EXAMPLES = 80
SEEDS: list[dict[str, Any]] = [
    {"format_version": 1, "records": [order_record("10023")]},
    {"format_version": 1, "records": [order_record("10028"), stock_record("NW-PRK-SUMMIT-L",
                                                                          "reno", 2)]},
    {"format_version": 1, "records": [product_record("NW-GC-050"),
                                      stock_record("NW-GC-050", "reno", 7)]},
    {"format_version": 1, "records": [order_record("10018")]},  # a return and a refund
]  # fmt: skip
HEADER_TEXT = st.text(
    st.characters(min_codepoint=0x20, max_codepoint=0xFF, blacklist_characters="\x7f"),
    max_size=40,
).map(str.strip)  # requests refuses values with surrounding whitespace
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=8,
)


def _paths(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield path
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _paths(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _paths(item, (*path, index))


@st.composite
def mutated(draw: st.DrawFn) -> dict[str, Any] | Any:
    """A valid push with one value somewhere replaced by any JSON value, or removed."""
    body = copy.deepcopy(draw(st.sampled_from(SEEDS)))
    paths = [path for path in _paths(body) if path]
    path = draw(st.sampled_from(paths))
    parent: Any = body
    for part in path[:-1]:
        parent = parent[part]
    if draw(st.booleans()):
        parent[path[-1]] = draw(JSON_VALUES)
    else:
        del parent[path[-1]]
    return body


@st.composite
def bodies(draw: st.DrawFn) -> bytes:
    form = draw(st.integers(0, 12))
    seed = json.dumps(draw(st.sampled_from(SEEDS))).encode()
    if form <= 1:
        return seed
    if form <= 5:
        return json.dumps(draw(mutated())).encode()
    if form == 6:  # one byte changed
        index = draw(st.integers(0, len(seed) - 1))
        return seed[:index] + bytes([draw(st.integers(0, 255))]) + seed[index + 1 :]
    if form == 7:  # bytes inserted
        index = draw(st.integers(0, len(seed)))
        return seed[:index] + draw(st.binary(min_size=1, max_size=8)) + seed[index:]
    if form == 8:  # cut short
        return seed[: draw(st.integers(0, len(seed) - 1))]
    if form == 9:
        return draw(st.binary(max_size=64))
    if form == 10:
        return b'{"format_version": 1, "records": ' + b"[" * 50_000 + b"]" * 50_000 + b"}"
    if form == 11:  # invalid UTF-8 inside a string
        return seed.replace(b'"', b'"\xed\xa0\x80', 1)
    return json.dumps(draw(JSON_VALUES)).encode()


SIGNINGS = ["right"] * 8 + ["other secret", "stale", "future", "random", "none"]


@st.composite
def deliveries(draw: st.DrawFn) -> tuple[PushDelivery, str, bool]:
    """A request; how it is signed (SIGNINGS); whether its delivery id is well formed."""
    body = draw(bodies())
    headers: dict[str, str] = {"Content-Type": "application/json"}
    now = int(time.time())
    signing = draw(st.sampled_from(SIGNINGS))
    if signing == "right":
        headers[SIGNATURE_HEADER] = signature_header(TEST_SECRET, now, body)
    elif signing == "other secret":
        headers[SIGNATURE_HEADER] = signature_header("not-" + TEST_SECRET, now, body)
    elif signing in ("stale", "future"):
        # A margin over the 300 s allowed: the request is sent a moment after it is drawn
        # (seconds on a loaded machine), which brings a "future" time back towards now.
        offset = draw(st.integers(360, 10**7)) * (-1 if signing == "stale" else 1)
        headers[SIGNATURE_HEADER] = signature_header(TEST_SECRET, now + offset, body)
    elif signing == "random":
        headers[SIGNATURE_HEADER] = draw(HEADER_TEXT | st.just(f"t={now},v1=" + "0" * 64))
    delivery = draw(st.sampled_from(["uuid"] * 6 + ["pool", "missing", "text"]))
    wellformed = delivery in ("uuid", "pool")
    if delivery == "uuid":
        headers[DELIVERY_HEADER] = str(uuid.uuid4())
    elif delivery == "pool":  # ids that repeat across examples
        headers[DELIVERY_HEADER] = draw(st.sampled_from(["d-1", "d-2", "d-3"]))
    elif delivery == "text":
        text = draw(HEADER_TEXT)
        headers[DELIVERY_HEADER] = text
        wellformed = bool(text) and text.isascii() and text.replace("-", "").isalnum()
    return PushDelivery(body, headers), signing, wellformed


def _valid_push(body: bytes) -> bool | None:
    """True: a valid push; False: JSON but no valid push; None: not UTF-8 JSON."""
    try:
        data = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return None
    try:
        parse_body(data)
    except (PushBodyError, RecursionError):
        return False
    return True


@dataclass
class Model:
    """What the inbox must hold: the delivery ids and body digests accepted so far."""

    delivery_ids: set[str] = field(default_factory=set)
    digests: set[str] = field(default_factory=set)
    rows: int = 0


@pytest.fixture(params=BACKENDS)
def served(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ServedPush]:
    with scratch_database(request.param, tmp_path, request) as database:
        database.migrate()
        with serve_push(database) as served:
            yield served


FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                           HealthCheck.data_too_large],
)  # fmt: skip


def test_any_request_is_200_400_401_or_422_and_a_signed_push_is_stored_exactly_once(
    served: ServedPush,
) -> None:
    model = Model()

    @FUZZ
    @given(case=deliveries())
    def check(case: tuple[PushDelivery, str, bool]) -> None:
        delivery, signing, wellformed = case
        answer = delivery.post(served.base_url)
        status = answer.status_code
        rows = served.rows()
        assert status in (200, 400, 401, 422), f"{status} {answer.text[:300]} for {delivery!r:.300}"

        if signing != "right":
            assert status == 401, answer.text[:200]
        elif not wellformed:
            assert status == 400, answer.text[:200]
        else:
            valid = _valid_push(delivery.body)
            assert status == {None: 400, False: 422, True: 200}[valid], answer.text[:300]
        if status != 200:
            assert len(rows) == model.rows, "a refused request changed the inbox"
            return
        delivery_id = delivery.headers[DELIVERY_HEADER]
        digest = hashlib.sha256(delivery.body).hexdigest()
        seen = delivery_id in model.delivery_ids or digest in model.digests
        assert answer.json() == {"status": "duplicate" if seen else "accepted"}
        if not seen:
            model.delivery_ids.add(delivery_id)
            model.digests.add(digest)
            model.rows += 1
            assert rows[-1].body.encode("utf-8") == delivery.body  # byte for byte
            # Again, as the sender's retry and as a replay under a fresh id: stored once.
            fresh_id = delivery.with_headers({DELIVERY_HEADER: str(uuid.uuid4())})
            for again in (delivery, fresh_id):
                assert again.post(served.base_url).json() == {"status": "duplicate"}
        assert len(served.rows()) == len(rows) == model.rows

    check()
    print(f"fuzzing: {model.rows} of {EXAMPLES} requests stored")  # shown with pytest -s
    stored = [hashlib.sha256(row.body.encode("utf-8")).hexdigest() for row in served.rows()]
    assert sorted(stored) == sorted(model.digests)

    # What the intake accepted, the handler can apply: none of it is unprocessable.
    push_worker(served.database).run_pending()
    counts = PlatformInbox(served.database).counts("push")
    assert counts[WebhookStatus.FAILED] == 0, [row.last_error for row in served.rows()]


def test_an_unsigned_request_is_never_stored(served: ServedPush) -> None:
    @FUZZ
    @given(
        body=bodies(),
        headers=st.dictionaries(
            st.sampled_from([SIGNATURE_HEADER, DELIVERY_HEADER, "X-Other", "Content-Type"]),
            HEADER_TEXT | st.just("d-1") | st.just(f"t={int(time.time())},v1=" + "a" * 64),
        ),
    )
    def check(body: bytes, headers: dict[str, Any]) -> None:
        answer = PushDelivery(body, headers).post(served.base_url)
        assert answer.status_code == 401, answer.text[:200]

    check()
    assert served.rows() == []
