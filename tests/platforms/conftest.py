"""Fixtures of the store-platform adapters' tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.platforms.fake_shopify_api import FakeShopify


@pytest.fixture
def fake_shopify() -> Iterator[FakeShopify]:
    """A running fake Shopify Admin API (tests/platforms/fake_shopify_api.py) with an empty
    shop, a full bucket and its own manual clock; stopped after the test."""
    with FakeShopify() as fake:
        yield fake
