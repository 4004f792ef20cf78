"""bot/platforms/shopify/order_changes.py: cancellations, address changes and returns made on
Shopify exactly once, over real HTTP against the fake Admin API (tests/platforms/
fake_shopify_api.py) with a migrated SQLite store.

The re-read (`refresh_order`) is a small real one: the fake's order as its REST webhook body,
through bot/platforms/shopify/mapping.py and PlatformSync into the store, as a webhook or the
Admin API reader will bring it. It counts its calls.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import pytest
from sqlalchemy import func, select

from bot.domain.views import OrderView
from bot.domain.vocabulary import ItemCondition, ReturnReason
from bot.platforms.shopify.admin_api import ShopifyAdminClient
from bot.platforms.shopify.mapping import RETURN_REASONS, map_order
from bot.platforms.shopify.order_changes import (
    SHOPIFY_RETURN_REASONS,
    CancelOptions,
    Refusal,
    ShopifyChangeRefused,
    ShopifyOrderChanges,
    address_key,
    address_matches,
    cancel_key,
    customer_note,
    mailing_address_input,
    return_key,
    rma_number_for_return,
    shopify_return_reason,
    split_quantity,
)
from bot.platforms.shopify.sync import order_update
from bot.store.database import Database
from bot.store.errors import StoreUnavailableError
from bot.store.models import Order, Refund, ReturnRequest
from bot.store.order_commands import Attachment, NewAddress, OrderChangeConflict, OrderCommands
from bot.store.platform_commands import DEFAULT_LEASE, CommandLog
from bot.store.platform_models import CommandStatus
from bot.store.platform_sync import PlatformSync
from bot.store.repository import StoreRepository
from tests.platforms.fake_shopify_api import FakeShopify, Line

NEW = NewAddress("22 Rideau St", "Unit 4", "Ottawa", "ON", "K1N 5Y3", "CA")
OTHER = NewAddress("5 Elgin St", None, "Ottawa", "ON", "K2P 1L4", "CA")
PHOTO = Attachment("https://media.example/photo-1.jpg", "image/jpeg")


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


class Killed(BaseException):
    """The process dies (a BaseException: nothing catches it on the way out)."""


class DyingClient:
    """The real client, but the process dies around the mutation: after Shopify did it (the
    answer never read) or before the request left."""

    def __init__(self, client: ShopifyAdminClient, *, after_sending: bool) -> None:
        self._client = client
        self._after = after_sending

    def execute(self, document: str, variables: Any = None, **options: Any) -> Any:
        return self._client.execute(document, variables, **options)

    def mutate(self, document: str, variables: Any = None, **options: Any) -> Any:
        if self._after:
            self._client.mutate(document, variables, **options)
        raise Killed


@dataclass
class Shop:
    fake: FakeShopify
    database: Database
    sync: PlatformSync
    store: StoreRepository
    log: CommandLog
    clock: Clock
    refreshed: list[str] = field(default_factory=list)

    def refresh(self, number: str) -> OrderView | None:
        self.refreshed.append(number)
        mapped = map_order(json.loads(self.fake.webhook_body(f"gid://shopify/Order/{number}")))
        self.sync.apply_order(order_update(mapped, read_now=True))
        return self.store.find_order(number)

    def changes(self, client: Any = None, **options: Any) -> ShopifyOrderChanges:
        return ShopifyOrderChanges(
            cast(ShopifyAdminClient, client or self.fake.client()),
            self.log,
            self.sync,
            self.refresh,
            self.store,
            OrderCommands(self.database),
            CancelOptions(),
            **{"poll_interval": 0.05, **options},
        )

    def order(self, number: str = "1001") -> OrderView:
        view = self.store.find_order(number)
        assert view is not None
        return view

    def command(self, key: str) -> Any:
        return self.log.get("shopify", key)

    def sent(self, root: str) -> int:
        """Mutations of `root` that Shopify carried out (answered or not)."""
        return len([c for c in self.fake.calls_to(root) if c.outcome == "ok"])

    def reads(self) -> int:
        return len([c for c in self.fake.calls_to("order") if c.outcome == "ok"])


@pytest.fixture
def shop(fake_shopify: FakeShopify, tmp_path: Path) -> Iterator[Shop]:
    database = Database(f"sqlite:///{tmp_path / 'store.db'}")
    database.migrate()
    clock = Clock()
    shop = Shop(
        fake=fake_shopify,
        database=database,
        sync=PlatformSync(database),
        store=StoreRepository(database),
        log=CommandLog(database, clock=clock),
        clock=clock,
    )
    fake_shopify.add_order(1001, lines=[Line("NW-TEE-001", 2, "25.00")])
    shop.refresh("1001")
    shop.refreshed.clear()
    yield shop
    database.dispose()


def delivered(shop: Shop) -> int:
    """Order 1001 fulfilled on Shopify and in relaydesk; the id of its (only) local line."""
    shop.fake.fulfil("gid://shopify/Order/1001")
    shop.refresh("1001")
    shop.refreshed.clear()
    return shop.order().lines[0].id


def local_state(shop: Shop) -> tuple[Any, ...]:
    with shop.database.session() as session:
        order = session.execute(select(Order).where(Order.number == "1001")).scalar_one()
        refunds = session.execute(select(func.count()).select_from(Refund)).scalar_one()
        returns = session.execute(select(func.count()).select_from(ReturnRequest)).scalar_one()
        return (
            order.status,
            order.cancelled_at,
            order.shipping_line1,
            order.shipping_postal_code,
            refunds,
            returns,
        )


# ------------------------------------------------------------------ pure rules


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        (NEW, NEW, True),
        (NEW, NewAddress("22  rideau st", "unit 4 ", "OTTAWA", "on", "k1n5y3", "ca"), True),
        (OTHER, NewAddress("5 Elgin St", "", "Ottawa", "ON", "K2P 1L4", "CA"), True),
        (NEW, NewAddress("22 Rideau St", "Unit 5", "Ottawa", "ON", "K1N 5Y3", "CA"), False),
        (NEW, NewAddress("22 Rideau St", "Unit 4", "Ottawa", "QC", "K1N 5Y3", "CA"), False),
        (NEW, NewAddress("22 Rideau St", "Unit 4", "Ottawa", "ON", "K1N 5Y3", "US"), False),
        (NEW, OTHER, False),
    ],
)
def test_address_keys(a: NewAddress, b: NewAddress, same: bool) -> None:
    assert (address_key("1001", a) == address_key("1001", b)) is same
    assert address_key("1001", a).startswith("address:1001:")
    assert len(address_key("1001", a)) == len("address:1001:") + 64
    assert address_key("1001", a) != address_key("1002", a)


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        (cancel_key("1001"), "cancel:1001"),
        (return_key("1001", "NW-TEE-001"), "return:1001:NW-TEE-001"),
        (return_key("1001", "NW-TEE-002"), "return:1001:NW-TEE-002"),
    ],
)
def test_cancel_and_return_keys(key: str, expected: str) -> None:
    assert key == expected


@pytest.mark.parametrize(
    ("reason", "shopify"),
    [
        (ReturnReason.TOO_SMALL, "SIZE_TOO_SMALL"),
        (ReturnReason.TOO_LARGE, "SIZE_TOO_LARGE"),
        (ReturnReason.DAMAGED, "DEFECTIVE"),
        (ReturnReason.DEFECTIVE, "DEFECTIVE"),
        (ReturnReason.WRONG_ITEM, "WRONG_ITEM"),
        (ReturnReason.NOT_AS_DESCRIBED, "NOT_AS_DESCRIBED"),
        (ReturnReason.CHANGED_MIND, "UNWANTED"),
        (ReturnReason.OTHER, "OTHER"),
        ("wrong_item", "WRONG_ITEM"),
    ],
)
def test_return_reasons(reason: ReturnReason | str, shopify: str) -> None:
    assert shopify_return_reason(reason) == shopify


def test_return_reasons_are_the_inverse_of_the_mapping() -> None:
    assert set(SHOPIFY_RETURN_REASONS) == set(ReturnReason)
    for reason, shopify in SHOPIFY_RETURN_REASONS.items():
        back = RETURN_REASONS[shopify.lower()]
        # Shopify has no "damaged": it comes back as defective.
        assert back == (ReturnReason.DEFECTIVE if reason is ReturnReason.DAMAGED else reason)


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        (
            NEW,
            {"address1": "22 Rideau St", "address2": "Unit 4", "city": "Ottawa",
             "zip": "K1N 5Y3", "countryCode": "CA", "provinceCode": "ON"},
        ),
        (
            NewAddress("1 Rue X", None, "Paris", None, "75001", "fr"),
            {"address1": "1 Rue X", "address2": "", "city": "Paris", "zip": "75001",
             "countryCode": "FR"},
        ),
        (
            NewAddress("1 High St", None, "Leeds", "West Yorkshire", "LS1 1AA", "GB"),
            {"address1": "1 High St", "address2": "", "city": "Leeds", "zip": "LS1 1AA",
             "countryCode": "GB", "province": "West Yorkshire"},
        ),
    ],
)  # fmt: skip
def test_mailing_address_input(address: NewAddress, expected: dict[str, str]) -> None:
    assert mailing_address_input(address) == expected


SHOPIFY_NEW = {"address1": "22 Rideau St", "address2": "Unit 4", "city": "Ottawa",
               "province": "Ontario", "provinceCode": "ON", "zip": "K1N 5Y3",
               "countryCodeV2": "CA"}  # fmt: skip


@pytest.mark.parametrize(
    ("shopify", "address", "matches"),
    [
        (SHOPIFY_NEW, NEW, True),
        ({**SHOPIFY_NEW, "zip": "k1n5y3"}, NEW, True),
        ({**SHOPIFY_NEW, "provinceCode": None, "province": "ON"}, NEW, True),
        ({**SHOPIFY_NEW, "address2": None}, NEW, False),
        ({**SHOPIFY_NEW, "provinceCode": "QC", "province": "Quebec"}, NEW, False),
        ({**SHOPIFY_NEW, "countryCodeV2": "US"}, NEW, False),
        ({**SHOPIFY_NEW, "address2": ""}, replace(NEW, line2=None), True),
        ({**SHOPIFY_NEW, "address2": None}, replace(NEW, line2=""), True),
        ({**SHOPIFY_NEW, "city": "Gatineau"}, NEW, False),
        ({**SHOPIFY_NEW, "address1": "22 Rideau Street"}, NEW, False),
        (SHOPIFY_NEW, replace(NEW, region=None), True),  # no region given: any
        (None, NEW, False),
    ],
)  # fmt: skip
def test_address_matches(
    shopify: dict[str, Any] | None, address: NewAddress, matches: bool
) -> None:
    assert address_matches(shopify, address) is matches


@pytest.mark.parametrize(
    ("photos", "expected"),
    [
        (0, "Condition: unused. Reason: wrong item. (via relaydesk)"),
        (1, "Condition: unused. Reason: wrong item. (via relaydesk) Photo: https://m.example/0"),
    ],
)
def test_customer_note(photos: int, expected: str) -> None:
    attachments = [Attachment(f"https://m.example/{i}") for i in range(photos)]
    assert customer_note("unused", "wrong_item", attachments) == expected


@pytest.mark.parametrize("photos", [5, 20])
def test_a_customer_note_keeps_to_shopifys_limit(photos: int) -> None:
    attachments = [Attachment(f"https://media.example/{'x' * 60}/{i}.jpg") for i in range(photos)]
    note = customer_note(ItemCondition.DAMAGED, ReturnReason.DAMAGED, attachments)
    assert len(note) <= 300
    shown = note.count("Photo: ")
    assert shown < photos and note.endswith(f"(+{photos - shown} more photos in relaydesk)")


@pytest.mark.parametrize(
    ("wanted", "available", "lines"),
    [
        (2, [("a", 2)], [("a", 2)]),
        (2, [("a", 1), ("b", 1)], [("a", 1), ("b", 1)]),
        (1, [("a", 3)], [("a", 1)]),
        (3, [("a", 1)], [("a", 1)]),
        (2, [], []),
        (2, [("a", 0), ("b", 2)], [("b", 2)]),
    ],
)
def test_split_quantity(
    wanted: int, available: list[tuple[str, int]], lines: list[tuple[str, int]]
) -> None:
    assert split_quantity(wanted, available) == lines


@pytest.mark.parametrize(
    ("gid", "rma"),
    [("gid://shopify/Return/945000961", "RMA-945000961"), ("gid://shopify/Return/1", "RMA-1")],
)
def test_rma_numbers(gid: str, rma: str) -> None:
    assert rma_number_for_return(gid) == rma


# ------------------------------------------------------------------ cancel


def test_confirming_twice_cancels_once(shop: Shop) -> None:
    changes = shop.changes()
    first = changes.cancel("1001")
    assert first.cancelled_now and first.refund_reference == "CXL-1001"
    assert first.order.status == "cancelled"  # re-read after the cancel
    again = changes.cancel("1001")
    assert not again.cancelled_now and again.refund_reference == "CXL-1001"
    assert shop.sent("orderCancel") == 1
    (call,) = shop.fake.calls_to("orderCancel")
    assert call.variables == {
        "orderId": "gid://shopify/Order/1001", "reason": "CUSTOMER", "refund": True,
        "restock": True, "notifyCustomer": True,
        "staffNote": "Cancelled by the customer in a relaydesk chat",
    }  # fmt: skip
    assert shop.command("cancel:1001").status is CommandStatus.DONE
    assert shop.refreshed == ["1001"]  # the repeat asked Shopify nothing


def test_the_shops_policy_decides_refund_and_restock(shop: Shop) -> None:
    changes = shop.changes()
    changes._cancel_options = CancelOptions(refund=False, restock=False)
    result = changes.cancel("1001")
    assert result.cancelled_now and result.refund_reference is None
    (call,) = shop.fake.calls_to("orderCancel")
    assert (call.variables["refund"], call.variables["restock"]) == (False, False)


def test_a_double_tap_at_the_same_time_cancels_once(shop: Shop) -> None:
    changes = shop.changes()
    shop.fake.stall_next(1, seconds=0.4)  # the first is still waiting when the second comes
    results = []
    barrier = threading.Barrier(2)

    def confirm() -> None:
        barrier.wait()
        results.append(changes.cancel("1001"))

    threads = [threading.Thread(target=confirm) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=20)
    assert sorted(r.cancelled_now for r in results) == [False, True]
    assert shop.sent("orderCancel") == 1


def test_a_stalled_cancel_is_read_not_resent(shop: Shop) -> None:
    stalled = shop.changes(shop.fake.client(timeout=0.3))
    shop.fake.stall_next(1, seconds=1.0)  # Shopify cancels; the answer comes too late
    with pytest.raises(StoreUnavailableError):
        stalled.cancel("1001")
    assert shop.command("cancel:1001").status is CommandStatus.UNKNOWN
    assert local_state(shop)[0] == "paid"  # relaydesk said nothing yet
    result = shop.changes().cancel("1001")
    assert result.cancelled_now and result.order.status == "cancelled"
    assert shop.reads() == 1 and shop.sent("orderCancel") == 1
    assert shop.command("cancel:1001").status is CommandStatus.DONE


def test_a_cancel_lost_before_shopify_did_it_is_sent_once_more(shop: Shop) -> None:
    shop.fake.fail_next(1, status=503)  # the outcome of a 5xx is unknown to the client
    with pytest.raises(StoreUnavailableError):
        shop.changes().cancel("1001")
    assert shop.command("cancel:1001").status is CommandStatus.UNKNOWN
    result = shop.changes().cancel("1001")
    assert result.cancelled_now
    assert shop.reads() == 1 and shop.sent("orderCancel") == 1


@pytest.mark.parametrize(("after_sending", "sent"), [(True, 1), (False, 1)])
def test_a_kill_between_send_and_answer(shop: Shop, after_sending: bool, sent: int) -> None:
    dying = shop.changes(DyingClient(shop.fake.client(), after_sending=after_sending))
    with pytest.raises(Killed):
        dying.cancel("1001")
    command = shop.command("cancel:1001")
    assert command.status is CommandStatus.PENDING and command.in_flight(shop.clock())
    # A repeat while the dead claim's lease holds waits, then says it cannot tell yet.
    with pytest.raises(StoreUnavailableError):
        shop.changes(wait_for_other=0.1).cancel("1001")
    shop.clock.advance(DEFAULT_LEASE + timedelta(seconds=1))
    assert shop.command("cancel:1001").in_doubt(shop.clock())
    result = shop.changes().cancel("1001")
    assert result.cancelled_now
    assert shop.reads() == 1
    assert shop.sent("orderCancel") == sent  # killed after: read shows it; before: sent now


def test_shopify_refuses_a_fulfilled_order(shop: Shop) -> None:
    shop.fake.fulfil("gid://shopify/Order/1001")  # relaydesk's copy has not heard yet
    before = local_state(shop)
    with pytest.raises(ShopifyChangeRefused, match="fulfilled") as refused:
        shop.changes().cancel("1001")
    assert refused.value.refusal is Refusal.FULFILLED
    assert refused.value.messages == ("Cannot cancel an order that has been fulfilled",)
    assert local_state(shop) == before
    assert shop.command("cancel:1001").status is CommandStatus.REFUSED
    record = shop.sync.record_for_key("shopify", "order", "1001")
    assert record is not None and record.needs_refresh
    assert shop.refreshed == []


def test_an_order_the_shop_cancelled_already_is_done(shop: Shop) -> None:
    shop.fake.orders["gid://shopify/Order/1001"]["cancelledAt"] = "2026-12-01T11:00:00Z"
    result = shop.changes().cancel("1001")
    assert not result.cancelled_now
    assert shop.command("cancel:1001").status is CommandStatus.DONE


def test_an_order_relaydesk_knows_cancelled_is_not_sent(shop: Shop) -> None:
    shop.fake.orders["gid://shopify/Order/1001"]["cancelledAt"] = "2026-12-01T11:00:00Z"
    shop.fake.orders["gid://shopify/Order/1001"]["updatedAt"] = "2026-12-01T11:00:00Z"
    shop.refresh("1001")  # the orders/cancelled webhook came in
    result = shop.changes().cancel("1001")
    assert not result.cancelled_now and result.order.status == "cancelled"
    assert shop.fake.calls_to("orderCancel") == []


def test_a_locally_shipped_order_is_not_sent(shop: Shop) -> None:
    delivered(shop)
    with pytest.raises(ShopifyChangeRefused) as refused:
        shop.changes().cancel("1001")
    assert refused.value.refusal is Refusal.FULFILLED
    assert shop.sent("orderCancel") == 0


def test_rate_limited_before_sending_records_nothing_done(shop: Shop) -> None:
    shop.fake.rate_limit_next(5, retry_after=1)  # every attempt the client makes
    with pytest.raises(StoreUnavailableError):
        shop.changes().cancel("1001")
    command = shop.command("cancel:1001")
    assert (command.status, command.attempts) == (CommandStatus.PENDING, 0)
    assert shop.fake.calls_to("orderCancel") == [] and local_state(shop)[0] == "paid"
    assert shop.changes().cancel("1001").cancelled_now
    assert shop.reads() == 0 and shop.sent("orderCancel") == 1  # never sent: no read needed


def test_an_order_relaydesk_has_not_synced_is_unknown(shop: Shop) -> None:
    with pytest.raises(LookupError):
        shop.changes().cancel("999")


# ------------------------------------------------------------------ address


def test_an_address_change_is_made_once(shop: Shop) -> None:
    changes = shop.changes()
    view = changes.change_shipping_address("1001", NEW)
    assert view.shipping_address.line1 == "22 Rideau St"
    assert view.shipping_address.postal_code == "K1N 5Y3"
    again = changes.change_shipping_address("1001", NEW)
    assert again.shipping_address == view.shipping_address
    assert shop.sent("orderUpdate") == 1
    (call,) = shop.fake.calls_to("orderUpdate")
    assert call.variables["input"]["shippingAddress"] == mailing_address_input(NEW)
    on_shopify = shop.fake.order("gid://shopify/Order/1001")["shippingAddress"]
    assert address_matches(on_shopify, NEW)
    assert local_state(shop)[2:4] == ("22 Rideau St", "K1N 5Y3")


def test_back_to_an_earlier_address_is_sent_again(shop: Shop) -> None:
    changes = shop.changes()
    changes.change_shipping_address("1001", NEW)
    changes.change_shipping_address("1001", OTHER)
    view = changes.change_shipping_address("1001", NEW)
    assert view.shipping_address.line1 == "22 Rideau St"
    assert shop.sent("orderUpdate") == 3


def test_a_stalled_address_change_is_read_not_resent(shop: Shop) -> None:
    shop.fake.stall_next(1, seconds=1.0)
    stalled = shop.changes(shop.fake.client(timeout=0.3))
    # The read before the change goes first; the stall hits it, not the mutation.
    shop.fake._faults.clear()
    original = stalled._client.mutate

    def stall_then_send(*args: Any, **kwargs: Any) -> Any:
        shop.fake.stall_next(1, seconds=1.0)
        return original(*args, **kwargs)

    stalled._client.mutate = stall_then_send  # type: ignore[method-assign]
    with pytest.raises(StoreUnavailableError):
        stalled.change_shipping_address("1001", NEW)
    assert shop.command(address_key("1001", NEW)).status is CommandStatus.UNKNOWN
    view = shop.changes().change_shipping_address("1001", NEW)
    assert view.shipping_address.line1 == "22 Rideau St"
    assert shop.sent("orderUpdate") == 1


def test_no_address_change_once_shopify_has_fulfilled(shop: Shop) -> None:
    shop.fake.fulfil("gid://shopify/Order/1001")  # relaydesk's copy is behind
    before = local_state(shop)
    with pytest.raises(ShopifyChangeRefused, match="FULFILLED on Shopify") as refused:
        shop.changes().change_shipping_address("1001", NEW)
    assert refused.value.refusal is Refusal.FULFILLED
    assert shop.fake.calls_to("orderUpdate") == []
    assert local_state(shop) == before
    assert shop.command(address_key("1001", NEW)).status is CommandStatus.REFUSED


def test_user_errors_on_an_address_change_change_nothing(shop: Shop) -> None:
    bad = NewAddress("22 Rideau St", None, "Ottawa", "ON", "K1N 5Y3", "CA")
    changes = shop.changes()
    original = changes._client.mutate

    def refusing(document: str, variables: Any = None, **options: Any) -> Any:
        variables["input"]["shippingAddress"]["phone2"] = "x"  # a field Shopify refuses
        return original(document, variables, **options)

    changes._client.mutate = refusing  # type: ignore[method-assign]
    before = local_state(shop)
    with pytest.raises(ShopifyChangeRefused, match="phone2") as refused:
        changes.change_shipping_address("1001", bad)
    assert refused.value.refusal is Refusal.SHOPIFY_SAID_NO
    assert refused.value.messages == ("is not a valid field",)
    assert local_state(shop) == before
    assert shop.command(address_key("1001", bad)).status is CommandStatus.REFUSED


def test_shopify_down_before_the_address_change_sends_nothing(shop: Shop) -> None:
    shop.fake.fail_next(5, status=503)  # the read before the change fails every attempt
    with pytest.raises(StoreUnavailableError):
        shop.changes().change_shipping_address("1001", NEW)
    command = shop.command(address_key("1001", NEW))
    assert (command.status, command.attempts) == (CommandStatus.PENDING, 0)
    assert shop.fake.calls_to("orderUpdate") == []


# ------------------------------------------------------------------ return


def test_a_return_is_requested_once(shop: Shop) -> None:
    line_id = delivered(shop)
    changes = shop.changes()
    first = changes.request_return(
        "1001", line_id, reason="wrong_item", condition="unused", attachments=[PHOTO]
    )
    (created,) = shop.fake.returns.values()
    assert first.created_now and first.rma_number == rma_number_for_return(created["id"])
    # relaydesk's copy, re-read after the request, holds the same RMA number.
    assert [r.rma_number for r in first.order.returns] == [first.rma_number]
    again = changes.request_return("1001", line_id, reason="wrong_item", condition="unused")
    assert (again.rma_number, again.created_now) == (first.rma_number, False)
    assert shop.sent("returnRequest") == 1
    (call,) = shop.fake.calls_to("returnRequest")
    (line,) = call.variables["input"]["returnLineItems"]
    assert (line["quantity"], line["returnReason"]) == (2, "WRONG_ITEM")
    assert "Condition: unused" in line["customerNote"] and PHOTO.url in line["customerNote"]
    assert changes.attachments_for(first.rma_number) == [PHOTO]
    assert changes.attachments_for("RMA-0") == []


@pytest.mark.parametrize("landed", [True, False])
def test_a_return_in_doubt_is_read_first(shop: Shop, landed: bool) -> None:
    line_id = delivered(shop)
    if landed:
        shop.fake.stall_next(1, seconds=1.0)
    else:
        shop.fake.fail_next(1, status=503)
    changes = shop.changes(shop.fake.client(timeout=0.3))
    original = changes._client.execute
    faults = list(shop.fake._faults)
    shop.fake._faults.clear()

    def fault_on_the_mutation(document: str, variables: Any = None, **options: Any) -> Any:
        if "returnRequest" in document:
            shop.fake._faults.extend(faults)
        return original(document, variables, **options)

    changes._client.execute = fault_on_the_mutation  # type: ignore[method-assign]
    with pytest.raises(StoreUnavailableError):
        changes.request_return("1001", line_id, reason="too_small", condition="unopened")
    assert shop.command(return_key("1001", "NW-TEE-001")).status is CommandStatus.UNKNOWN
    assert len(shop.fake.returns) == (1 if landed else 0)
    result = shop.changes().request_return(
        "1001", line_id, reason="too_small", condition="unopened"
    )
    assert result.created_now
    (made,) = shop.fake.returns.values()
    assert result.rma_number == rma_number_for_return(made["id"])
    assert shop.sent("returnRequest") == 1


def test_an_earlier_return_of_the_line_is_not_taken_for_ours(shop: Shop) -> None:
    line_id = delivered(shop)
    shop.fake.add_return("gid://shopify/Order/1001", status="DECLINED")
    result = shop.changes().request_return("1001", line_id, reason="other", condition="unused")
    assert result.created_now and shop.sent("returnRequest") == 1
    assert len(shop.fake.returns) == 2


def test_a_return_of_what_shopify_has_not_shipped_is_refused(shop: Shop) -> None:
    line_id = shop.order().lines[0].id
    before = local_state(shop)
    with pytest.raises(ShopifyChangeRefused, match="not fulfilled") as refused:
        shop.changes().request_return("1001", line_id, reason="other", condition="unused")
    assert refused.value.refusal is Refusal.NOT_RETURNABLE
    assert shop.fake.calls_to("returnRequest") == [] and local_state(shop) == before


def test_shopify_refuses_a_second_return_of_the_same_items(shop: Shop) -> None:
    line_id = delivered(shop)
    shop.fake.add_return("gid://shopify/Order/1001")  # made by the shop in Shopify's admin
    shop.refreshed.clear()
    before = local_state(shop)
    with pytest.raises(OrderChangeConflict, match="returnable") as refused:
        shop.changes().request_return("1001", line_id, reason="other", condition="unused")
    assert isinstance(refused.value, ShopifyChangeRefused)
    assert refused.value.refusal is Refusal.NOT_RETURNABLE
    assert local_state(shop) == before
    assert shop.command(return_key("1001", "NW-TEE-001")).status is CommandStatus.REFUSED


def test_a_line_not_on_the_order(shop: Shop) -> None:
    with pytest.raises(ValueError):
        shop.changes().request_return("1001", 999, reason="other", condition="unused")


def test_a_failed_re_read_does_not_undo_the_answer(shop: Shop) -> None:
    def unreachable(number: str) -> OrderView | None:
        raise StoreUnavailableError("Shopify cannot be reached")

    changes = shop.changes()
    changes._refresh_order = unreachable
    result = changes.cancel("1001")
    assert result.cancelled_now and result.refund_reference == "CXL-1001"
    assert shop.command("cancel:1001").status is CommandStatus.DONE


def test_a_failed_re_read_still_shows_the_address_shopify_took(shop: Shop) -> None:
    def broken(number: str) -> OrderView | None:
        raise RuntimeError("the mapper choked")

    changes = shop.changes()
    changes._refresh_order = broken
    view = changes.change_shipping_address("1001", NEW)
    assert view.shipping_address.line1 == "22 Rideau St"  # from Shopify's yes
    assert local_state(shop)[2] == "1 Main St"  # the copy follows with the webhook


def test_an_unpaid_order_is_cancelled_without_a_refund(shop: Shop) -> None:
    shop.fake.add_order(1002, financial_status="PENDING")
    shop.refresh("1002")
    assert shop.order("1002").paid_at is None
    result = shop.changes().cancel("1002")
    assert result.cancelled_now and result.refund_reference is None


def test_a_refused_token_sends_nothing_and_records_nothing_done(shop: Shop) -> None:
    with pytest.raises(StoreUnavailableError, match="refused"):
        shop.changes(shop.fake.client(access_token="shpat_revoked")).cancel("1001")
    command = shop.command("cancel:1001")
    assert (command.status, command.attempts) == (CommandStatus.PENDING, 0)
    assert shop.changes().cancel("1001").cancelled_now
    assert shop.sent("orderCancel") == 1
