"""The connectors' store service on a real SQLite file: deduplication (also under concurrency,
from several threads and processes' worth of engines), choices, delivery reports, recovery."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot.store.channel_models import ChannelInbound, ChannelOutbound, InboundStatus
from bot.store.channel_store import ChannelStore
from bot.store.database import Database
from channels.core.messages import Button, InboundMessage

NOW = datetime(2026, 11, 20, 9, tzinfo=UTC)
MENU = (Button("Track my order", "/track_order"), Button("Talk to a person", "/human"))


def message(provider_id: str = "SM1", text: str = "hi", **extra: object) -> InboundMessage:
    values: dict = {"text": text, **extra}
    return InboundMessage("whatsapp", "+14155550123", provider_id, NOW, **values)


@pytest.fixture
def store(channel_database: Database) -> ChannelStore:
    return ChannelStore(channel_database, clock=lambda: NOW)


def test_a_delivery_is_accepted_once(store: ChannelStore) -> None:
    first = store.accept(message())
    assert first is not None and first.message == message()

    assert store.accept(message()) is None
    assert store.accept(message(text="same id, other text")) is None
    assert store.accept(message("SM2")) is not None


def test_concurrent_duplicates_one_winner(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'race.db'}"
    Database(url).migrate()
    # Separate engines, as separate server processes would have.
    stores = [ChannelStore(Database(url)) for _ in range(4)]
    results: list[object] = []
    barrier = threading.Barrier(16)

    def deliver(index: int) -> None:
        barrier.wait()
        results.append(stores[index % 4].accept(message("SM-race")))

    threads = [threading.Thread(target=deliver, args=(i,)) for i in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sum(result is not None for result in results) == 1
    with Database(url).session() as session:
        assert session.execute(select(func.count(ChannelInbound.id))).scalar_one() == 1


def test_a_numbered_reply_picks_the_offered_choice_once(store: ChannelStore) -> None:
    store.offer_choices("whatsapp", "+14155550123", MENU)

    picked = store.accept(message("SM1", "2"))
    again = store.accept(message("SM2", "2"))

    assert picked is not None and picked.message.payload == "/human"
    assert again is not None and again.message.payload is None  # used up by the first reply


def test_any_message_ends_the_offer(store: ChannelStore) -> None:
    store.offer_choices("whatsapp", "+14155550123", MENU)
    store.accept(message("SM1", "actually, where is 10023?"))
    later = store.accept(message("SM2", "1"))
    assert later is not None and later.message.payload is None


def test_choice_tokens_resolve_or_are_stale(store: ChannelStore) -> None:
    store.offer_choices("whatsapp", "+14155550123", MENU)

    tapped = store.accept(message("SM1", None, payload="#choice:1"))
    stale = store.accept(message("SM2", None, payload="#choice:1"))

    assert tapped is not None and (tapped.message.payload, tapped.stale_choice) == (
        "/track_order", False,
    )  # fmt: skip
    assert stale is not None and (stale.message.payload, stale.stale_choice) == (None, True)


def test_the_window_starts_at_the_last_message(store: ChannelStore) -> None:
    assert store.window("whatsapp", "+14155550123").last_inbound_at is None
    store.accept(message("SM1"))
    store.mark_template_sent("whatsapp", "+14155550123")
    window = store.window("whatsapp", "+14155550123")
    assert (window.last_inbound_at, window.template_sent_at) == (NOW, NOW)
    store.mark_template_sent("whatsapp", "+15550000000")  # never wrote: created
    assert store.window("whatsapp", "+15550000000").template_sent_at == NOW


def test_claims_are_exclusive_and_unfinished_ones_are_found(store: ChannelStore) -> None:
    accepted = store.accept(message("SM1"))
    assert accepted is not None
    later = NOW + timedelta(minutes=1)

    assert store.claim(accepted.inbound_id)
    assert not store.claim(accepted.inbound_id)  # someone has it
    [unfinished] = store.unfinished("whatsapp", later)
    assert unfinished.status is InboundStatus.PROCESSING
    assert store.unfinished("whatsapp", NOW) == []  # only what came before this process
    assert store.claim(accepted.inbound_id, recovering=True)

    store.finish(accepted.inbound_id, InboundStatus.PROCESSED)
    assert store.unfinished("whatsapp", later) == []


def test_delivery_reports_never_go_backwards(store: ChannelStore) -> None:
    outbound = store.new_outbound("whatsapp", "+1", "text", {"body": "hi"}, inbound_id=None)
    store.outbound_sent(outbound, "SMout")

    for status in ("sent", "read", "delivered"):
        assert store.record_delivery_status("whatsapp", "SMout", status, None)
    assert not store.record_delivery_status("whatsapp", "SMnope", "read", None)
    with store._database.session() as session:
        row = session.get(ChannelOutbound, outbound)
        assert row is not None and (row.delivery_status, row.attempts) == ("read", 1)
    store.record_delivery_status("whatsapp", "SMout", "failed", "63016")
    with store._database.session() as session:
        row = session.get(ChannelOutbound, outbound)
        assert row is not None and (row.delivery_status, row.delivery_error_code) == (
            "failed", "63016",
        )  # fmt: skip


def test_provider_ids_are_unique_per_recipient_not_per_channel(store: ChannelStore) -> None:
    # Telegram numbers messages per chat: two chats both get message 7.
    first = store.new_outbound("telegram", "111", "text", {"text": "a"}, inbound_id=None)
    second = store.new_outbound("telegram", "222", "text", {"text": "b"}, inbound_id=None)
    store.outbound_sent(first, "7")
    store.outbound_sent(second, "7")  # raised IntegrityError with the per-channel key

    assert store.record_delivery_status("telegram", "7", "read", None, external_id="222")
    with store._database.session() as session:
        statuses = [session.get(ChannelOutbound, i).delivery_status for i in (first, second)]
    assert statuses == [None, "read"]
    # Without the recipient the report is ambiguous: applied to neither.
    assert store.record_delivery_status("telegram", "7", "failed", None)
    with store._database.session() as session:
        assert session.get(ChannelOutbound, first).delivery_status is None


def test_sends_are_reported_by_origin(store: ChannelStore) -> None:
    handoff = store.new_outbound(
        "whatsapp", "+1", "text", {"body": "An agent writes"}, inbound_id=None,
        origin="handoff:17",
    )  # fmt: skip
    store.new_outbound("whatsapp", "+1", "text", {"body": "a reply"}, inbound_id=None)
    store.outbound_sent(handoff, "SMh")
    store.record_delivery_status("whatsapp", "SMh", "delivered", None)

    [report] = store.outbound_by_origin("handoff:17")

    assert (report.id, report.status, report.delivery_status) == (handoff, "sent", "delivered")
    assert report.sent_at == NOW and report.delivery_status_at == NOW
    assert (report.last_error, report.delivery_error_code) == (None, None)
    assert store.outbound_by_origin("handoff:18") == []
    with pytest.raises(ValueError):
        store.new_outbound("whatsapp", "+1", "text", {}, inbound_id=None, origin="x" * 65)
