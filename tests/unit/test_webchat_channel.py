"""channels.webchat.WebChatInput: the HTTP routes and the socket.io session handling.

Runs the channel's blueprint on a real Sanic server (in a thread, see
channels.webchat.devserver) because Sanic 21.12 has no built-in test client, and raw paths
like ``static/../x`` must reach the server un-normalised, which only a plain socket client
(http.client) guarantees.
"""

from __future__ import annotations

import http.client
import json
import queue
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import socketio
from rasa.core.channels.channel import UserMessage

from channels.core.inbound_text import BLANK_REPLY, TEXT_LIMIT, TOO_LONG_REPLY
from channels.jsonapi.parsing import WEBCHAT_SESSION_RE
from channels.webchat import WebChatInput
from channels.webchat.assets import STATIC_DIR, find_asset
from channels.webchat.channel import DEFAULT_SOCKETIO_PATH, SESSION_ID_RE
from channels.webchat.devserver import WebChatServer
from channels.webchat.embedding import EmbedOriginsError, parse_embed_origins

CREDENTIALS = {
    "user_message_evt": "user_uttered",
    "bot_message_evt": "bot_uttered",
    "session_persistence": True,
}

received: list[UserMessage] = []


async def echo(message: UserMessage) -> None:
    received.append(message)
    await message.output_channel.send_text_message(message.sender_id, f"echo: {message.text}")


@pytest.fixture(scope="module")
def server() -> Iterator[WebChatServer]:
    channel = WebChatInput.from_credentials(CREDENTIALS)
    assert isinstance(channel, WebChatInput)
    with WebChatServer(echo, channel) as running:
        yield running


def raw_get(server: WebChatServer, path: str) -> tuple[int, bytes]:
    """GET with the path sent byte for byte (no dot-segment removal, no re-encoding)."""
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


# ------------------------------------------------------------------ configuration


def test_channel_from_the_credentials_stanza() -> None:
    channel = WebChatInput.from_credentials(CREDENTIALS)
    assert isinstance(channel, WebChatInput)
    assert channel.name() == "webchat"
    assert channel.url_prefix() == "webchat"
    assert channel.session_persistence is True
    assert channel.store_name == "Northwind Outfitters"
    assert channel.transports == ("polling",)


def test_socket_lives_under_the_channel_prefix() -> None:
    # One reverse-proxy rule for /webhooks/webchat/ then covers the page and its socket.
    for credentials in (CREDENTIALS, {}):
        channel = WebChatInput.from_credentials(credentials)
        assert isinstance(channel, WebChatInput)
        assert channel.socketio_path == DEFAULT_SOCKETIO_PATH == "/webhooks/webchat/socket.io"
        # The page resolves it relative to itself (works behind a proxy's path prefix).
        assert channel.page_config().socket_path == "socket.io"
    elsewhere = WebChatInput.from_credentials({"socketio_path": "/chat-socket"})
    assert isinstance(elsewhere, WebChatInput)
    assert elsewhere.page_config().socket_path == "/chat-socket"


def test_session_id_forms_agree_with_the_json_endpoint() -> None:
    # The JSON endpoint refuses exactly the ids the web chat accepts.
    assert SESSION_ID_RE.pattern == WEBCHAT_SESSION_RE.pattern


def test_transports_are_validated() -> None:
    channel = WebChatInput.from_credentials({"transports": ["websocket", "polling"]})
    assert isinstance(channel, WebChatInput)
    assert channel.transports == ("polling", "websocket")
    with pytest.raises(ValueError, match="transports"):
        WebChatInput.from_credentials({"transports": ["carrier-pigeon"]})


# ------------------------------------------------------------------ the page


def test_page_is_served(server: WebChatServer) -> None:
    response = requests.get(server.webchat_url, timeout=10)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/html; charset=utf-8"
    assert response.headers["Cache-Control"] == "no-cache"
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    page = response.text
    assert "Northwind Outfitters" in page
    assert "Support assistant" in page
    for test_id in ("webchat-messages", "webchat-input", "webchat-send", "webchat-typing"):
        assert f'data-testid="{test_id}"' in page
    # Asset URLs carry the content hash so browsers can cache them for good.
    version = find_asset("webchat.js")
    assert version is not None
    assert f'src="static/webchat.js?v={version.version}"' in page
    assert 'data-transports="polling"' in page
    assert "${" not in page  # every template placeholder was filled


