"""Fixtures of the store-platform adapters' tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.store.database import Database
from tests.platforms.fake_shopify_api import FakeShopify


@pytest.fixture
def database(tmp_path: Path) -> Iterator[Database]:
    """A fresh, migrated SQLite store in the test's directory (tests that also run on
    PostgreSQL define their own)."""
    database = Database(f"sqlite:///{tmp_path / 'store.db'}")
    database.migrate()
    try:
        yield database
    finally:
        database.dispose()


@pytest.fixture
def fake_shopify() -> Iterator[FakeShopify]:
    """A running fake Shopify Admin API (tests/platforms/fake_shopify_api.py) with an empty
    shop, a full bucket and its own manual clock; stopped after the test."""
    with FakeShopify() as fake:
        yield fake
