"""POST /webhooks/shopify/webhook over real HTTP (bot/platforms/shopify/webhook_input.py),
served as Rasa serves it but without a model: Shopify's own sample payloads, signed as Shopify
signs them, are stored once and acknowledged only once stored; forged, tampered, replayed and
foreign webhooks change nothing."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy import select

from bot import settings as settings_module
from bot.platforms.shopify import webhook_input
from bot.platforms.shopify.webhook_auth import (
    API_VERSION_HEADER,
    HMAC_HEADER,
    SHOP_HEADER,
    TOPIC_HEADER,
    WEBHOOK_ID_HEADER,
    signature,
)
from bot.platforms.shopify.webhook_input import ShopifyWebhookInput
from bot.settings import Settings, use_process_settings
from bot.store.database import Database
from bot.store.platform_models import PlatformWebhook
from tests.platforms.shopify_webhooks import (
    SAMPLE_TOPICS,
    TEST_SECRET,
    TEST_SHOP,
    WEBHOOK_PATH,
    ServedIntake,
    ShopifySender,
    intake_settings,
    sample_body,
    serve_intake,
)

ACCEPTED = {"status": "accepted"}
DUPLICATE = {"status": "duplicate"}


@pytest.fixture
def intake(database: Database) -> Iterator[ServedIntake]:
    with serve_intake(database) as served:
        yield served


@pytest.fixture
def shopify() -> ShopifySender:
    return ShopifySender()


def snapshot(intake: ServedIntake) -> list[dict[str, Any]]:
    return [
        {column.name: getattr(row, column.name) for column in row.__table__.columns}
        for row in intake.rows()
    ]


# ------------------------------------------------------------------ accepted


@pytest.mark.parametrize("name", sorted(SAMPLE_TOPICS))
def test_shopifys_samples_are_stored_byte_for_byte(
    intake: ServedIntake, shopify: ShopifySender, name: str
) -> None:
    delivery = shopify.sample(name)

    answer = delivery.post(intake.base_url)

    assert (answer.status_code, answer.json()) == (200, ACCEPTED)
    [row] = intake.rows()
    assert row.body.encode("utf-8") == sample_body(name)  # what was signed, not re-serialised
    assert (row.platform, row.topic, row.webhook_id) == (
        "shopify", SAMPLE_TOPICS[name], delivery.webhook_id
    )  # fmt: skip
    assert (row.shop_domain, row.api_version, row.status) == (TEST_SHOP, "2026-07", "pending")
    assert row.triggered_at is not None and row.event_id is not None
    assert intake.handed_on == []  # nothing ever reaches the assistant


def test_the_answer_comes_after_the_commit(intake: ServedIntake, shopify: ShopifySender) -> None:
    # No waiting, no polling: by the time Shopify has its 200 the row is readable by anyone.
    for name in SAMPLE_TOPICS:
        assert shopify.sample(name).post(intake.base_url).status_code == 200
        assert intake.rows()[-1].topic == SAMPLE_TOPICS[name]
    assert len(intake.rows()) == len(SAMPLE_TOPICS)


def test_shopifys_retry_is_a_duplicate_and_still_a_success(
    intake: ServedIntake, shopify: ShopifySender
) -> None:
    delivery = shopify.sample("orders_create")
    assert delivery.post(intake.base_url).json() == ACCEPTED
    before = snapshot(intake)

    for _ in range(3):
        answer = delivery.redelivered().post(intake.base_url)
        # Shopify retries anything but a 2xx: a duplicate must not look like a failure.
        assert (answer.status_code, answer.json()) == (200, DUPLICATE)

    assert snapshot(intake) == before


def test_a_replayed_body_under_a_new_webhook_id_changes_nothing(
    intake: ServedIntake, shopify: ShopifySender
) -> None:
    # Only the body is signed: someone who captured a delivery can resend it with any
    # webhook id, topic or timestamp. It is the same signed body, so it is stored once.
    original = shopify.sample("fulfillments_update")
    assert original.post(intake.base_url).json() == ACCEPTED
    before = snapshot(intake)

    replay = original.with_headers(
        {WEBHOOK_ID_HEADER: "replayed-1", TOPIC_HEADER: "orders/cancelled"}
    )
    answer = replay.post(intake.base_url)

    assert (answer.status_code, answer.json()) == (200, DUPLICATE)
    assert snapshot(intake) == before


def test_header_names_in_lower_case_are_accepted(
    intake: ServedIntake, shopify: ShopifySender
) -> None:
    delivery = shopify.sample("refunds_create")
    lowered = type(delivery)(delivery.body, {k.lower(): v for k, v in delivery.headers.items()})
    assert lowered.post(intake.base_url).json() == ACCEPTED


# ------------------------------------------------------------------ refused


def forged_variants(shopify: ShopifySender) -> dict[str, Any]:
    good = shopify.sample("orders_create")
    other_shop = ShopifySender(shop_domain="someone-else.myshopify.com")
    return {
        "no signature": good.with_headers({HMAC_HEADER: None}),
        "empty signature": good.with_headers({HMAC_HEADER: ""}),
        "wrong secret": ShopifySender(secret="not-ours").sample("orders_create"),
        "tampered body": good.with_body(good.body.replace(b'"voided"', b'"paid"')),
        "garbage signature": good.with_headers({HMAC_HEADER: "fake"}),
        "signature of another body": good.with_headers(
            {HMAC_HEADER: signature(TEST_SECRET, b"{}")}
        ),
        "another shop, signed": other_shop.sample("orders_create"),
        "no shop header": good.with_headers({SHOP_HEADER: None}),
    }


@pytest.mark.parametrize(
    "variant",
    ["no signature", "empty signature", "wrong secret", "tampered body", "garbage signature",
     "signature of another body", "another shop, signed", "no shop header"],
)  # fmt: skip
def test_forged_webhooks_are_401_and_store_nothing(
    intake: ServedIntake, shopify: ShopifySender, variant: str
) -> None:
    answer = forged_variants(shopify)[variant].post(intake.base_url)

    assert answer.status_code == 401
    assert answer.json() == {"error": "invalid webhook signature"}  # the same for every case
    assert intake.rows() == []


def test_a_forged_webhook_does_not_touch_an_existing_one(
    intake: ServedIntake, shopify: ShopifySender
) -> None:
    genuine = shopify.sample("orders_create")
    assert genuine.post(intake.base_url).json() == ACCEPTED
    before = snapshot(intake)

    # Same webhook id and headers, another body: if it were stored, it would shadow the real one.
    forged = genuine.with_body(genuine.body.replace(b'"customer"', b'"fraud"'))
    assert forged.post(intake.base_url).status_code == 401
    assert snapshot(intake) == before


@pytest.mark.parametrize("header", [TOPIC_HEADER, API_VERSION_HEADER, WEBHOOK_ID_HEADER])
def test_a_signed_webhook_without_a_required_header_is_400(
    intake: ServedIntake, shopify: ShopifySender, header: str
) -> None:
    answer = shopify.sample("returns_request").with_headers({header: None}).post(intake.base_url)

    assert answer.status_code == 400
    assert header in answer.json()["error"]
    assert intake.rows() == []


@pytest.mark.parametrize(
    "body", [b"", b"not json", b'{"id": 1', b"\xff\xfe{}", b"[" * 100_000 + b"]" * 100_000]
)
def test_a_signed_body_that_is_not_utf8_json_is_400(
    intake: ServedIntake, shopify: ShopifySender, body: bytes
) -> None:
    answer = shopify.webhook("orders/create", body).post(intake.base_url)

    assert answer.status_code == 400
    assert intake.rows() == []


def test_an_oversized_body_is_413(
    intake: ServedIntake, shopify: ShopifySender, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(webhook_input, "MAX_BODY_BYTES", 1000)
    body = b'{"note": "' + b"x" * 1000 + b'"}'

    assert shopify.webhook("orders/create", body).post(intake.base_url).status_code == 413
    assert shopify.webhook("orders/create", b'{"id": 1}').post(intake.base_url).status_code == 200
    assert len(intake.rows()) == 1


def test_only_post(intake: ServedIntake) -> None:
    for method in ("GET", "PUT", "DELETE"):
        answer = requests.request(method, intake.base_url + WEBHOOK_PATH, timeout=10)
        assert answer.status_code == 405, method
    assert requests.get(f"{intake.base_url}/webhooks/shopify/", timeout=10).json() == {
        "status": "ok"
    }


# ------------------------------------------------------------------ off, or the store down


@pytest.mark.parametrize(
    ("changes", "missing"),
    [
        ({"webhook_secret": ""}, ["SHOPIFY_WEBHOOK_SECRET"]),
        ({"shop_domain": ""}, ["SHOPIFY_SHOP_DOMAIN"]),
        ({"webhook_secret": "", "shop_domain": ""}, ["SHOPIFY_WEBHOOK_SECRET",
                                                     "SHOPIFY_SHOP_DOMAIN"]),
    ],
)  # fmt: skip
def test_unconfigured_it_answers_503_saying_what_is_missing(
    database: Database, shopify: ShopifySender, changes: dict[str, str], missing: list[str]
) -> None:
    with serve_intake(database, intake_settings(**changes)) as intake:
        answer = shopify.sample("orders_create").post(intake.base_url)
        health = requests.get(f"{intake.base_url}/webhooks/shopify/", timeout=10).json()

    assert answer.status_code == 503
    assert all(variable in answer.json()["error"] for variable in missing)
    assert health == {"status": "unconfigured", "missing": missing}
    assert intake.rows() == []


def test_a_store_that_cannot_be_written_is_503_and_the_retry_is_stored(
    tmp_path: Path, shopify: ShopifySender
) -> None:
    database = Database(f"sqlite:///{tmp_path / 'down.db'}")  # not migrated: no table
    try:
        with serve_intake(database) as intake:
            delivery = shopify.sample("orders_create")
            answer = delivery.post(intake.base_url)
            assert (answer.status_code, answer.json()) == (
                503,
                {"error": "temporarily unavailable"},
            )

            database.migrate()  # the store is back; Shopify retries the same delivery
            assert delivery.redelivered().post(intake.base_url).json() == ACCEPTED
            assert [row.webhook_id for row in intake.rows()] == [delivery.webhook_id]
    finally:
        database.dispose()


# ------------------------------------------------------------------ built by Rasa


@pytest.fixture
def process_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Settings:
    monkeypatch.setattr(settings_module._ProcessSettings, "current", None)
    settings = Settings.from_env(
        {
            "DATABASE_URL": f"sqlite:///{tmp_path / 'rasa.db'}",
            "SHOPIFY_SHOP_DOMAIN": TEST_SHOP,
            "SHOPIFY_WEBHOOK_SECRET": TEST_SECRET,
        }
    )
    use_process_settings(settings)
    return settings


def test_rasa_builds_it_from_credentials_yml_and_the_process_settings(
    process_settings: Settings,
) -> None:
    channel = ShopifyWebhookInput.from_credentials(None)

    assert isinstance(channel, ShopifyWebhookInput)
    assert channel.name() == channel.url_prefix() == "shopify"
    assert channel.config == process_settings.shopify
    assert channel.missing_settings() == []
    assert channel.get_output_channel() is None
    assert str(channel.inbox.database.url) == process_settings.database_url
    # A key in its credentials.yml entry overrides the setting, as for the connectors.
    override = ShopifyWebhookInput.from_credentials({"shop_domain": "other.myshopify.com"})
    assert isinstance(override, ShopifyWebhookInput)
    assert override.config.shop_domain == "other.myshopify.com"


def test_credentials_yml_lists_it() -> None:
    import yaml

    credentials = yaml.safe_load(
        (Path(__file__).resolve().parents[2] / "credentials.yml").read_text(encoding="utf-8")
    )
    assert "bot.platforms.shopify.webhook_input.ShopifyWebhookInput" in credentials


def test_mounted_by_rasas_own_code_from_credentials_yml(
    process_settings: Settings, shopify: ShopifySender
) -> None:
    # What `rasa run` does with credentials.yml: build every listed channel, mount each
    # blueprint under /webhooks/<name>/. No model is needed for the webhook path.
    from rasa.core.channels.channel import register
    from rasa.core.run import create_http_input_channels
    from sanic import Sanic

    from channels.core.channel import shared_database
    from channels.webchat.devserver import AppServer

    shared_database(process_settings.database_url).migrate()
    credentials = Path(__file__).resolve().parents[2] / "credentials.yml"
    channels = create_http_input_channels(None, str(credentials))
    [ours] = [channel for channel in channels if isinstance(channel, ShopifyWebhookInput)]
    app = Sanic(f"rasa_like_{uuid.uuid4().hex[:8]}")
    app.config.MOTD = False
    register(channels, app, route="/webhooks/")

    with AppServer(app) as server:
        delivery = shopify.sample("orders_create")
        assert delivery.post(server.base_url).json() == ACCEPTED
        assert delivery.post(server.base_url).json() == DUPLICATE
        forged = ShopifySender(secret="not-ours").sample("orders_create")
        assert forged.post(server.base_url).status_code == 401

    with ours.inbox.database.session() as session:
        stored = session.execute(select(PlatformWebhook.webhook_id)).scalars().all()
    assert stored == [delivery.webhook_id]