def test_page_may_only_be_framed_by_itself_by_default(server: WebChatServer) -> None:
    response = requests.get(server.webchat_url, timeout=10)
    csp = [d.strip() for d in response.headers["Content-Security-Policy"].split(";")]
    assert "frame-ancestors 'self'" in csp
    assert response.headers["X-Frame-Options"] == "SAMEORIGIN"
    assert 'data-socket-path="socket.io"' in response.text
    # A revalidation (304) carries the same policy.
    again = requests.get(
        server.webchat_url, headers={"If-None-Match": response.headers["ETag"]}, timeout=10
    )
    assert again.status_code == 304
    assert again.headers["X-Frame-Options"] == "SAMEORIGIN"
    assert "frame-ancestors 'self'" in again.headers["Content-Security-Policy"]


def test_embedding_sites_are_listed_in_frame_ancestors() -> None:
    channel = WebChatInput.from_credentials(
        {"embed_origins": "https://shop.example.com, https://*.example.org:8443/"}
    )
    assert isinstance(channel, WebChatInput)
    with WebChatServer(echo, channel) as running:
        response = requests.get(running.webchat_url, timeout=10)
    csp = [d.strip() for d in response.headers["Content-Security-Policy"].split(";")]
    assert "frame-ancestors 'self' https://shop.example.com https://*.example.org:8443" in csp
    # X-Frame-Options cannot list sites; browsers that know frame-ancestors ignore it.
    assert response.headers["X-Frame-Options"] == "SAMEORIGIN"


@pytest.mark.parametrize(
    ("value", "origins"),
    [
        (None, ()),
        ("", ()),
        ("  ", ()),
        ("https://shop.example.com", ("https://shop.example.com",)),
        ("https://Shop.Example.com/", ("https://shop.example.com",)),
        ("https://shop.example.com:443", ("https://shop.example.com",)),
        (
            "https://a.example, https://b.example:8443",
            ("https://a.example", "https://b.example:8443"),
        ),
        ("https://a.example https://a.example", ("https://a.example",)),
        (["https://a.example", "https://b.example"], ("https://a.example", "https://b.example")),
        ("https://*.example.com", ("https://*.example.com",)),
        ("https://203.0.113.7", ("https://203.0.113.7",)),
    ],
)
def test_embed_origins_are_parsed(value: Any, origins: tuple[str, ...]) -> None:
    assert parse_embed_origins(value) == origins


@pytest.mark.parametrize(
    "value",
    [
        "http://shop.example.com",  # not https
        "shop.example.com",
        "*",
        "https://*",
        "https://*.com",  # every .com site
        "https://shop.example.com/widget",
        "https://shop.example.com?x=1",
        "https://user@shop.example.com",
        "'self'",
        "'unsafe-inline'",
        "https://shop.example.com:99999",
        "https://shop.example.com;script-src *",  # no smuggling of other directives
        "https://good.example, http://bad.example",
        "data:",
        "https:",
    ],
)
def test_bad_embed_origins_stop_the_channel_with_a_clear_error(value: str) -> None:
    with pytest.raises(
        EmbedOriginsError, match=r"WEBCHAT_EMBED_ORIGINS: .* is not an https origin"
    ):
        WebChatInput.from_credentials({"embed_origins": value})


def test_page_without_trailing_slash_redirects(server: WebChatServer) -> None:
    response = requests.get(
        server.webchat_url.rstrip("/"), params={"a": "1"}, allow_redirects=False, timeout=10
    )
    assert response.status_code == 301
    assert response.headers["Location"] == "/webhooks/webchat/?a=1"


def test_page_revalidates_with_etag(server: WebChatServer) -> None:
    etag = requests.get(server.webchat_url, timeout=10).headers["ETag"]
    again = requests.get(server.webchat_url, headers={"If-None-Match": etag}, timeout=10)
    assert again.status_code == 304
    assert again.content == b""


