"""Renders the chat page from ``page.html``.

The page gets its configuration through HTML-escaped ``data-*`` attributes instead of an
inline script, so the Content-Security-Policy can forbid inline scripts entirely.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from pathlib import Path
from string import Template

from channels.webchat.assets import STATIC_DIR, find_asset

PAGE_TEMPLATE = Path(__file__).resolve().parent / "page.html"

# Assets the page links to, keyed by the template placeholder carrying their version.
_VERSIONED_ASSETS: dict[str, str] = {
    "css_version": "webchat.css",
    "js_version": "webchat.js",
    "socketio_version": "socket.io.min.js",
    "icon_version": "favicon.svg",
}


@dataclass(frozen=True)
class PageConfig:
    """What the browser needs to know to talk to this channel."""

    store_name: str
    socket_path: str
    namespace: str
    user_message_evt: str
    bot_message_evt: str
    transports: tuple[str, ...]


def render_page(config: PageConfig, static_dir: Path = STATIC_DIR) -> bytes:
    values = {
        "store_name": config.store_name,
        "socket_path": config.socket_path,
        "namespace": config.namespace,
        "user_event": config.user_message_evt,
        "bot_event": config.bot_message_evt,
        "transports": " ".join(config.transports),
    }
    escaped = {key: html.escape(value, quote=True) for key, value in values.items()}
    for placeholder, name in _VERSIONED_ASSETS.items():
        asset = find_asset(name, static_dir)
        # A missing asset is a packaging bug; render anyway so the page reports it in the
        # browser console instead of the whole page 500-ing.
        escaped[placeholder] = asset.version if asset else "missing"
    template = Template(PAGE_TEMPLATE.read_text(encoding="utf-8"))
    return template.substitute(escaped).encode("utf-8")
