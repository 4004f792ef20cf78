#!/usr/bin/env python3
"""Push orders, products and stock levels to relaydesk's store push webhook: an example sender
for a WooCommerce or custom shop to adapt (the contract: docs/store-push-webhook.md).

    STORE_PUSH_SECRET=... python3 scripts/push_store_update.py records.json \\
        --url https://support.example.com/webhooks/store_push/webhook

`records.json` holds either a whole body, {"format_version": 1, "records": [...]}, or just the
array of records. The script signs the body (X-Relaydesk-Signature: t=<now>,v1=<hex
HMAC-SHA256(secret, "<t>.<body>")>), gives the delivery an id (X-Relaydesk-Delivery; pass
--delivery-id to resend one), POSTs it and prints relaydesk's answer. A 503 or a network error
is retried with the same delivery id, re-signed each time (the timestamp must be recent);
401, 413 and 422 are not: resending cannot help. Exit status 0 once relaydesk has the push.

Standard library only, so it runs wherever Python 3.9+ does; the secret is read from the
environment (never the command line, which `ps` shows).
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import os
import sys
import time
import urllib.error
import urllib.request
import uuid

SIGNATURE_HEADER = "X-Relaydesk-Signature"
DELIVERY_HEADER = "X-Relaydesk-Delivery"


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The X-Relaydesk-Signature value for `body` at `timestamp`."""
    signed = str(timestamp).encode("ascii") + b"." + body
    digest = hmac.new(secret.encode("utf-8"), signed, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def body_of(path: str) -> bytes:
    with open(path, encoding="utf-8") as file:
        data = json.load(file)
    if isinstance(data, list):
        data = {"format_version": 1, "records": data}
    # The exact bytes sent are the bytes signed; any serialisation will do.
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def post(url: str, body: bytes, secret: str, delivery_id: str, timeout: float) -> tuple[int, str]:
    request = urllib.request.Request(
        url,
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json",
            SIGNATURE_HEADER: sign(secret, int(time.time()), body),
            DELIVERY_HEADER: delivery_id,
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            return answer.status, answer.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode("utf-8", "replace")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("records", help="JSON file: a push body or an array of records")
    parser.add_argument(
        "--url", required=True, help="https://<PUBLIC_URL>/webhooks/store_push/webhook"
    )
    parser.add_argument("--delivery-id", default=None, help="default: a new UUID")
    parser.add_argument("--attempts", type=int, default=4, help="tries on 503 / network errors")
    parser.add_argument("--timeout", type=float, default=30.0)
    args = parser.parse_args(argv)

    secret = os.environ.get("STORE_PUSH_SECRET", "")
    if not secret:
        print("set STORE_PUSH_SECRET (the same secret relaydesk has)", file=sys.stderr)
        return 2
    body = body_of(args.records)
    delivery_id = args.delivery_id or str(uuid.uuid4())
    for attempt in range(1, args.attempts + 1):
        try:
            status, text = post(args.url, body, secret, delivery_id, args.timeout)
        except (urllib.error.URLError, OSError) as error:
            status, text = 0, str(error)
        print(f"delivery {delivery_id}, attempt {attempt}: {status or 'no answer'} {text}")
        if status == 200:
            return 0
        if status not in (0, 503) or attempt == args.attempts:
            break
        time.sleep(min(2**attempt, 60))  # then the same delivery again, signed anew
    if status == 422:
        for problem in json.loads(text).get("problems", []):
            print(f"  - {problem}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