def test_store_name_is_configurable_and_escaped() -> None:
    channel = WebChatInput.from_credentials({"store_name": 'Bob & "Sons" <b>'})
    assert isinstance(channel, WebChatInput)
    with WebChatServer(echo, channel) as running:
        page = requests.get(running.webchat_url, timeout=10).text
    assert "Bob &amp; &quot;Sons&quot; &lt;b&gt;" in page
    assert "<b>" not in page


# ------------------------------------------------------------------ assets


@pytest.mark.parametrize(
    ("name", "content_type"),
    [
        ("webchat.js", "text/javascript; charset=utf-8"),
        ("webchat.css", "text/css; charset=utf-8"),
        ("socket.io.min.js", "text/javascript; charset=utf-8"),
        ("favicon.svg", "image/svg+xml"),
    ],
)
def test_assets_are_served_with_their_content_type(
    server: WebChatServer, name: str, content_type: str
) -> None:
    response = requests.get(f"{server.webchat_url}static/{name}", timeout=10)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == content_type
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.content == (STATIC_DIR / name).read_bytes()


def test_vendored_socketio_client_is_v4() -> None:
    head = (STATIC_DIR / "socket.io.min.js").read_text(encoding="utf-8")[:200]
    assert "Socket.IO v4." in head
    assert "MIT" in head


def test_asset_caching(server: WebChatServer) -> None:
    asset = find_asset("webchat.css")
    assert asset is not None
    url = f"{server.webchat_url}static/webchat.css"

    versioned = requests.get(url, params={"v": asset.version}, timeout=10)
    assert versioned.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    # Without (or with a stale) version the URL may change content, so it must revalidate.
    for params in ({}, {"v": "stale"}):
        plain = requests.get(url, params=params, timeout=10)
        assert plain.headers["Cache-Control"] == "no-cache"
        assert plain.headers["ETag"] == asset.etag

    not_modified = requests.get(url, headers={"If-None-Match": asset.etag}, timeout=10)
    assert not_modified.status_code == 304


def test_head_has_no_body(server: WebChatServer) -> None:
    response = requests.head(f"{server.webchat_url}static/webchat.js", timeout=10)
    assert response.status_code == 200
    assert response.content == b""
    assert int(response.headers["Content-Length"]) == (STATIC_DIR / "webchat.js").stat().st_size


@pytest.mark.parametrize(
    "path",
    [
        "static/../channel.py",
        "static/../page.html",
        "static/../../webchat/channel.py",
        "static/..%2fchannel.py",
        "static/%2e%2e/channel.py",
        "static/%2e%2e%2fchannel.py",
        "static/..\\channel.py",
        "static//etc/passwd",
        "static/.hidden.js",
        "static/missing.js",
        "static/socket.io.min.js.map",  # not on the allowlist of served types
        "static/",
    ],
)
def test_unsafe_or_unknown_asset_paths_are_404(server: WebChatServer, path: str) -> None:
    status, body = raw_get(server, f"/webhooks/webchat/{path}")
    assert status == 404
    assert b"WebChatInput" not in body and b"root:" not in body


@pytest.mark.parametrize(
    "name",
    ["../channel.py", "/etc/passwd", "..\\channel.py", "a/../../channel.py", ".x.js", "", "x\0.js"],
)
def test_find_asset_rejects_unsafe_names(name: str) -> None:
    assert find_asset(name) is None


def test_find_asset_does_not_follow_symlinks_out_of_the_root(tmp_path: Path) -> None:
    root = tmp_path / "static"
    (root / "sub").mkdir(parents=True)
    (root / "sub" / "ok.js").write_text("ok")
    (tmp_path / "secret.js").write_text("secret")
    (root / "link.js").symlink_to(tmp_path / "secret.js")

    nested = find_asset("sub/ok.js", root)
    assert nested is not None and nested.body == b"ok"
    assert find_asset("link.js", root) is None


# ------------------------------------------------------------------ health


