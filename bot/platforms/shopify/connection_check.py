"""`relaydesk shopify check`: is the Shopify connection configured, and does the token work?

The first step of connecting a shop (docs/shopify.md): it reads the `SHOPIFY_*` settings, asks
the Admin API which shop the token belongs to (the cheapest call that proves the token), and says
in one line each what is wrong: a missing variable, a token Shopify refuses, a token of another
shop, or a Shopify that cannot be reached. It changes nothing, in Shopify or in the store.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from bot.platforms.shopify.admin_api import (
    ShopifyAdminClient,
    ShopifyRejected,
    ShopifyUnavailable,
)
from bot.platforms.shopify.operations import check_shop
from bot.settings import ShopifySettings

ClientFactory = Callable[[str, str], ShopifyAdminClient]


@dataclass(frozen=True)
class CheckReport:
    ok: bool
    lines: list[str] = field(default_factory=list)


def _missing(settings: ShopifySettings) -> list[str]:
    wanted = {
        "SHOPIFY_SHOP_DOMAIN": settings.shop_domain,
        "SHOPIFY_ADMIN_TOKEN": settings.admin_token,
        "SHOPIFY_WEBHOOK_SECRET": settings.webhook_secret,
    }
    return [name for name, value in wanted.items() if not value]


def check_connection(
    settings: ShopifySettings, client_factory: ClientFactory = ShopifyAdminClient
) -> CheckReport:
    missing = _missing(settings)
    if missing:
        return CheckReport(False, [f"not configured: set {', '.join(missing)} (.env.example)"])
    url = settings.admin_api_url
    try:
        with client_factory(url, settings.admin_token) as client:
            shop = check_shop(client)
    except ShopifyRejected as error:
        hint = " (check SHOPIFY_ADMIN_TOKEN)" if error.status in (401, 403) else ""
        return CheckReport(False, [f"Shopify refused the token at {url}: {error}{hint}"])
    except ShopifyUnavailable as error:
        return CheckReport(False, [f"cannot reach Shopify at {url}: {error}"])
    if shop.myshopify_domain.lower() != settings.shop_domain.lower():
        return CheckReport(
            False,
            [
                f"the token belongs to {shop.myshopify_domain}, not to SHOPIFY_SHOP_DOMAIN="
                f"{settings.shop_domain} (use the shop's .myshopify.com domain)"
            ],
        )
    return CheckReport(
        True,
        [
            f"token works: shop {shop.name!r} ({shop.myshopify_domain})",
            f"Admin API: {url}",
            "webhook secret is set: /webhooks/shopify/webhook accepts this shop's webhooks",
        ],
    )
