"""POST /webhooks/store_push/webhook over real HTTP (bot/platforms/push/webhook_input.py),
served as Rasa serves it but without a model, on a migrated SQLite store: signed pushes are
stored once and acknowledged only once stored; forged, tampered, stale and replayed pushes
change nothing; invalid records are refused with every problem named before anything is
stored; with the worker the Rasa server starts, a push becomes the store's state."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy import select

from bot import settings as settings_module
from bot.platforms.inbox_worker import run_with_server
from bot.platforms.push import webhook_input
from bot.platforms.push.signing import DELIVERY_HEADER, SIGNATURE_HEADER, signature_header
from bot.platforms.push.webhook_input import StorePushInput
from bot.platforms.push.worker import push_worker
from bot.settings import Settings, use_process_settings
from bot.store.database import Database
from bot.store.platform_models import PlatformWebhook
from bot.store.repository import StoreRepository
from tests.platforms.test_push_support import (
    PUSH_PATH,
    TEST_SECRET,
    PushSender,
    ServedPush,
    order_record,
    product_record,
    push_body,
    push_settings,
    serve_push,
    stock_record,
)

ROOT = Path(__file__).resolve().parents[2]
ACCEPTED = {"status": "accepted"}
DUPLICATE = {"status": "duplicate"}
UNAUTHORISED = {"error": "invalid signature"}


@pytest.fixture
def served(database: Database) -> Iterator[ServedPush]:
    with serve_push(database) as served:
        yield served


@pytest.fixture
def sender() -> PushSender:
    return PushSender()


def snapshot(served: ServedPush) -> list[dict[str, Any]]:
    return [
        {column.name: getattr(row, column.name) for column in row.__table__.columns}
        for row in served.rows()
    ]


BODY = push_body(order_record("10023"), product_record("NW-GC-050"),
                 stock_record("NW-GC-050", "reno", 4))  # fmt: skip


# ------------------------------------------------------------------ accepted


def test_a_signed_push_is_stored_byte_for_byte_before_the_answer(
    served: ServedPush, sender: PushSender
) -> None:
    delivery = sender.delivery(BODY)
    signed_at = int(delivery.headers[SIGNATURE_HEADER].split(",")[0].removeprefix("t="))

    answer = delivery.post(served.base_url)

    assert (answer.status_code, answer.json()) == (200, ACCEPTED)
    # No waiting: by the time the sender has its 200 the row is there for anyone to read.
    [row] = served.rows()
    assert row.body.encode("utf-8") == BODY
    assert (row.platform, row.webhook_id, row.event_id, row.topic, row.status) == (
        "push", delivery.delivery_id, delivery.delivery_id, "records", "pending"
    )  # fmt: skip
    assert row.triggered_at is not None and int(row.triggered_at.timestamp()) == signed_at
    assert served.handed_on == []  # nothing ever reaches the assistant


def test_the_senders_retry_is_a_duplicate_and_still_a_success(
    served: ServedPush, sender: PushSender
) -> None:
    delivery = sender.delivery(BODY)
    assert delivery.post(served.base_url).json() == ACCEPTED
    before = snapshot(served)

    # A retry: the same delivery id, signed anew a little later.
    retry = sender.delivery(BODY, delivery_id=delivery.delivery_id, timestamp=int(time.time()) + 2)
    answer = retry.post(served.base_url)

    assert (answer.status_code, answer.json()) == (200, DUPLICATE)
    assert snapshot(served) == before


def test_a_replayed_body_under_a_new_delivery_id_changes_nothing(
    served: ServedPush, sender: PushSender
) -> None:
    # The delivery id is not signed: a captured push resent within the skew with another id
    # is still the same signed body, stored once.
    delivery = sender.delivery(BODY)
    assert delivery.post(served.base_url).json() == ACCEPTED
    before = snapshot(served)

    replay = delivery.with_headers({DELIVERY_HEADER: "replayed-1"})
    answer = replay.post(served.base_url)

    assert (answer.status_code, answer.json()) == (200, DUPLICATE)
    assert snapshot(served) == before


def test_rotating_the_secret_loses_no_push(database: Database) -> None:
    old, new = "old-secret-0123456789abcdef", "new-secret-0123456789abcdef"
    both = PushSender(secrets=(old, new))  # the shop signs with both during the switch
    with serve_push(database, push_settings(secret=old)) as served:
        assert both.delivery(push_body(product_record("NW-GC-050"))).post(
            served.base_url
        ).json() == ACCEPTED  # fmt: skip
    with serve_push(database, push_settings(secret=new)) as served:  # relaydesk switched
        body = push_body(product_record("NW-BTL-INS750"))
        assert both.delivery(body).post(served.base_url).json() == ACCEPTED
        # The shop stopped signing with the old secret too late? Only the new one counts now.
        stale_sender = PushSender(secrets=(old,))
        body = push_body(product_record("NW-PCK-SWITCH28"))
        assert stale_sender.delivery(body).post(served.base_url).status_code == 401
    assert len(served.rows()) == 2


# ------------------------------------------------------------------ refused: authentication


def forged_variants(sender: PushSender) -> dict[str, Any]:
    good = sender.delivery(BODY)
    now = int(time.time())
    return {
        "no signature": good.with_headers({SIGNATURE_HEADER: None}),
        "empty signature": good.with_headers({SIGNATURE_HEADER: ""}),
        "wrong secret": PushSender(secrets=("not-ours",)).delivery(BODY),
        "tampered body": good.with_body(BODY.replace(b'"shipped"', b'"cancelled"', 1)),
        "garbage signature": good.with_headers({SIGNATURE_HEADER: "t=1,v1=fake"}),
        "signature of another body": good.with_headers(
            {SIGNATURE_HEADER: signature_header(TEST_SECRET, now, b"{}")}
        ),
        "stale, 10 minutes old": sender.delivery(BODY, timestamp=now - 600),
        "from the future": sender.delivery(BODY, timestamp=now + 600),
        "a week-old capture": sender.delivery(BODY, timestamp=now - 7 * 86_400),
    }


VARIANTS = ["no signature", "empty signature", "wrong secret", "tampered body",
            "garbage signature", "signature of another body", "stale, 10 minutes old",
            "from the future", "a week-old capture"]  # fmt: skip


@pytest.mark.parametrize("variant", VARIANTS)
def test_unauthentic_pushes_are_401_and_store_nothing(
    served: ServedPush, sender: PushSender, variant: str
) -> None:
    answer = forged_variants(sender)[variant].post(served.base_url)

    assert answer.status_code == 401
    assert answer.json() == UNAUTHORISED  # the same for every case
    assert served.rows() == []


def test_a_forged_push_under_an_existing_delivery_id_changes_nothing(
    served: ServedPush, sender: PushSender, database: Database
) -> None:
    genuine = sender.delivery(BODY)
    assert genuine.post(served.base_url).json() == ACCEPTED
    before = snapshot(served)

    forged = genuine.with_body(BODY.replace(b'"available": 4', b'"available": 4000'))
    assert forged.post(served.base_url).status_code == 401
    assert snapshot(served) == before
    # And nothing downstream: the worker applies what is stored, the genuine push.
    assert push_worker(database).run_pending() == 1
    assert StoreRepository(database).find_order("10023") is not None


# ------------------------------------------------------------------ refused: malformed


@pytest.mark.parametrize("delivery_id", [None, "", "has space", "x" * 129, "ünïcode"])
def test_a_signed_push_without_a_usable_delivery_id_is_400(
    served: ServedPush, sender: PushSender, delivery_id: str | None
) -> None:
    delivery = sender.delivery(BODY).with_headers({DELIVERY_HEADER: None})
    if delivery_id is not None:
        delivery.headers[DELIVERY_HEADER] = delivery_id
    answer = requests.post(
        served.base_url + PUSH_PATH,
        data=delivery.body,
        headers={k: v.encode("utf-8") for k, v in delivery.headers.items()},
        timeout=30,
    )

    assert answer.status_code == 400
    assert DELIVERY_HEADER in answer.json()["error"]
    assert served.rows() == []


@pytest.mark.parametrize(
    "body", [b"", b"not json", b'{"records": [', b"\xff\xfe{}", b"[" * 100_000 + b"]" * 100_000]
)
def test_a_signed_body_that_is_not_utf8_json_is_400(
    served: ServedPush, sender: PushSender, body: bytes
) -> None:
    answer = sender.delivery(body).post(served.base_url)

    assert answer.status_code == 400
    assert answer.json() == {"error": "the body is not UTF-8 JSON"}
    assert served.rows() == []


def test_invalid_records_are_422_listing_every_problem_and_nothing_is_stored(
    served: ServedPush, sender: PushSender
) -> None:
    def broken_parcel(order: dict[str, Any]) -> None:
        del order["shipments"][0]["carrier"]
        order["total"] = "1.00"

    body = push_body(
        order_record("10024"),  # fine: the others must not be stored with it either
        order_record("10023", change=broken_parcel),
        product_record("NW-GC-050", price=50),
        stock_record("NW-GC-050", "reno", -1, updated_at="yesterday"),
        {"type": "refund", "amount": "5.00"},
    )

    answer = sender.delivery(body).post(served.base_url)

    assert answer.status_code == 422
    assert answer.json() == {
        "error": "invalid push",
        "problems": [
            "records[1] (order 10023): order: shipments[0]: 'carrier' is a required property",
            "records[1] (order 10023): order: total 1.00 is not subtotal + shipping_total + "
            "tax_total (231.37)",
            "records[2] (product NW-GC-050): product: price: 50 is not of type 'string'",
            "records[3] (stock NW-GC-050 at reno): updated_at must be an ISO 8601 date-time "
            "with an offset, not 'yesterday'",
            "records[4]: type must be 'order', 'product' or 'stock', not 'refund'",
        ],
    }
    assert served.rows() == []


def other_buyer() -> dict[str, Any]:
    record = order_record("10023")
    record["customer"]["email"] = "someone.else@example.com"
    return record


def stray_product() -> dict[str, Any]:
    record = order_record("10023")
    record["products"].append(product_record("NW-GC-050")["product"])
    return record


def with_field(record: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {**record, **fields}


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ({"records": [{}]}, "body: format_version must be 1, not None"),
        ({"format_version": 2, "records": []}, "body: format_version must be 1, not 2"),
        ({"format_version": 1, "records": []}, "body: records must be a non-empty array"),
        ({"format_version": 1, "records": {}}, "body: records must be a non-empty array"),
        ([1, 2], "body: must be a JSON object with format_version and records"),
        ({"format_version": 1, "records": [stock_record("A", "x", 1)], "extra": 1},
         "body: unknown field(s) 'extra'"),
        ({"format_version": 1, "records": [stock_record("A", "x", 1), stock_record("A", "x", 2)]},
         "records[1]: stock level 'A at x' is also in records[0]; push each once, in its latest "
         "state"),
        ({"format_version": 1, "records": [order_record("10023"), order_record("10023")]},
         "records[1]: order '10023' is also in records[0]; push each once, in its latest state"),
        ({"format_version": 1, "records": [order_record("10023", change=lambda order: order[
            "shipments"][0]["events"][0].update(status=["in_transit"]))]},
         "records[0] (order 10023): order: shipments[0].events[0].status: ['in_transit'] is "
         "not of type 'string'"),
        # Found by the fuzzing: values of types that cannot be looked up (500s, before).
        ({"format_version": 1, "records": [{"type": ["order"]}]},
         "records[0]: type must be 'order', 'product' or 'stock', not ['order']"),
        ({"format_version": 1, "records": [with_field(order_record("10023"),
                                                      products=[{"sku": ["x"]}])]},
         "records[0] (order 10023): products[0]: sku: ['x'] is not of type 'string'"),
        ({"format_version": 1, "records": [other_buyer()]},
         "records[0] (order 10023): order.customer 'ava.martin@example.com' is not "
         "customer.email 'someone.else@example.com'"),
        ({"format_version": 1, "records": [stray_product()]},
         "records[0] (order 10023): products[2]: sku 'NW-GC-050' is on no line"),
        ({"format_version": 1, "records": [with_field(order_record("10023"), products=[1])]},
         "records[0] (order 10023): products[0]: must be a product record"),
        ({"format_version": 1, "records": [with_field(stock_record("A", "x", 1), note="hi")]},
         "records[0] (stock A at x): unknown field 'note'"),
        ({"format_version": 1, "records": [stock_record("A", "line\nbreak", 1)]},
         "records[0] (stock A): location must be 1-255 characters of text, "
         "not 'line\\nbreak'"),
        ({"format_version": 1, "records": [stock_record("A", "x", True)]},
         "records[0] (stock A at x): available must be a whole number of units, not True"),
        ({"format_version": 1, "records": [order_record("10023", with_products=False)]},
         "records[0] (order 10023): order: line with sku 'NW-JKT-STORM-WS' needs a name, or a "
         "product record for that sku in products"),
    ],
)  # fmt: skip
def test_a_body_that_is_no_push_is_422_naming_the_problem(
    served: ServedPush, sender: PushSender, body: Any, problem: str
) -> None:
    answer = sender.delivery(json.dumps(body).encode()).post(served.base_url)

    assert answer.status_code == 422
    assert problem in answer.json()["problems"]
    assert served.rows() == []


def test_too_many_records_are_refused(served: ServedPush, sender: PushSender) -> None:
    body = push_body(*[stock_record("NW-GC-050", f"loc-{i}", i) for i in range(501)])
    answer = sender.delivery(body).post(served.base_url)
    assert answer.status_code == 422
    assert answer.json()["problems"] == ["body: 501 records, at most 500 per push"]


def test_an_oversized_body_is_413(
    served: ServedPush, sender: PushSender, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(webhook_input, "MAX_BODY_BYTES", 1000)
    big = push_body(stock_record("NW-GC-050", "x" * 200, 1), *[
        stock_record("NW-GC-050", f"loc-{i}", i) for i in range(20)
    ])  # fmt: skip
    assert len(big) > 1000

    assert sender.delivery(big).post(served.base_url).status_code == 413
    small = push_body(stock_record("NW-GC-050", "reno", 1))
    assert sender.delivery(small).post(served.base_url).status_code == 200
    assert len(served.rows()) == 1


def test_only_post(served: ServedPush) -> None:
    for method in ("GET", "PUT", "DELETE"):
        answer = requests.request(method, served.base_url + PUSH_PATH, timeout=10)
        assert answer.status_code == 405, method
    health = requests.get(f"{served.base_url}/webhooks/store_push/", timeout=10)
    assert health.json() == {"status": "ok"}


# ------------------------------------------------------------------ off, or the store down


def test_unconfigured_it_answers_503_saying_what_is_missing(
    database: Database, sender: PushSender
) -> None:
    with serve_push(database, push_settings(secret="")) as served:
        answer = sender.delivery(BODY).post(served.base_url)
        health = requests.get(f"{served.base_url}/webhooks/store_push/", timeout=10).json()

    assert answer.status_code == 503
    assert "STORE_PUSH_SECRET" in answer.json()["error"]
    assert health == {"status": "unconfigured", "missing": ["STORE_PUSH_SECRET"]}
    assert served.rows() == []


def test_a_store_that_cannot_be_written_is_503_and_the_retry_is_stored(
    tmp_path: Path, sender: PushSender
) -> None:
    database = Database(f"sqlite:///{tmp_path / 'down.db'}")  # not migrated: no table
    try:
        with serve_push(database) as served:
            delivery = sender.delivery(BODY)
            answer = delivery.post(served.base_url)
            assert (answer.status_code, answer.json()) == (
                503,
                {"error": "temporarily unavailable"},
            )

            database.migrate()  # the store is back; the sender retries the same delivery
            retry = sender.delivery(BODY, delivery_id=delivery.delivery_id)
            assert retry.post(served.base_url).json() == ACCEPTED
            assert [row.webhook_id for row in served.rows()] == [delivery.delivery_id]
    finally:
        database.dispose()


# ------------------------------------------------------------------ the worker, with the server


def wait_for(condition: Any, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "not within the time"
        time.sleep(0.05)


def test_the_server_starts_the_worker_and_a_push_becomes_the_stores_state(
    database: Database, sender: PushSender
) -> None:
    worker = push_worker(database, poll_interval=0.05)
    store = StoreRepository(database)
    try:
        with serve_push(database, worker=worker) as served:
            assert sender.delivery(BODY).post(served.base_url).json() == ACCEPTED
            wait_for(lambda: store.find_order("10023") is not None)
            wait_for(lambda: served.rows()[0].status == "done")
    finally:
        worker.stop()
    order = store.find_order("10023")
    assert order is not None and order.shipments[0].tracking_number == "1Z999AA10123456784"


def test_the_worker_stops_before_the_server_does(database: Database) -> None:
    # The test servers never run Sanic's stop events; the listeners are called as Sanic would.
    import asyncio

    from sanic import Blueprint

    worker = push_worker(database, poll_interval=0.05)
    blueprint = Blueprint(f"push_{uuid.uuid4().hex[:8]}")
    run_with_server(blueprint, lambda: worker)
    listeners = {future.event: future.listener for future in blueprint._future_listeners}
    assert set(listeners) == {"after_server_start", "before_server_stop"}

    async def event(name: str) -> None:
        outcome = listeners[name](None, asyncio.get_running_loop())
        assert outcome is not None  # ours are coroutines
        await outcome

    async def lifetime() -> tuple[bool, bool]:
        await event("after_server_start")
        thread = worker._thread
        running = thread is not None and thread.is_alive()
        await event("before_server_stop")
        return running, thread is not None and not thread.is_alive()

    assert asyncio.run(lifetime()) == (True, True)
    assert worker._thread is None


def test_unconfigured_no_worker_is_started(database: Database) -> None:
    worker = push_worker(database)
    with serve_push(database, push_settings(secret=""), worker=worker):
        assert worker._thread is None


# ------------------------------------------------------------------ built by Rasa


@pytest.fixture
def process_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Settings:
    monkeypatch.setattr(settings_module._ProcessSettings, "current", None)
    settings = Settings.from_env(
        {
            "DATABASE_URL": f"sqlite:///{tmp_path / 'rasa.db'}",
            "STORE_PUSH_SECRET": TEST_SECRET,
            "STORE_PUSH_MAX_SKEW_SECONDS": "60",
        }
    )
    use_process_settings(settings)
    return settings


def test_rasa_builds_it_from_credentials_yml_and_the_process_settings(
    process_settings: Settings,
) -> None:
    channel = StorePushInput.from_credentials(None)

    assert isinstance(channel, StorePushInput)
    assert channel.name() == channel.url_prefix() == "store_push"
    assert channel.config == process_settings.store_push
    assert channel.config.max_skew_seconds == 60
    assert channel.missing_settings() == []
    assert channel.get_output_channel() is None
    assert channel.worker is not None
    assert str(channel.inbox.database.url) == process_settings.database_url
    override = StorePushInput.from_credentials({"secret": "from-credentials-yml"})
    assert isinstance(override, StorePushInput)
    assert override.config.secret == "from-credentials-yml"


def test_credentials_yml_lists_it() -> None:
    import yaml

    credentials = yaml.safe_load((ROOT / "credentials.yml").read_text(encoding="utf-8"))
    assert "bot.platforms.push.webhook_input.StorePushInput" in credentials
    assert credentials["bot.platforms.push.webhook_input.StorePushInput"] is None


def test_mounted_by_rasas_own_code_with_its_worker(
    process_settings: Settings, sender: PushSender
) -> None:
    # What `rasa run` does with credentials.yml: build every listed channel, mount each
    # blueprint under /webhooks/<name>/; the server's start starts the push worker.
    from rasa.core.channels.channel import register
    from rasa.core.run import create_http_input_channels
    from sanic import Sanic

    from channels.core.channel import shared_database
    from channels.webchat.devserver import AppServer

    database = shared_database(process_settings.database_url)
    database.migrate()
    channels = create_http_input_channels(None, str(ROOT / "credentials.yml"))
    [ours] = [channel for channel in channels if isinstance(channel, StorePushInput)]
    app = Sanic(f"rasa_like_{uuid.uuid4().hex[:8]}")
    app.config.MOTD = False
    register(channels, app, route="/webhooks/")
    store = StoreRepository(database)

    try:
        with AppServer(app) as server:
            delivery = sender.delivery(BODY)
            assert delivery.post(server.base_url).json() == ACCEPTED
            assert delivery.post(server.base_url).json() == DUPLICATE
            forged = PushSender(secrets=("not-ours",)).delivery(push_body(order_record("10024")))
            assert forged.post(server.base_url).status_code == 401
            wait_for(lambda: store.find_order("10023") is not None)
    finally:
        assert ours.worker is not None
        ours.worker.stop()

    with database.session() as session:
        stored = session.execute(select(PlatformWebhook.webhook_id)).scalars().all()
    assert stored == [delivery.delivery_id]
    assert store.find_order("10024") is None