def test_health(server: WebChatServer) -> None:
    response = requests.get(f"{server.webchat_url}health", timeout=10)
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


# ------------------------------------------------------------------ socket.io


@pytest.mark.parametrize("path", ["/webhooks/webchat/socket.io/", "/socket.io/"])
def test_websocket_transport_is_refused_by_default(server: WebChatServer, path: str) -> None:
    # Sanic 21.12's websockets break on Python 3.11; see DEFAULT_TRANSPORTS in channel.py.
    status, _ = raw_get(server, f"{path}?EIO=4&transport=websocket")
    assert status == 400


def _close(client: socketio.Client) -> None:
    # Client.disconnect() waits for the pending long-poll to return, up to the server's 25 s
    # ping interval; the server notices the closed session either way.
    client.eio.disconnect(abort=True)


def _connect(
    server: WebChatServer, session_id: str | None, path: str = "socket.io"
) -> tuple[socketio.Client, str, Any]:
    """Connects, requests a session and returns (client, confirmed session id, bot queue)."""
    replies: queue.Queue[Any] = queue.Queue()
    confirmed: queue.Queue[str] = queue.Queue()
    client = socketio.Client(reconnection=False)
    client.on("bot_uttered", replies.put)
    client.on("session_confirm", confirmed.put)
    client.connect(server.base_url, transports=["polling"], wait_timeout=10, socketio_path=path)
    client.emit("session_request", {"session_id": session_id})
    return client, confirmed.get(timeout=10), replies


def test_replies_reach_the_session_room_across_reconnects(server: WebChatServer) -> None:
    # Stock Rasa 3.6 never awaits sio.enter_room(), so with session_persistence the client is
    # never in its room and gets no replies (RasaHQ/rasa#13027). WebChatInput fixes that.
    client, session_id, replies = _connect(server, None)
    try:
        assert len(session_id) == 32
        client.emit("user_uttered", {"message": "hello", "session_id": session_id})
        assert replies.get(timeout=10) == {"text": "echo: hello"}
    finally:
        _close(client)

    # A reload: new socket, same session id, and replies still arrive.
    client, same_id, replies = _connect(server, session_id)
    try:
        assert same_id == session_id
        client.emit("user_uttered", {"message": "again", "session_id": session_id})
        assert replies.get(timeout=10) == {"text": "echo: again"}
    finally:
        _close(client)

    message = next(m for m in received if m.text == "again")
    assert message.sender_id == session_id
    assert message.input_channel == "webchat"


def test_the_page_socket_path_under_the_prefix(server: WebChatServer) -> None:
    client, session_id, replies = _connect(server, None, path="webhooks/webchat/socket.io")
    try:
        client.emit("user_uttered", {"message": "via the prefix", "session_id": session_id})
        assert replies.get(timeout=10) == {"text": "echo: via the prefix"}
    finally:
        _close(client)


def test_legacy_socket_path_can_be_dropped() -> None:
    channel = WebChatInput.from_credentials({**CREDENTIALS, "legacy_socketio_path": ""})
    with WebChatServer(echo, channel) as running:
        status, _ = raw_get(running, "/socket.io/?EIO=4&transport=polling")
        assert status == 404
        status, _ = raw_get(running, "/webhooks/webchat/socket.io/?EIO=4&transport=polling")
        assert status == 200


def _no_reply(replies: queue.Queue[Any], wait: float = 1.0) -> bool:
    try:
        replies.get(timeout=wait)
    except queue.Empty:
        return True
    return False


@pytest.mark.parametrize(
    "target",
    [
        "whatsapp:+14155550123",
        "messenger:1234567890123456",
        "telegram:42",
        "0123456789abcdef0123456789abcdef",  # another web chat session
        None,
        {"$ne": 1},
    ],
)
def test_a_socket_speaks_only_in_the_session_it_joined(server: WebChatServer, target: Any) -> None:
    # Rasa's handler took the conversation from the message itself: any socket could write
    # into any conversation, a verified WhatsApp shopper's included.
    client, session_id, replies = _connect(server, None)
    try:
        before = len(received)
        client.emit("user_uttered", {"message": "where is my order 10024", "session_id": target})
        assert _no_reply(replies)
        assert len(received) == before
        client.emit("user_uttered", {"message": "mine", "session_id": session_id})
        assert replies.get(timeout=10) == {"text": "echo: mine"}
    finally:
        _close(client)
    assert not any(m.sender_id == target for m in received)


