"""{{ policy.x }} placeholders: how values read in an article, and which ones are refused."""

from __future__ import annotations

import pytest

from bot.domain.store_policy import StorePolicy
from bot.knowledge.placeholders import PlaceholderError, find_placeholders, render


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("{{ policy.returns.window_days }} days", "30 days"),
        ("{{policy.returns.window_days}}", "30"),  # spaces are optional
        ("{{ policy.returns.window_days | days }}", "30 days"),
        ("{{ policy.refunds.store_credit_business_days | business_days }}", "1 business day"),
        ("{{ policy.address_changes.cutoff_hours_after_payment | hours }}", "12 hours"),
        ("{{ policy.shipping.free_standard_shipping_over }}", "75"),
        ("{{ policy.shipping.free_standard_shipping_over | money }}", "$75.00"),
        ("{{ policy.shipping.options.express.cost | money }}", "$14.95"),  # list item by id
        ("{{ policy.shipping.options.0.name }}", "Standard"),  # list item by position
        ("{{ policy.shipping.same_day_dispatch_cutoff | clock }}", "1pm"),
        ("{{ policy.returns.non_returnable_categories }}", "intimates and gift cards"),
        ("{{ policy.shipping.carriers | or }}", "UPS, USPS, FedEx or DHL"),
        ("{{ policy.returns.final_sale_returnable }}", "no"),
        ("{{ policy.store.support_email }}", "support@northwind.example"),
        ("no placeholders", "no placeholders"),
    ],
)
def test_render(policy: StorePolicy, text: str, expected: str) -> None:
    assert render(text, policy) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{{ policy.returns.window_weeks }}", "unknown placeholder 'policy.returns.window_weeks'"),
        ("{{ policy.shipping.options.overnight.cost }}", "unknown placeholder"),
        ("{{ returns.window_days }}", "is not a placeholder"),  # the policy. prefix is required
        ("{{ policy.returns.window_days | bold }}", "unknown filter 'bold'"),
        ("{{ policy.returns }}", "points at a whole section"),
        ("{{ policy.store.name | money }}", "money needs a number"),
        ("{{ policy.returns.window_days | clock }}", "is not a time"),
    ],
)
def test_render_refuses(policy: StorePolicy, text: str, message: str) -> None:
    with pytest.raises(PlaceholderError, match=message.replace(".", r"\.").replace("|", r"\|")):
        render(text, policy)


def test_find_placeholders_reports_positions() -> None:
    [found] = find_placeholders("Within {{ policy.returns.window_days | days }}.")
    assert (found.path, found.filter, found.start) == ("returns.window_days", "days", 7)
