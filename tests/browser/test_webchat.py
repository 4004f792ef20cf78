"""The web chat in a real browser: headless Debian Chromium driven by Playwright.

Two groups of tests:
* against the full stack (``rasa_stack`` fixture from tests/conftest.py): the order-tracking
  conversation on a phone-sized screen, surviving a page reload, and a quick-reply round trip;
* against :class:`channels.webchat.devserver.WebChatServer` with a scripted responder: how the
  page renders hostile or unusual bot output, the typing indicator and connection status.
  These need no model, so rendering regressions show up without training anything.
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import ssl
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, Route, expect, sync_playwright
from rasa.core.channels.channel import UserMessage

from channels.webchat import WebChatInput
from channels.webchat.devserver import WebChatServer

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"  # Debian's package; Playwright must never download a browser
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PHONE = {"width": 390, "height": 844}
SCREENSHOT = Path(__file__).resolve().parents[2] / "results" / "webchat.png"
# Replies that call the action server and the store can take a few seconds on a busy CI box.
REPLY_TIMEOUT_MS = 30_000
SETTLE_MS = 800  # Rasa emits a turn's messages back to back; this long without one ends a turn

BOT = '[data-testid="webchat-message"][data-from="bot"]'
USER = '[data-testid="webchat-message"][data-from="user"]'
TEXT = '[data-testid="webchat-message-text"]'
QUICK_REPLIES = '[data-testid="webchat-quick-replies"]'
SESSION_KEY = "relaydesk.webchat.session"


expect.set_options(timeout=REPLY_TIMEOUT_MS)


# ---------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()


def _new_page(browser: Browser, viewport: dict[str, int]) -> Iterator[Page]:
    # A fresh context per test means fresh localStorage, i.e. a new chat session.
    context = browser.new_context(
        viewport=viewport, device_scale_factor=2, is_mobile=True, has_touch=True, locale="en-US"
    )
    context.set_default_timeout(REPLY_TIMEOUT_MS)
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture
def phone(browser: Browser) -> Iterator[Page]:
    yield from _new_page(browser, PHONE)


@pytest.fixture
def small_phone(browser: Browser) -> Iterator[Page]:
    yield from _new_page(browser, {"width": 360, "height": 640})


# ---------------------------------------------------------------------------- helpers


class Turn:
    """The bot messages that answered one user message."""

    def __init__(self, page: Page, first: int, last: int) -> None:
        bubbles = [page.locator(BOT).nth(i) for i in range(first, last)]
        self.texts = [
            bubble.locator(TEXT).inner_text() if bubble.locator(TEXT).count() else ""
            for bubble in bubbles
        ]
        self.links = [  # links inside message text, not the ones wrapping images
            href
            for bubble in bubbles
            for href in bubble.locator(f"{TEXT} a[href]").evaluate_all(
                "links => links.map(a => a.href)"
            )
        ]

    @property
    def text(self) -> str:
        return "\n".join(self.texts)


def open_chat(page: Page, url: str) -> None:
    page.goto(url)
    expect(page.get_by_test_id("webchat-status")).to_have_attribute("data-state", "online")


def wait_for_turn(page: Page, before: int) -> Turn:
    """Waits for bot messages beyond the first ``before`` and until they stop coming."""
    page.wait_for_function(
        "([sel, n]) => document.querySelectorAll(sel).length > n",
        arg=[BOT, before],
        timeout=REPLY_TIMEOUT_MS,
    )
    count = -1
    while (current := page.locator(BOT).count()) != count:
        count = current
        page.wait_for_timeout(SETTLE_MS)
    expect(page.get_by_test_id("webchat-typing")).to_be_hidden()
    return Turn(page, before, count)


def say(page: Page, text: str) -> Turn:
    before = page.locator(BOT).count()
    box = page.get_by_test_id("webchat-input")
    box.fill(text)
    box.press("Enter")
    expect(page.locator(USER).last.locator(TEXT)).to_have_text(text)
    expect(box).to_have_value("")
    return wait_for_turn(page, before)


def transcript(page: Page) -> list[tuple[str, str]]:
    bubbles = page.locator('[data-testid="webchat-message"]')
    return [
        (bubble.get_attribute("data-from") or "", bubble.inner_text()) for bubble in bubbles.all()
    ]


# ------------------------------------------------------------- against the full stack


@pytest.mark.integration
def test_quick_reply_round_trip(rasa_stack, phone: Page) -> None:
    open_chat(phone, rasa_stack.webchat_url)
    say(phone, "hi")

    group = phone.locator(QUICK_REPLIES).last
    buttons = group.get_by_test_id("webchat-quick-reply")
    expect(buttons.first).to_be_enabled()
    title = buttons.first.inner_text()
    before = phone.locator(BOT).count()
    buttons.first.click()

    # The title (not the payload) shows up as the shopper's message...
    expect(phone.locator(USER).last.locator(TEXT)).to_have_text(title)
    # ...the row can't be used twice, and focus goes back to the message box.
    for button in buttons.all():
        expect(button).to_be_disabled()
    expect(buttons.first).to_have_attribute("data-chosen", "true")
    expect(phone.get_by_test_id("webchat-input")).to_be_focused()
    # The payload reached Rasa and it answered.
    turn = wait_for_turn(phone, before)
    assert turn.texts, "no reply to the quick reply"


@pytest.mark.integration
def test_order_tracking_on_a_phone_survives_reload(rasa_stack, phone: Page) -> None:
    open_chat(phone, rasa_stack.webchat_url)
    expect(phone.get_by_test_id("webchat-store-name")).to_have_text("Northwind Outfitters")
    expect(phone.get_by_test_id("webchat-subtitle")).to_have_text("Support assistant")

    greeting = say(phone, "hi")
    assert greeting.text.strip(), "empty greeting"
    greeting_buttons = phone.locator(QUICK_REPLIES).last.get_by_test_id("webchat-quick-reply")
    expect(greeting_buttons.first).to_be_visible()
    expect(greeting_buttons.first).to_be_enabled()

    turn = say(phone, "where is my order")
    assert re.search(r"order\s*(number|no\.?|#|id)", turn.text, re.I), turn.text
    # Typing instead of tapping retires the greeting's buttons: their payloads are stale now.
    expect(greeting_buttons.first).to_be_disabled()

    turn = say(phone, "#10023")
    assert re.search(r"e-?mail|phone", turn.text, re.I), turn.text

    turn = say(phone, "ava.martin@example.com")
    assert "UPS" in turn.text, turn.text
    assert "1Z999AA10123456784" in turn.text, turn.text
    assert any(href.startswith(("https://", "http://")) for href in turn.links), turn.links

    before_reload = transcript(phone)
    session_id = phone.evaluate("key => localStorage.getItem(key)", SESSION_KEY)
    assert session_id

    phone.reload()
    open_chat(phone, rasa_stack.webchat_url)
    # Rasa does not replay history over socket.io: the page restores it from localStorage.
    assert transcript(phone) == before_reload
    assert phone.evaluate("key => localStorage.getItem(key)", SESSION_KEY) == session_id

    # Same session id after the reload, so the reply comes back into the same conversation.
    turn = say(phone, "thanks")
    assert turn.texts, "no reply after reloading the page"

    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    phone.screenshot(path=str(SCREENSHOT))


# -------------------------------------------------- against the scripted dev server

HOSTILE_TEXT = (
    'Line one\nLine two <img src=x onerror="window.__pwned = 1"> '
    "[our docs](https://example.com/docs) javascript:alert(1) "
    "and https://example.com/a_(b)."
)


async def scripted_responder(message: UserMessage) -> None:
    output, to = message.output_channel, message.sender_id
    text = message.text or ""
    if text == "slow":
        await asyncio.sleep(1.5)  # long enough to see the typing indicator
        await output.send_text_message(to, "Sorry for the wait.")
    elif text == "/affirm":
        await output.send_text_message(to, "Affirmed.")
    else:
        await output.send_text_message(to, HOSTILE_TEXT)
        await output.send_image_url(to, "javascript:alert(1)")
        await output.send_image_url(to, "static/favicon.svg")
        await output.send_text_with_buttons(
            to, "Pick one", [{"title": "<b>Yes</b>", "payload": "/affirm"}]
        )


@pytest.fixture(scope="module")
def scripted_server() -> Iterator[WebChatServer]:
    with WebChatServer(scripted_responder) as server:
        yield server


def test_bot_output_is_rendered_safely(scripted_server: WebChatServer, phone: Page) -> None:
    open_chat(phone, scripted_server.webchat_url)
    turn = say(phone, "show me everything")

    first = phone.locator(BOT).nth(0)
    # Markup arrives as text, never as elements.
    assert first.locator("img").count() == 0
    assert phone.evaluate("() => window.__pwned") is None
    expect(first.locator(TEXT)).to_contain_text('<img src=x onerror="window.__pwned = 1">')
    # Line breaks are kept (innerText reflects white-space: pre-wrap rendering).
    assert first.locator(TEXT).inner_text().startswith("Line one\nLine two")
    # Only http(s) URLs become links; trailing punctuation stays outside them.
    assert turn.links == ["https://example.com/docs", "https://example.com/a_(b)"]
    expect(first.get_by_role("link", name="our docs")).to_have_attribute(
        "rel", "noopener noreferrer nofollow"
    )
    expect(first.get_by_role("link", name="our docs")).to_have_attribute("target", "_blank")
    # The javascript: image is dropped, the real one is shown.
    images = phone.get_by_test_id("webchat-image")
    expect(images).to_have_count(1)
    assert images.first.evaluate("img => img.src").endswith("/webhooks/webchat/static/favicon.svg")
    expect(phone.get_by_test_id("webchat-quick-reply")).to_have_text("<b>Yes</b>")


def test_quick_reply_sends_payload_and_shows_title(
    scripted_server: WebChatServer, phone: Page
) -> None:
    open_chat(phone, scripted_server.webchat_url)
    say(phone, "buttons please")
    before = phone.locator(BOT).count()
    phone.get_by_test_id("webchat-quick-reply").click()
    expect(phone.locator(USER).last.locator(TEXT)).to_have_text("<b>Yes</b>")
    assert wait_for_turn(phone, before).texts == ["Affirmed."]  # the payload reached the bot
    expect(phone.get_by_test_id("webchat-quick-reply")).to_be_disabled()


def test_typing_indicator_and_connection_status(
    scripted_server: WebChatServer, phone: Page
) -> None:
    open_chat(phone, scripted_server.webchat_url)
    typing = phone.get_by_test_id("webchat-typing")
    status = phone.get_by_test_id("webchat-status")
    expect(typing).to_be_hidden()
    expect(status).to_be_hidden()  # nothing to say while online

    box = phone.get_by_test_id("webchat-input")
    box.fill("slow")
    box.press("Enter")
    expect(typing).to_be_visible()
    expect(phone.locator(BOT).last.locator(TEXT)).to_have_text("Sorry for the wait.")
    expect(typing).to_be_hidden()

    phone.context.set_offline(True)
    expect(status).to_have_attribute("data-state", "offline")
    expect(status).to_be_visible()
    expect(status).to_contain_text("offline")
    phone.context.set_offline(False)
    expect(status).to_have_attribute("data-state", "online")
    expect(status).to_be_hidden()


def test_fits_a_360px_screen(scripted_server: WebChatServer, small_phone: Page) -> None:
    open_chat(small_phone, scripted_server.webchat_url)
    say(small_phone, "a long message to fill the screen " * 4)
    overflow = small_phone.evaluate(
        "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 0, f"page scrolls sideways by {overflow}px at 360px"
    for test_id in ("webchat-input", "webchat-send", "webchat-reset"):
        expect(small_phone.get_by_test_id(test_id)).to_be_in_viewport()
    expect(small_phone.get_by_label("Message to the support assistant")).to_be_visible()


def test_reload_restores_transcript_and_new_chat_clears_it(
    scripted_server: WebChatServer, phone: Page
) -> None:
    open_chat(phone, scripted_server.webchat_url)
    say(phone, "buttons please")
    before = transcript(phone)
    phone.reload()
    open_chat(phone, scripted_server.webchat_url)
    assert transcript(phone) == before
    # An unanswered quick-reply row is still usable after the reload.
    expect(phone.get_by_test_id("webchat-quick-reply")).to_be_enabled()

    old_session = phone.evaluate("key => localStorage.getItem(key)", SESSION_KEY)
    phone.get_by_test_id("webchat-reset").click()
    expect(phone.locator('[data-testid="webchat-message"]')).to_have_count(0)
    expect(phone.get_by_test_id("webchat-status")).to_have_attribute("data-state", "online")
    new_session = phone.evaluate("key => localStorage.getItem(key)", SESSION_KEY)
    assert new_session and new_session != old_session
    assert say(phone, "slow").texts == ["Sorry for the wait."]


def test_a_missing_socketio_client_is_reported(scripted_server: WebChatServer, phone: Page) -> None:
    phone.route("**/static/socket.io.min.js*", lambda route: route.abort())
    phone.goto(scripted_server.webchat_url)
    status = phone.get_by_test_id("webchat-status")
    expect(status).to_contain_text("could not load")
    expect(status).to_be_visible()


# ------------------------------------------- framing (WEBCHAT_EMBED_ORIGINS) and paths


def _self_signed(directory: Path) -> ssl.SSLContext:
    """A server context with a fresh self-signed certificate for 127.0.0.1."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = directory / "cert.pem", directory / "key.pem"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    return context


