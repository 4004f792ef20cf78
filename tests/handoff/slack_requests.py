"""Requests as Slack sends them to the bridge: Events API and interactivity payloads, shaped
like bolt-python's own test fixtures (../shared/fixtures/slack/) and signed with Slack's v0
scheme (checked against Slack's published vector in test_slack_signing.py)."""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import quote

import requests

FIXTURES = Path(__file__).resolve().parents[3] / "shared" / "fixtures" / "slack"


def vector() -> dict[str, Any]:
    return dict(json.loads((FIXTURES / "signature_vector_v0.json").read_text()))


def signature(secret: str, timestamp: str, body: str) -> str:
    base = f"v0:{timestamp}:{body}".encode()
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


def signed_headers(
    secret: str, body: str, content_type: str, timestamp: int | None = None
) -> dict[str, str]:
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    return {
        "Content-Type": content_type,
        "X-Slack-Request-Timestamp": stamp,
        "X-Slack-Signature": signature(secret, stamp, body),
    }


def message_event(
    channel: str, thread_ts: str, user: str, text: str, *, ts: str | None = None
) -> dict[str, Any]:
    """An Events API `message` callback (bolt-python's fixture, in a thread)."""
    body = copy.deepcopy(json.loads((FIXTURES / "bolt-python_events_api_message_body.json")
                                    .read_text()))  # fmt: skip
    event = body["event"]
    event.pop("blocks", None)
    event.update(
        text=text, user=user, channel=channel, thread_ts=thread_ts,
        ts=ts or f"{time.time():.6f}", event_ts=ts or f"{time.time():.6f}",
        client_msg_id=str(uuid.uuid4()),
    )  # fmt: skip
    body["event_id"] = f"Ev{uuid.uuid4().hex[:10].upper()}"
    body["event_time"] = int(time.time())
    return dict(body)


def button_click(
    action_id: str,
    ticket_id: int,
    user: str,
    channel: str,
    message_ts: str,
    *,
    ephemeral: bool = False,
    response_url: str | None = None,
) -> dict[str, Any]:
    """A `block_actions` interaction (bolt-python's fixture with our button). `ticket_id` is
    the button's value (a ticket, a held-back note's or a reply's id, as the button has it)."""
    payload = copy.deepcopy(json.loads((FIXTURES / "bolt-python_block_actions_payload.json")
                                       .read_text()))  # fmt: skip
    payload["user"]["id"] = user
    payload["container"].update(message_ts=message_ts, channel_id=channel, is_ephemeral=ephemeral)
    payload["channel"]["id"] = channel
    payload["trigger_id"] = f"{int(time.time())}.{uuid.uuid4().int % 10**12}.{uuid.uuid4().hex}"
    if response_url is not None:
        payload["response_url"] = response_url
    payload["actions"] = [{
        "action_id": action_id, "block_id": "handoff_actions", "type": "button",
        "value": str(ticket_id), "text": {"type": "plain_text", "text": action_id},
        "action_ts": f"{time.time():.6f}",
    }]  # fmt: skip
    return dict(payload)


def view_submission(
    view: dict[str, Any], user: str, values: dict[str, dict[str, str]], *, team: str = "T111"
) -> dict[str, Any]:
    """A `view_submission` interaction: the modal `view` (as the app opened it) submitted by
    `user` with `values` ({block_id: {action_id: text}}), shaped like Slack's (and
    bolt-python's scenario tests)."""
    return {
        "type": "view_submission",
        "team": {"id": team, "domain": "northwind"},
        "user": {"id": user, "username": user.lower(), "name": user.lower(), "team_id": team},
        "api_app_id": "A111",
        "token": "verification_token",
        "trigger_id": f"{int(time.time())}.{uuid.uuid4().int % 10**12}.{uuid.uuid4().hex}",
        "view": {
            **view,
            "id": f"V{uuid.uuid4().hex[:10].upper()}",
            "team_id": team,
            "state": {"values": {
                block: {action: {"type": "plain_text_input", "value": text}
                        for action, text in actions.items()}
                for block, actions in values.items()
            }},
            "hash": f"{int(time.time())}.{uuid.uuid4().hex[:8]}",
            "previous_view_id": None,
            "root_view_id": "V111",
            "app_id": "A111",
            "external_id": "",
            "app_installed_team_id": team,
            "bot_id": "B111",
        },
        "response_urls": [],
    }  # fmt: skip


def post_event(
    url: str, secret: str, body: dict[str, Any], retry: int | None = None, **headers: str
) -> requests.Response:
    raw = json.dumps(body)
    sent = signed_headers(secret, raw, "application/json")
    if retry is not None:
        sent.update({"X-Slack-Retry-Num": str(retry), "X-Slack-Retry-Reason": "http_timeout"})
    return requests.post(url, data=raw.encode(), headers={**sent, **headers}, timeout=10)


def post_interaction(url: str, secret: str, payload: dict[str, Any]) -> requests.Response:
    raw = "payload=" + quote(json.dumps(payload))
    headers = signed_headers(secret, raw, "application/x-www-form-urlencoded")
    return requests.post(url, data=raw.encode(), headers=headers, timeout=10)
