"""The Shopify Admin API client (bot/platforms/shopify/admin_api.py, operations.py) against the
fake Admin API (tests/platforms/fake_shopify_api.py) over real HTTP: answers and their cost,
pacing and THROTTLED, retries of 5xx / 429 / timeouts and which of them a mutation may not
retry, rejections, userErrors, pagination, and the documents themselves, checked against
Shopify's documented examples in ../shared/fixtures/shopify/graphql/.

Waits run on the fake's ManualClock, shared with the client: the waits the client computes are
asserted exactly and take no real time (only the stall tests wait, a fraction of a second).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bot.platforms.shopify.admin_api import (
    THROTTLE_FLOOR,
    ShopifyAdminClient,
    ShopifyRejected,
    ShopifyUnavailable,
    UserError,
    is_mutation,
)
from bot.platforms.shopify.operations import (
    DOCUMENTS,
    ORDERS_UPDATED_SINCE,
    SHOP_CHECK,
    ReturnLine,
    cancel_order,
    check_shop,
    create_webhook_subscription,
    orders_updated_since,
    request_return,
    update_shipping_address,
    updated_since_filter,
)
from bot.platforms.shopify.throttle import QueryCost, ThrottleStatus
from tests.conftest import free_port
from tests.platforms.fake_shopify_api import (
    SHOP_DOMAIN,
    SHOP_NAME,
    FakeShopify,
    Selection,
    fulfillment,
    gid,
    parse,
)

SINCE = datetime(2026, 11, 1, tzinfo=UTC)


@pytest.fixture
def client(fake_shopify: FakeShopify) -> Iterator[ShopifyAdminClient]:
    with fake_shopify.client() as shop_client:
        yield shop_client


def _cancel(client: ShopifyAdminClient, order: str) -> Any:
    return cancel_order(
        client, order, reason="CUSTOMER", refund=True, restock=True, notify_customer=True
    )


def _add_orders(fake: FakeShopify, count: int) -> list[str]:
    return [fake.add_order(1000 + n, updated_at=f"2026-11-30T10:{n:02d}:00Z") for n in range(count)]


# -- answers and their cost ----------------------------------------------------------------------


def test_a_query_returns_its_data_and_the_cost_is_tracked(
    fake_shopify: FakeShopify, client: ShopifyAdminClient
) -> None:
    assert check_shop(client).name == SHOP_NAME
    assert check_shop(client).myshopify_domain == SHOP_DOMAIN
    assert client.last_cost == QueryCost(1.0, 1.0, ThrottleStatus(1000.0, 998.0, 50.0))
    assert client.bucket.expected_cost(SHOP_CHECK) == 1.0
    assert fake_shopify.operations() == ["ShopCheck", "ShopCheck"]
    assert fake_shopify.clock.sleeps == []


def test_the_token_goes_in_the_header_and_a_wrong_one_is_rejected(
    fake_shopify: FakeShopify,
) -> None:
    with (
        fake_shopify.client(access_token="shpat_wrong") as client,
        pytest.raises(ShopifyRejected) as caught,
    ):
        check_shop(client)
    assert caught.value.status == 401
    assert "Invalid API key or access token" in caught.value.messages[0]
    assert [c.outcome for c in fake_shopify.calls] == ["unauthorized"]  # never retried
    assert fake_shopify.clock.sleeps == []


def test_a_wrong_api_version_is_rejected(fake_shopify: FakeShopify) -> None:
    base = fake_shopify.base_url.replace(fake_shopify.api_version, "2019-04")
    with (
        ShopifyAdminClient(base, fake_shopify.access_token) as client,
        pytest.raises(ShopifyRejected) as caught,
    ):
        check_shop(client)
    assert caught.value.status == 404


def test_a_redirect_is_not_followed(fake_shopify: FakeShopify, client: ShopifyAdminClient) -> None:
    # Following it would hand the token header to whatever host the Location names.
    elsewhere = "https://elsewhere.example/admin/api/2026-07/graphql.json"
    fake_shopify.fail_next(1, status=301, headers={"Location": elsewhere})
    with pytest.raises(ShopifyRejected) as caught:
        check_shop(client)
    assert caught.value.status == 301
    assert caught.value.messages[-1] == f"redirected to {elsewhere}"
    assert len(fake_shopify.calls) == 1


def test_graphql_errors_are_rejected_with_their_messages(client: ShopifyAdminClient) -> None:
    with pytest.raises(ShopifyRejected) as caught:
        client.execute("query Bad { shop { name planName } }")
    assert caught.value.status == 200
    assert caught.value.codes == ("undefinedField",)
    assert caught.value.messages == ("Field 'planName' doesn't exist on type 'Shop'",)


def test_a_missing_required_variable_is_rejected(client: ShopifyAdminClient) -> None:
    with pytest.raises(ShopifyRejected, match=r"Variable \$orderId of type ID!"):
        client.execute(DOCUMENTS["OrderCancel"], {"refund": True, "restock": True})


# -- the bucket: pacing and THROTTLED ------------------------------------------------------------


def test_throttled_waits_what_the_bucket_needs_then_succeeds(
    fake_shopify: FakeShopify, client: ShopifyAdminClient
) -> None:
    _add_orders(fake_shopify, 3)
    fake_shopify.set_bucket(available=5.0)
    # A page of 10 is requested at 2 + 3 * 10 = 32 points; 5 are there, 50 come back a second.
    orders = list(orders_updated_since(client, SINCE, page_size=10))
    assert len(orders) == 3
    assert fake_shopify.clock.sleeps == [pytest.approx((32 - 5) / 50)]
    assert [c.outcome for c in fake_shopify.calls] == ["throttled", "ok"]
    throttled = fake_shopify.calls[0].body
    assert throttled["errors"][0]["extensions"]["code"] == "THROTTLED"
    assert throttled["extensions"]["cost"]["actualQueryCost"] is None


def test_a_request_the_bucket_cannot_pay_for_waits_before_it_is_sent(
    fake_shopify: FakeShopify, client: ShopifyAdminClient
) -> None:
    _add_orders(fake_shopify, 10)
    fake_shopify.set_bucket(available=40.0, restore_rate=10.0)
    assert len(list(orders_updated_since(client, SINCE, page_size=10))) == 10
    # 40 - 32 = 8 left; the same page again needs (32 - 8) / 10 = 2.4 s of refill first.
    assert fake_shopify.clock.sleeps == []
    assert len(list(orders_updated_since(client, SINCE, page_size=10))) == 10
    assert fake_shopify.clock.sleeps == [pytest.approx(2.4)]
    assert [c.outcome for c in fake_shopify.calls] == ["ok", "ok"]  # never throttled


def test_throttled_without_cost_figures_backs_off(
    fake_shopify: FakeShopify, client: ShopifyAdminClient
) -> None:
    fake_shopify.throttle_next(2)
    assert check_shop(client).name == SHOP_NAME
    assert fake_shopify.clock.sleeps == [1.0, 2.0]
    assert [c.outcome for c in fake_shopify.calls] == ["throttled", "throttled", "ok"]


def test_throttled_past_the_attempts_is_unavailable(fake_shopify: FakeShopify) -> None:
    fake_shopify.throttle_next(3)
    with (
        fake_shopify.client(max_attempts=3) as client,
        pytest.raises(ShopifyUnavailable, match="THROTTLED") as caught,
    ):
        check_shop(client)
    assert fake_shopify.clock.sleeps == [1.0, 2.0]
    assert caught.value.retry_after == 4.0
    assert not caught.value.outcome_unknown


def test_a_throttled_mutation_is_retried_and_runs_once(
    fake_shopify: FakeShopify, client: ShopifyAdminClient
) -> None:
    order = fake_shopify.add_order(1001)
    fake_shopify.set_bucket(available=4.0)  # a mutation is 10 points
    assert _cancel(client, order).accepted
    # (10 - 4) / 50 = 0.12 s would do; a THROTTLED answer is never asked again sooner than
    # the floor.
    assert fake_shopify.clock.sleeps == [THROTTLE_FLOOR]
    assert fake_shopify.order(order)["cancelledAt"] is not None
    assert [c.outcome for c in fake_shopify.calls_to("orderCancel")] == ["throttled", "ok"]


def test_a_wait_longer_than_max_wait_is_not_slept(fake_shopify: FakeShopify) -> None:
    fake_shopify.set_bucket(available=0.0, restore_rate=1.0)
    with fake_shopify.client(max_wait=5.0) as client, pytest.raises(ShopifyUnavailable) as caught:
        check_shop(client)  # 1 point at 1 point/s: 1 s, fine
        check_shop(client)  # the bucket is empty again: 1 s
        client.execute(ORDERS_UPDATED_SINCE, {"first": 10}, expected_cost=32.0)
    assert caught.value.retry_after == pytest.approx(32.0)
    assert all(wait <= 5.0 for wait in fake_shopify.clock.sleeps)


# -- retries: 5xx, 429, timeouts, no connection --------------------------------------------------


def test_5xx_answers_are_retried_with_backoff(
    fake_shopify: FakeShopify, client: ShopifyAdminClient
) -> None:
    fake_shopify.fail_next(2, status=503)
    assert check_shop(client).name == SHOP_NAME
    assert fake_shopify.clock.sleeps == [0.5, 1.0]  # bot/domain/backoff.py, 0.5 s doubling
    assert [c.status for c in fake_shopify.calls] == [503, 503, 200]


def test_5xx_past_the_attempts_is_unavailable(fake_shopify: FakeShopify) -> None:
    fake_shopify.fail_next(4, status=502)
    with fake_shopify.client(max_attempts=4) as client, pytest.raises(ShopifyUnavailable) as caught:
        check_shop(client)
    assert caught.value.status == 502
    assert fake_shopify.clock.sleeps == [0.5, 1.0, 2.0]


def test_a_mutation_answered_5xx_is_not_sent_again(
    fake_shopify: FakeShopify, client: ShopifyAdminClient
) -> None:
    order = fake_shopify.add_order(1001)
    fake_shopify.fail_next(1, status=503)
    with pytest.raises(ShopifyUnavailable) as caught:
        _cancel(client, order)
    assert caught.value.outcome_unknown
    assert len(fake_shopify.calls) == 1
    assert fake_shopify.clock.sleeps == []


def test_429_honours_retry_after(fake_shopify: FakeShopify, client: ShopifyAdminClient) -> None:
    order = fake_shopify.add_order(1001)
    fake_shopify.rate_limit_next(1, retry_after=2.0)
    assert _cancel(client, order).accepted  # a 429 was not run: a mutation may retry it
    assert fake_shopify.clock.sleeps == [2.0]
    assert [c.status for c in fake_shopify.calls] == [429, 200]


def test_429_without_retry_after_backs_off(
    fake_shopify: FakeShopify, client: ShopifyAdminClient
) -> None:
    fake_shopify.rate_limit_next(2, retry_after=None)
    check_shop(client)
    assert fake_shopify.clock.sleeps == [1.0, 2.0]


def test_429_asking_too_long_is_unavailable_at_once(fake_shopify: FakeShopify) -> None:
    fake_shopify.rate_limit_next(1, retry_after=120.0)
    with fake_shopify.client(max_wait=30.0) as client, pytest.raises(ShopifyUnavailable) as caught:
        check_shop(client)
    assert caught.value.retry_after == 120.0
    assert caught.value.status == 429
    assert fake_shopify.clock.sleeps == []


def test_a_stall_beyond_the_timeout_is_unavailable(fake_shopify: FakeShopify) -> None:
    fake_shopify.stall_next(2, seconds=1.0)
    with (
        fake_shopify.client(timeout=0.2, max_attempts=2) as client,
        pytest.raises(ShopifyUnavailable, match="ReadTimeout"),
    ):
        check_shop(client)
    assert fake_shopify.clock.sleeps == [0.5]
    assert len(fake_shopify.calls) == 2


def test_a_stalled_query_is_retried(fake_shopify: FakeShopify) -> None:
    fake_shopify.stall_next(1, seconds=1.0)
    with fake_shopify.client(timeout=0.2) as client:
        assert check_shop(client).name == SHOP_NAME
    assert fake_shopify.clock.sleeps == [0.5]


def test_a_stalled_mutation_has_an_unknown_outcome(fake_shopify: FakeShopify) -> None:
    order = fake_shopify.add_order(1001)
    fake_shopify.stall_next(1, seconds=1.0)
    with fake_shopify.client(timeout=0.2) as client, pytest.raises(ShopifyUnavailable) as caught:
        _cancel(client, order)
    assert caught.value.outcome_unknown
    # Shopify did cancel it: sending it again would have been a second cancel.
    assert fake_shopify.order(order)["cancelledAt"] is not None
    assert len(fake_shopify.calls_to("orderCancel")) == 1


@pytest.mark.parametrize("document", [SHOP_CHECK, DOCUMENTS["OrderCancel"]])
def test_no_connection_is_retried_even_for_a_mutation(document: str) -> None:
    sleeps: list[float] = []
    base = f"http://127.0.0.1:{free_port()}/admin/api/2026-07"  # nothing listens there
    with (
        ShopifyAdminClient(
            base, "shpat_x", max_attempts=3, jitter=0.0, sleep=sleeps.append
        ) as client,
        pytest.raises(ShopifyUnavailable, match="ConnectionError") as caught,
    ):
        client.execute(document, {"orderId": gid("Order", 1), "refund": True})
    assert not caught.value.outcome_unknown  # never sent, so certainly not run
    assert sleeps == [0.5, 1.0]


# -- mutations: userErrors are data --------------------------------------------------------------


def test_cancel_an_order(fake_shopify: FakeShopify, client: ShopifyAdminClient) -> None:
    order = fake_shopify.add_order(1001)
    result = cancel_order(
        client,
        order,
        reason="CUSTOMER",
        refund=True,
        restock=False,
        notify_customer=False,
        staff_note="asked in chat",
    )
    assert result.accepted
    assert result.job_id is not None and result.job_id.startswith("gid://shopify/Job/")
    assert result.job_done is False
    assert fake_shopify.order(order)["cancelReason"] == "CUSTOMER"
    assert fake_shopify.calls[-1].variables == {
        "orderId": order,
        "reason": "CUSTOMER",
        "refund": True,
        "restock": False,
        "notifyCustomer": False,
        "staffNote": "asked in chat",
    }


def test_cancel_user_errors_are_returned_not_raised(
    fake_shopify: FakeShopify, client: ShopifyAdminClient
) -> None:
    missing = _cancel(client, gid("Order", 404))
    assert not missing.accepted
    assert missing.user_errors == (UserError(("orderId",), "Order does not exist", "NOT_FOUND"),)
    order = fake_shopify.add_order(1001)
    assert _cancel(client, order).accepted
    again = _cancel(client, order)
    assert [e.code for e in again.user_errors] == ["INVALID"]


def test_cancel_refuses_an_unknown_reason(client: ShopifyAdminClient) -> None:
    with pytest.raises(ValueError, match="OrderCancelReason"):
        cancel_order(
            client, gid("Order", 1), reason="BORED", refund=False, restock=False,
            notify_customer=False,
        )  # fmt: skip


def test_update_the_shipping_address(fake_shopify: FakeShopify, client: ShopifyAdminClient) -> None:
    order = fake_shopify.add_order(1001)
    result = update_shipping_address(
        client, order, {"address1": "190 MacLaren", "city": "Sudbury", "zip": "K2P0V6"}
    )
    assert result.user_errors == ()
    assert result.order_id == order
    assert result.shipping_address is not None
    assert result.shipping_address["address1"] == "190 MacLaren"
    assert fake_shopify.order(order)["shippingAddress"]["city"] == "Sudbury"


def test_update_user_errors_are_returned(
    fake_shopify: FakeShopify, client: ShopifyAdminClient
) -> None:
    result = update_shipping_address(client, gid("Order", 404), {"city": "Sudbury"})
    assert result.user_errors == (UserError(("id",), "Order does not exist"),)
    assert result.order_id is None


def test_request_a_return(fake_shopify: FakeShopify, client: ShopifyAdminClient) -> None:
    order = fake_shopify.add_order(1001, fulfillments=[fulfillment(1, line_items=[(55, 2)])])
    line = ReturnLine(gid("FulfillmentLineItem", 55), 1, "WRONG_ITEM", "wrong size")
    result = request_return(client, order, [line])
    assert result.user_errors == ()
    assert result.status == "REQUESTED"
    assert result.return_id in fake_shopify.returns
    too_many = request_return(
        client, order, [ReturnLine(line.fulfillment_line_item_id, 3, "OTHER")]
    )
    assert too_many.return_id is None
    assert too_many.user_errors[0].field == ("input", "returnLineItems", "0", "quantity")


def test_create_a_webhook_subscription(
    fake_shopify: FakeShopify, client: ShopifyAdminClient
) -> None:
    uri = "https://relaydesk.example/webhooks/shopify"
    created = create_webhook_subscription(client, "ORDERS_UPDATED", uri)
    assert created.user_errors == () and created.topic == "ORDERS_UPDATED"
    assert created.subscription_id is not None
    taken = create_webhook_subscription(client, "ORDERS_UPDATED", uri)
    assert taken.subscription_id is None
    assert "already been taken" in taken.user_errors[0].message


# -- pagination ----------------------------------------------------------------------------------


def test_pagination_follows_the_cursor_across_pages(
    fake_shopify: FakeShopify, client: ShopifyAdminClient
) -> None:
    expected = _add_orders(fake_shopify, 7)
    fake_shopify.add_order(999, updated_at="2026-10-01T00:00:00Z")  # changed before SINCE
    orders = list(orders_updated_since(client, SINCE, page_size=3))
    assert [o["id"] for o in orders] == expected
    calls = fake_shopify.calls_to("orders")
    assert len(calls) == 3
    assert [c.variables["first"] for c in calls] == [3, 3, 3]
    assert calls[0].variables["after"] is None
    assert calls[1].variables["after"] is not None
    assert calls[0].variables["query"] == "updated_at:>'2026-11-01T00:00:00Z'"


def test_pagination_reads_edges_too(fake_shopify: FakeShopify, client: ShopifyAdminClient) -> None:
    expected = _add_orders(fake_shopify, 3)
    document = """
    query Edges($first: Int!, $after: String) {
      orders(first: $first, after: $after) {
        edges { node { id } }
        pageInfo { hasNextPage endCursor }
      }
    }"""
    nodes = list(client.paginate(document, connection=("orders",), page_size=2))
    assert nodes == [{"id": order} for order in expected]


def test_pagination_without_the_connection_is_rejected(client: ShopifyAdminClient) -> None:
    with pytest.raises(ShopifyRejected, match="no connection at products"):
        list(client.paginate(ORDERS_UPDATED_SINCE, connection=("products",)))


def test_a_cursor_that_does_not_advance_is_rejected() -> None:
    page = {"nodes": [{"id": "x"}], "pageInfo": {"hasNextPage": True, "endCursor": "c1"}}

    class Stuck(ShopifyAdminClient):
        def execute(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
            return {"orders": page}

    nodes = []
    with pytest.raises(ShopifyRejected, match="does not advance"):
        for node in Stuck("http://127.0.0.1:9/admin/api/x", "t").paginate(
            ORDERS_UPDATED_SINCE, connection=("orders",)
        ):
            nodes.append(node)
    assert nodes == [{"id": "x"}, {"id": "x"}]  # the first page, and its repetition


def test_orders_carry_fulfillments_and_tracking(
    fake_shopify: FakeShopify, client: ShopifyAdminClient
) -> None:
    tracking = [("UPS", "1Z1234512345123456", "https://www.ups.com/track?n=1Z1234512345123456")]
    fake_shopify.add_order(1001, fulfillments=[fulfillment(7, tracking=tracking)])
    (order,) = orders_updated_since(client, SINCE)
    (shipment,) = order["fulfillments"]
    assert shipment["trackingInfo"] == [
        {"company": "UPS", "number": tracking[0][1], "url": tracking[0][2]}
    ]
    # Only what was selected comes back, as from Shopify.
    assert "fulfillmentLineItems" not in shipment and "email" not in order


@pytest.mark.parametrize(
    ("since", "expected"),
    [
        (datetime(2026, 11, 1, tzinfo=UTC), "updated_at:>'2026-11-01T00:00:00Z'"),
        (
            datetime.fromisoformat("2026-11-01T01:30:15.5+01:00"),
            "updated_at:>'2026-11-01T00:30:15Z'",
        ),
    ],
)
def test_updated_since_filter(since: datetime, expected: str) -> None:
    assert updated_since_filter(since) == expected


def test_updated_since_filter_refuses_a_naive_time() -> None:
    with pytest.raises(ValueError, match="aware"):
        updated_since_filter(datetime(2026, 11, 1))


# -- the documents -------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(DOCUMENTS))
def test_every_document_is_named_and_read_by_the_fake(name: str) -> None:
    operation = parse(DOCUMENTS[name])
    assert operation.name == name
    assert is_mutation(DOCUMENTS[name]) == (operation.kind == "mutation")


def test_every_operation_runs_against_the_fake(
    fake_shopify: FakeShopify, client: ShopifyAdminClient
) -> None:
    order = fake_shopify.add_order(1001, fulfillments=[fulfillment(1, line_items=[(5, 1)])])
    check_shop(client)
    list(orders_updated_since(client, SINCE))
    update_shipping_address(client, order, {"address1": "2 Elm St"})
    request_return(client, order, [ReturnLine(gid("FulfillmentLineItem", 5), 1, "OTHER")])
    create_webhook_subscription(client, "ORDERS_CANCELLED", "https://relaydesk.example/w")
    _cancel(client, order)
    assert sorted(set(fake_shopify.operations())) == sorted(DOCUMENTS)
    assert fake_shopify.operations(outcome="invalid") == []


def _paths(selection: Selection, prefix: tuple[str, ...] = ()) -> set[tuple[str, ...]]:
    found = set()
    for name, below in selection.items():
        found.add((*prefix, name))
        if below is not None:
            found |= _paths(below, (*prefix, name))
    return found


def _value_paths(value: Any, prefix: tuple[str, ...] = ()) -> set[tuple[str, ...]]:
    found: set[tuple[str, ...]] = set()
    if isinstance(value, list):
        for item in value:
            found |= _value_paths(item, prefix)
    elif isinstance(value, dict):
        for key, item in value.items():
            found.add((*prefix, key))
            found |= _value_paths(item, (*prefix, key))
    return found


#: Our document -> Shopify's documented example of the same operation.
FIXTURE_OF = {
    "OrderCancel": "order_cancel",
    "OrderUpdateShippingAddress": "order_update_shipping_address",
    "ReturnRequest": "return_request",
    "WebhookSubscriptionCreate": "webhook_subscription_create",
}
#: Fields we select that the example does not, each a documented field of its type.
BEYOND_THE_EXAMPLE = {("orderUpdate", "order", "shippingAddress", "address2")}


@pytest.fixture
def graphql_fixtures(shared_dir: Path) -> Path:
    return shared_dir / "fixtures" / "shopify" / "graphql"


@pytest.mark.parametrize("name", sorted(FIXTURE_OF))
def test_documents_match_shopifys_examples(name: str, graphql_fixtures: Path) -> None:
    example = parse((graphql_fixtures / f"{FIXTURE_OF[name]}.graphql").read_text())
    ours = parse(DOCUMENTS[name])
    assert (ours.kind, ours.root) == (example.kind, example.root)
    assert ours.variables == example.variables
    assert set(ours.arguments) == set(example.arguments)
    assert _paths(ours.selection) - _paths(example.selection) <= BEYOND_THE_EXAMPLE


def _shop_for_the_examples(fake: FakeShopify) -> None:
    # The orders and line items Shopify's examples refer to.
    fake.add_order(148977776)
    fake.add_order(625362839, fulfillments=[fulfillment(1, line_items=[(820022594, 1)])])


@pytest.mark.parametrize("name", sorted(FIXTURE_OF.values()))
def test_the_fake_answers_shopifys_examples_in_their_shape(
    name: str, graphql_fixtures: Path, fake_shopify: FakeShopify, client: ShopifyAdminClient
) -> None:
    _shop_for_the_examples(fake_shopify)
    document = (graphql_fixtures / f"{name}.graphql").read_text()
    variables = json.loads((graphql_fixtures / f"{name}.variables.json").read_text())
    expected = json.loads((graphql_fixtures / f"{name}.response.json").read_text())
    data = client.execute(document, variables)
    assert _value_paths(data) == _value_paths(expected)
    (root,) = expected
    for errors_key in ("userErrors", "orderCancelUserErrors"):
        if errors_key in expected[root]:
            assert data[root][errors_key] == []


def test_concurrent_callers_pace_against_each_other(fake_shopify: FakeShopify) -> None:
    _add_orders(fake_shopify, 10)
    fake_shopify.set_bucket(available=70.0, restore_rate=10.0)
    with fake_shopify.client() as client:
        list(orders_updated_since(client, SINCE, page_size=10))  # 32 points: 38 left, cost known
        # The first to arrive is answered late, so the other decides while it is in flight.
        fake_shopify.stall_next(1, seconds=0.3)
        start = threading.Barrier(2)

        def read() -> None:
            start.wait()
            list(orders_updated_since(client, SINCE, page_size=10))

        threads = [threading.Thread(target=read) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=10)
    # The first of the two goes at once (38 >= 32); the second waits for the refill its
    # predecessor's reservation left it ((32 - 6) / 10 s), instead of being throttled.
    assert fake_shopify.clock.sleeps == [pytest.approx(2.6)]
    assert [c.outcome for c in fake_shopify.calls] == ["ok", "ok", "ok"]
