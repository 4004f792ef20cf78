"""Store platforms: where the shop's orders really live, and how relaydesk reads and writes them.

One adapter per platform (shopify/ first); each turns the platform's shapes into relaydesk's own
export format (docs/store.md) and back. Work in progress for issue 11: see docs/shopify.md."""
