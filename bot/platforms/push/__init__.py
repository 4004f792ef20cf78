"""The generic signed push webhook: any shop system (WooCommerce, a custom shop) pushes its
orders, products and stock levels in relaydesk's own export format (docs/store.md) to
`/webhooks/store_push/webhook`; the contract is docs/store-push-webhook.md.

    signing.py        the signature scheme (stdlib only; the example sender uses the same)
    records.py        the body: parsed and validated into typed records, every problem named
    handler.py        stored body → PlatformSync updates (the InboxWorker's handler)
    webhook_input.py  the Rasa InputChannel: verify, validate, store durably, answer
    worker.py         starts and stops the inbox worker with the Rasa server
"""
