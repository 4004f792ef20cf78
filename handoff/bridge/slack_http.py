"""The HTTP adapter in front of slack-bolt: `/slack/events` of the bridge.

slack-bolt parses a request's body while building its request object, before it checks the
signature, and trusts the body's shape all the way through its routing: invalid JSON, an
`event` that is not an object, a `payload=` that is not JSON, a `user` that is a number or
bytes that are not UTF-8 all end in a 500 (and Slack retries 500s). So this adapter, in order:

1. checks Slack's v0 signature over the raw bytes (as slack-sdk's `SignatureVerifier`, which
   bolt uses, does over text; stale timestamps refused) and answers 401 like bolt when it
   fails, so an unsigned request learns nothing about how its body would be read;
2. reads the body exactly as bolt will (JSON, or a form with a JSON `payload`, or a plain
   form) and checks the fields bolt and our listeners rely on, answering 400 with what is
   wrong ("malformed Slack request: ...");
3. hands the request to bolt, which verifies it again and dispatches it; listeners still
   `ack()` first (handoff/bridge/slack_app.py).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response
from slack_bolt.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest

logger = logging.getLogger(__name__)

MALFORMED = "malformed Slack request"
#: Slack's replay window: older (or newer) timestamps are refused.
MAX_CLOCK_SKEW = 300

#: Fields that are an id string or an object with a string "id" (bolt's extract_* helpers).
_ID_FIELDS = ("enterprise", "team", "user", "channel")
#: Fields that are strings whenever present (ids, timestamps, routing keys).
_STRING_FIELDS = (
    "type", "team_id", "user_id", "channel_id", "enterprise_id", "thread_ts", "ts",
    "event_ts", "user_team", "source_team", "subtype", "bot_id", "function_execution_id",
    "bot_access_token", "response_url", "callback_id", "action_id", "block_id", "command",
    "token", "api_app_id", "trigger_id", "app_installed_team_id",
)  # fmt: skip
#: Nested objects bolt looks into with the same helpers.
_OBJECT_FIELDS = (
    "event", "message", "previous_message", "item", "assistant_thread", "view", "container",
    "function_data", "function", "state",
)  # fmt: skip
#: Lists of objects bolt indexes into ([0]).
_OBJECT_LIST_FIELDS = ("authorizations", "response_urls", "actions")
#: Where a message's text is read (bolt's message matchers run regexes on it).
_TEXT_HOLDERS = ("event", "message", "previous_message")
_MAX_DEPTH = 4


class MalformedRequest(ValueError):
    """The body cannot be what Slack sends; the message says why (it goes back in the 400)."""


def signature_ok(
    secret: str, raw: bytes, headers: Mapping[str, str], now: float | None = None
) -> bool:
    """Slack's v0 scheme over the raw bytes, as slack-sdk's SignatureVerifier checks it (which
    only takes UTF-8 text): "v0=" + hex(HMAC-SHA256(secret, "v0:{timestamp}:" + body)), with the
    timestamp at most five minutes from now."""
    timestamp, given = headers.get("X-Slack-Request-Timestamp"), headers.get("X-Slack-Signature")
    if not timestamp or not given:
        return False
    try:
        if abs((time.time() if now is None else now) - int(timestamp)) > MAX_CLOCK_SKEW:
            return False
    except ValueError:  # not a number
        return False
    digest = hmac.new(secret.encode(), f"v0:{timestamp}:".encode() + raw, hashlib.sha256)
    return hmac.compare_digest(f"v0={digest.hexdigest()}", given)


def read_body(raw: bytes, content_type: str | None) -> tuple[str, dict[str, Any]]:
    """The body as text and as bolt will parse it (slack_bolt.request.internals.parse_body),
    checked; raises MalformedRequest."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise MalformedRequest(f"the body is not valid UTF-8 (byte {error.start})") from None
    if not text:
        return text, {}
    if content_type == "application/json" or text.startswith("{"):
        body = _json_object(text, "the body")
    elif "payload" in text:
        payload = dict(parse_qsl(text, keep_blank_values=True)).get("payload")
        body = {} if payload is None else _json_object(payload, "`payload`")
    else:
        body = dict(parse_qsl(text, keep_blank_values=True))  # a slash command: all strings
    check_shape(body)
    return text, body


