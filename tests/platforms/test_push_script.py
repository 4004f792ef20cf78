"""scripts/push_store_update.py, the example sender, run as a shop would run it (its own
process, the secret in its environment) against the push endpoint served over HTTP: what it
signs is accepted and stored as sent, a resend is a duplicate, and refusals are reported with
their problems and the right exit status."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.platforms.push.worker import push_worker
from bot.store.database import Database
from bot.store.repository import StoreRepository
from tests.platforms.test_push_support import (
    PUSH_PATH,
    ROOT,
    TEST_SECRET,
    ServedPush,
    order_record,
    push_settings,
    serve_push,
    stock_record,
)

SCRIPT = ROOT / "scripts" / "push_store_update.py"


@pytest.fixture
def served(database: Database) -> Iterator[ServedPush]:
    with serve_push(database) as served:
        yield served


def run(
    served: ServedPush, records: Path, *args: str, secret: str | None = TEST_SECRET
) -> subprocess.CompletedProcess[str]:
    environment = {key: value for key, value in os.environ.items() if key != "STORE_PUSH_SECRET"}
    if secret is not None:
        environment["STORE_PUSH_SECRET"] = secret
    return subprocess.run(
        [sys.executable, str(SCRIPT), str(records), "--url", served.base_url + PUSH_PATH, *args],
        capture_output=True,
        text=True,
        env=environment,
        timeout=120,
        check=False,
    )


def write(tmp_path: Path, name: str, data: object) -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(data, indent=2), encoding="utf-8")
    return path


def test_a_push_is_accepted_stored_as_sent_and_applied(
    served: ServedPush, database: Database, tmp_path: Path
) -> None:
    body = {"format_version": 1, "records": [order_record("10023")]}
    records = write(tmp_path, "push.json", body)

    done = run(served, records, "--delivery-id", "woo-10023-1")

    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.strip() == (
        'delivery woo-10023-1, attempt 1: 200 {"status":"accepted"}'
    )  # fmt: skip
    [row] = served.rows()
    assert (row.webhook_id, json.loads(row.body)) == ("woo-10023-1", body)
    assert push_worker(database).run_pending() == 1
    assert StoreRepository(database).find_order("10023") is not None


def test_resending_a_delivery_is_a_duplicate(served: ServedPush, tmp_path: Path) -> None:
    # A bare array of records is a body too.
    records = write(tmp_path, "stock.json", [stock_record("NW-GC-050", "reno", 3)])
    assert run(served, records, "--delivery-id", "d-7").returncode == 0

    again = run(served, records, "--delivery-id", "d-7")

    assert again.returncode == 0
    assert '"duplicate"' in again.stdout
    assert len(served.rows()) == 1


def test_invalid_records_exit_1_listing_the_problems(served: ServedPush, tmp_path: Path) -> None:
    records = write(tmp_path, "bad.json", [stock_record("NW-GC-050", "reno", 3, "yesterday")])

    refused = run(served, records)

    assert refused.returncode == 1
    assert " 422 " in refused.stdout
    assert refused.stderr.strip() == (
        "- records[0] (stock NW-GC-050 at reno): updated_at must be an ISO 8601 date-time with "
        "an offset, not 'yesterday'"
    )
    assert served.rows() == []


def test_a_wrong_secret_is_401_and_not_retried(served: ServedPush, tmp_path: Path) -> None:
    records = write(tmp_path, "push.json", [stock_record("NW-GC-050", "reno", 3)])

    refused = run(served, records, secret="not-the-secret")

    assert refused.returncode == 1
    assert refused.stdout.count("attempt") == 1 and " 401 " in refused.stdout
    assert served.rows() == []


def test_without_a_secret_it_sends_nothing(served: ServedPush, tmp_path: Path) -> None:
    records = write(tmp_path, "push.json", [stock_record("NW-GC-050", "reno", 3)])
    refused = run(served, records, secret=None)
    assert refused.returncode == 2
    assert "STORE_PUSH_SECRET" in refused.stderr


def test_a_503_is_retried_with_the_same_delivery_id(database: Database, tmp_path: Path) -> None:
    records = write(tmp_path, "push.json", [stock_record("NW-GC-050", "reno", 3)])
    with serve_push(database, push_settings(secret="")) as off:
        refused = run(off, records, "--attempts", "2", "--delivery-id", "d-9")
    assert refused.returncode == 1
    assert [line.split(":")[0] for line in refused.stdout.splitlines()] == [
        "delivery d-9, attempt 1",
        "delivery d-9, attempt 2",
    ]


def curl_example() -> str:
    """The shell block of docs/store-push-webhook.md, between its markers."""
    text = (ROOT / "docs" / "store-push-webhook.md").read_text(encoding="utf-8")
    block = text.split("<!-- push-curl-example -->", 1)[1].split("<!-- /push-curl-example -->")[0]
    return block.split("```sh\n", 1)[1].split("```", 1)[0]


@pytest.mark.skipif(
    not (shutil.which("curl") and shutil.which("openssl")), reason="needs curl and openssl"
)
def test_the_docs_curl_example_is_accepted(
    served: ServedPush, database: Database, tmp_path: Path
) -> None:
    records = write(
        tmp_path, "push.json", {"format_version": 1, "records": [order_record("10024")]}
    )
    script = curl_example()
    assert 'url="https://support.example.com/webhooks/store_push/webhook"\n' in script
    script = script.replace(
        'url="https://support.example.com/webhooks/store_push/webhook"',
        f'url="{served.base_url}{PUSH_PATH}"',
    ).replace('file="push.json"', f'file="{records}"')

    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        capture_output=True,
        text=True,
        env={**os.environ, "STORE_PUSH_SECRET": TEST_SECRET},
        timeout=60,
        check=False,
    )

    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"status": "accepted"}
    [row] = served.rows()
    assert row.body == records.read_text(encoding="utf-8")  # the file's bytes, as signed
    assert push_worker(database).run_pending() == 1
    assert StoreRepository(database).find_order("10024") is not None