def test_a_message_before_any_session_request_is_dropped(server: WebChatServer) -> None:
    replies: queue.Queue[Any] = queue.Queue()
    client = socketio.Client(reconnection=False)
    client.on("bot_uttered", replies.put)
    client.connect(server.base_url, transports=["polling"], wait_timeout=10)
    try:
        client.emit("user_uttered", {"message": "hi", "session_id": "0" * 32})
        assert _no_reply(replies)
    finally:
        _close(client)


@pytest.mark.parametrize(
    ("text", "reply"),
    [
        ("", BLANK_REPLY),
        ("   ", BLANK_REPLY),
        ("\n\t", BLANK_REPLY),
        ("\ud800", BLANK_REPLY),  # a lone surrogate
        ("\u200b", BLANK_REPLY),
        ("\x00", BLANK_REPLY),
        ("x" * (TEXT_LIMIT + 1), TOO_LONG_REPLY),
        # Engine.IO refuses payloads over 1 MB (max_http_buffer_size) before this channel.
        ("where is my order " * 50_000, TOO_LONG_REPLY),  # 900 KB
    ],
    ids=["empty", "spaces", "newline-tab", "lone-surrogate", "zero-width", "nul", "4097", "900KB"],
)
def test_blank_and_too_long_messages_are_answered_without_the_assistant(
    server: WebChatServer, text: str, reply: str
) -> None:
    client, session_id, replies = _connect(server, None)
    try:
        before = len(received)
        client.emit("user_uttered", {"message": text, "session_id": session_id})
        assert replies.get(timeout=10) == {"text": reply}
        assert len(received) == before  # the assistant never saw it
    finally:
        _close(client)


def test_a_missing_text_is_blank_and_a_non_text_is_dropped(server: WebChatServer) -> None:
    client, session_id, replies = _connect(server, None)
    try:
        client.emit("user_uttered", {"session_id": session_id})
        assert replies.get(timeout=10) == {"text": BLANK_REPLY}
        client.emit("user_uttered", {"message": {"text": "hi"}, "session_id": session_id})
        assert _no_reply(replies)
    finally:
        _close(client)


def test_texts_reach_the_assistant_cleaned(server: WebChatServer) -> None:
    client, session_id, replies = _connect(server, None)
    try:
        client.emit("user_uttered", {"message": "order\x00 10024 \ud800", "session_id": session_id})
        assert replies.get(timeout=10) == {"text": "echo: order 10024 \ufffd"}
        limit = "x" * TEXT_LIMIT
        client.emit("user_uttered", {"message": limit, "session_id": session_id})
        assert replies.get(timeout=10) == {"text": f"echo: {limit}"}
    finally:
        _close(client)


@pytest.mark.parametrize(
    "bad",
    [
        None,
        {},
        {"session_id": {"$ne": 1}},
        {"session_id": "x" * 500},
        "str",
        # Only the form the server issues: other channels' ids and chosen ids are refused.
        {"session_id": "whatsapp:+14155550123"},
        {"session_id": "telegram:42"},
        {"session_id": "test-a1b2c3d4e5f6"},
        {"session_id": "0123456789ABCDEF0123456789ABCDEF"},
    ],
)
def test_malformed_session_requests_get_a_fresh_id(server: WebChatServer, bad: Any) -> None:
    replies: queue.Queue[str] = queue.Queue()
    client = socketio.Client(reconnection=False)
    client.on("session_confirm", replies.put)
    client.connect(server.base_url, transports=["polling"], wait_timeout=10)
    try:
        client.emit("session_request", bad)  # None: the event without any payload
        confirmed = replies.get(timeout=10)
        assert isinstance(confirmed, str) and len(confirmed) == 32
        assert confirmed != json.dumps(bad)
    finally:
        _close(client)