def _json_object(text: str, what: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        raise MalformedRequest(f"{what} is not valid JSON") from None
    if not isinstance(value, dict):
        raise MalformedRequest(f"{what} must be a JSON object, not {_kind(value)}")
    return value


def check_shape(body: dict[str, Any]) -> None:
    """The fields slack-bolt routes on and our listeners read have Slack's types."""
    if "event" in body and not isinstance(body["event"], dict):
        raise MalformedRequest(f"`event` must be an object, not {_kind(body['event'])}")
    _check_fields(body, "", 0)
    kind = body.get("type")
    if kind == "event_callback":
        event = body.get("event")
        if not isinstance(event, dict) or not isinstance(event.get("type"), str):
            raise MalformedRequest("an event_callback needs an `event` object with a `type`")
    elif kind in ("block_actions", "interactive_message"):
        actions = body.get("actions")
        if not isinstance(actions, list) or not actions:
            raise MalformedRequest(f"a {kind} payload needs a non-empty `actions` list")
        key = "action_id" if kind == "block_actions" else "name"
        for index, action in enumerate(actions):
            if not isinstance(action.get(key), str):
                raise MalformedRequest(f"`actions[{index}].{key}` must be a string")
            if not isinstance(action.get("value", ""), str):
                raise MalformedRequest(f"`actions[{index}].value` must be a string")
        if kind == "interactive_message" and not isinstance(body.get("callback_id"), str):
            raise MalformedRequest("an interactive_message needs a string `callback_id`")
    elif kind in ("view_submission", "view_closed"):
        if not isinstance(body.get("view"), dict):
            raise MalformedRequest(f"a {kind} payload needs a `view` object")
    elif kind in ("shortcut", "message_action", "dialog_submission", "dialog_cancellation",
                  "dialog_suggestion"):  # fmt: skip
        if not isinstance(body.get("callback_id"), str):
            raise MalformedRequest(f"a {kind} payload needs a string `callback_id`")
    elif kind == "block_suggestion":
        if not isinstance(body.get("action_id"), str):
            raise MalformedRequest("a block_suggestion payload needs a string `action_id`")
    elif kind == "url_verification" and not isinstance(body.get("challenge"), str):
        raise MalformedRequest("a url_verification request needs a string `challenge`")


def _check_fields(value: dict[str, Any], where: str, depth: int) -> None:
    for name in _ID_FIELDS:
        field = value.get(name)
        if field is None or isinstance(field, str):
            continue
        if not isinstance(field, dict) or not isinstance(field.get("id", ""), str | None):
            raise MalformedRequest(f"`{where}{name}` must be an id or an object with a string id")
    for name in _STRING_FIELDS:
        if value.get(name) is not None and not isinstance(value[name], str):
            raise MalformedRequest(f"`{where}{name}` must be a string, not {_kind(value[name])}")
    holder = where.rstrip(".").split(".")[-1]
    if holder in _TEXT_HOLDERS and not isinstance(value.get("text", ""), str | None):
        raise MalformedRequest(f"`{where}text` must be a string")
    if depth >= _MAX_DEPTH:
        return
    for name in _OBJECT_FIELDS:
        field = value.get(name)
        if field is None:
            continue
        if not isinstance(field, dict):
            raise MalformedRequest(f"`{where}{name}` must be an object, not {_kind(field)}")
        _check_fields(field, f"{where}{name}.", depth + 1)
    for name in _OBJECT_LIST_FIELDS:
        field = value.get(name)
        if field is None:
            continue
        if not isinstance(field, list) or not all(isinstance(item, dict) for item in field):
            raise MalformedRequest(f"`{where}{name}` must be a list of objects")
        for index, item in enumerate(field):
            _check_fields(item, f"{where}{name}[{index}].", depth + 1)


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    return {bool: "a boolean", int: "a number", float: "a number", str: "a string",
            list: "a list", dict: "an object"}.get(type(value), type(value).__name__)  # fmt: skip


def slack_handler(app: AsyncApp, signing_secret: str) -> Any:
    """The aiohttp handler for `/slack/events`."""
    if not signing_secret:
        raise ValueError("the Slack endpoint needs the app's signing secret")

    async def handle(request: web.Request) -> web.Response:
        raw = await request.read()
        if not signature_ok(signing_secret, raw, request.headers):
            return web.json_response({"error": "invalid request"}, status=401)
        try:
            # bolt's own reading of the content type (not lower-cased, parameters dropped)
            content_type = request.headers.get("Content-Type", "").split(";")[0] or None
            text, _body = read_body(raw, content_type)
            bolt_request = AsyncBoltRequest(
                body=text,
                query=request.query_string,
                headers=request.headers,  # type: ignore[arg-type]
            )
        except MalformedRequest as error:
            logger.warning("refused a signed Slack request: %s", error)
            return web.json_response({"error": f"{MALFORMED}: {error}"}, status=400)
        except Exception as error:  # bolt could not read what we let through: the body's fault
            logger.warning("slack-bolt could not read a signed request: %r", error)
            return web.json_response(
                {"error": f"{MALFORMED}: slack-bolt could not read it"}, status=400
            )
        return await to_aiohttp_response(await app.async_dispatch(bolt_request))

    return handle
