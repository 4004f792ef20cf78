"""`relaydesk shopify check` against the fake Shopify Admin API, over real HTTP."""

from __future__ import annotations

import socket
from typing import Any

import pytest

from bot.cli import main
from bot.platforms.shopify.admin_api import ShopifyAdminClient
from bot.platforms.shopify.connection_check import check_connection
from bot.settings import ShopifySettings
from tests.platforms.fake_shopify_api import SHOP_DOMAIN, FakeShopify


def _settings(fake: FakeShopify, **changes: Any) -> ShopifySettings:
    values = {
        "shop_domain": SHOP_DOMAIN,
        "admin_token": fake.access_token,
        "webhook_secret": "whsec",
        "api_base_url": fake.base_url,
        **changes,
    }
    return ShopifySettings(**values)


def _quick(url: str, token: str) -> ShopifyAdminClient:
    return ShopifyAdminClient(url, token, timeout=2.0, max_attempts=1)


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_a_working_token_names_the_shop(fake_shopify: FakeShopify) -> None:
    report = check_connection(_settings(fake_shopify), _quick)
    assert report.ok
    assert SHOP_DOMAIN in report.lines[0]
    assert [(call.root, call.outcome) for call in fake_shopify.calls] == [("shop", "ok")]


@pytest.mark.parametrize(
    ("changes", "says"),
    [
        ({"admin_token": ""}, "set SHOPIFY_ADMIN_TOKEN"),
        ({"shop_domain": "", "webhook_secret": ""}, "SHOPIFY_SHOP_DOMAIN, SHOPIFY_WEBHOOK_SECRET"),
        ({"admin_token": "shpat_wrong"}, "check SHOPIFY_ADMIN_TOKEN"),
        ({"shop_domain": "other-shop.myshopify.com"}, f"belongs to {SHOP_DOMAIN}"),
    ],
    ids=["no token", "no domain nor secret", "wrong token", "other shop"],
)
def test_what_is_wrong_is_said(
    fake_shopify: FakeShopify, changes: dict[str, str], says: str
) -> None:
    report = check_connection(_settings(fake_shopify, **changes), _quick)
    assert not report.ok
    assert says in report.lines[0]


def test_an_unreachable_shopify_is_said(fake_shopify: FakeShopify) -> None:
    url = f"http://127.0.0.1:{_closed_port()}/admin/api/2026-07"
    report = check_connection(_settings(fake_shopify, api_base_url=url), _quick)
    assert not report.ok
    assert report.lines[0].startswith(f"cannot reach Shopify at {url}")


def test_the_command_reads_the_environment(
    fake_shopify: FakeShopify, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name, value in {
        "SHOPIFY_SHOP_DOMAIN": SHOP_DOMAIN,
        "SHOPIFY_ADMIN_TOKEN": fake_shopify.access_token,
        "SHOPIFY_WEBHOOK_SECRET": "whsec",
        "SHOPIFY_API_BASE_URL": fake_shopify.base_url,
    }.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(SystemExit) as exit_code:
        main(["shopify", "check"])
    assert exit_code.value.code == 0
    assert "token works" in capsys.readouterr().out
    monkeypatch.setenv("SHOPIFY_ADMIN_TOKEN", "shpat_wrong")
    with pytest.raises(SystemExit) as exit_code:
        main(["shopify", "check"])
    assert exit_code.value.code == 1
