"""The Shopify adapter: signed webhooks in, the GraphQL Admin API out, Shopify shapes mapped to
relaydesk's export format."""