class ShopSite:
    """Another origin, https://127.0.0.1:<port>, whose page shows `chat_url` in an iframe."""

    def __init__(self, context: ssl.SSLContext) -> None:
        self.chat_url = "about:blank"
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                page = (
                    "<!doctype html><title>Shop</title><h1>Shop</h1>"
                    f'<iframe id="chat" src="{site.chat_url}" width="400" height="600"></iframe>'
                ).encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(page)))
                self.end_headers()
                self.wfile.write(page)

            def log_message(self, *_: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
        self.origin = f"https://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> ssl.SSLContext:
    return _self_signed(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def shop_sites(tls: ssl.SSLContext) -> Iterator[tuple[ShopSite, ShopSite]]:
    sites = ShopSite(tls), ShopSite(tls)
    yield sites
    for site in sites:
        site.close()


@pytest.fixture
def desktop(browser: Browser) -> Iterator[Page]:
    # The test servers' certificate is self-signed.
    context = browser.new_context(ignore_https_errors=True, viewport={"width": 1000, "height": 800})
    context.set_default_timeout(REPLY_TIMEOUT_MS)
    page = context.new_page()
    yield page
    context.close()


async def echo_responder(message: UserMessage) -> None:
    await message.output_channel.send_text_message(message.sender_id, f"echo: {message.text}")


def shows_the_chat(page: Page, site: ShopSite, chat_url: str) -> bool:
    """Opens the shop's page; whether the chat shows and works inside its frame. A refusal
    must be the browser's, for frame-ancestors (not a chat that merely failed to load)."""
    refusals: list[str] = []
    page.on("console", lambda message: refusals.append(message.text))
    site.chat_url = chat_url
    page.goto(site.origin + "/")
    chat = page.frame_locator("#chat")
    try:
        expect(chat.get_by_test_id("webchat-status")).to_have_attribute(
            "data-state", "online", timeout=5_000
        )
    except AssertionError:
        assert any("frame-ancestors" in text for text in refusals), refusals
        return False
    chat.get_by_test_id("webchat-input").fill("hello from the shop")
    chat.get_by_test_id("webchat-send").click()
    expect(chat.locator(BOT).last).to_contain_text("echo: hello from the shop")
    return True


def test_only_listed_shop_sites_can_frame_the_chat(
    tls: ssl.SSLContext, shop_sites: tuple[ShopSite, ShopSite], desktop: Page
) -> None:
    listed, unlisted = shop_sites
    channel = WebChatInput(session_persistence=True, embed_origins=[listed.origin])
    with WebChatServer(echo_responder, channel, ssl=tls) as server:
        assert shows_the_chat(desktop, listed, server.webchat_url)
        assert not shows_the_chat(desktop, unlisted, server.webchat_url)
        # Opened directly, the chat works as ever.
        open_chat(desktop, server.webchat_url)


def test_no_site_can_frame_the_chat_by_default(
    tls: ssl.SSLContext, shop_sites: tuple[ShopSite, ShopSite], desktop: Page
) -> None:
    site, _ = shop_sites
    with WebChatServer(echo_responder, ssl=tls) as server:
        assert not shows_the_chat(desktop, site, server.webchat_url)


def test_the_socket_follows_a_proxy_path_prefix(
    scripted_server: WebChatServer, phone: Page
) -> None:
    # A proxy serving the chat at /support/webhooks/webchat/ (PUBLIC_URL with a path prefix):
    # the page must reach its socket under the same prefix, relative to itself.
    prefix = "/support"
    socket_paths: list[str] = []

    def strip_prefix(route: Route) -> None:
        url = route.request.url.replace(f"{scripted_server.base_url}{prefix}", "", 1)
        if "/socket.io/" in url:
            socket_paths.append(route.request.url)
        response = route.fetch(url=scripted_server.base_url + url)
        route.fulfill(response=response)

    phone.route(f"{scripted_server.base_url}{prefix}/**", strip_prefix)
    open_chat(phone, f"{scripted_server.base_url}{prefix}/webhooks/webchat/")
    assert socket_paths
    assert all(
        path.startswith(f"{scripted_server.base_url}{prefix}/webhooks/webchat/socket.io/")
        for path in socket_paths
    )
