"""HTTP routes of the web chat blueprint: the page, its assets and a health check."""

from __future__ import annotations

import re

from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from channels.webchat.assets import Asset, content_version, find_asset
from channels.webchat.embedding import X_FRAME_OPTIONS, frame_ancestors
from channels.webchat.page import PageConfig, render_page

# Asset URLs carry ?v=<content hash>, so a matching request can be cached "forever": a new
# release changes the hash and therefore the URL. Anything else must revalidate.
IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"

_HOST_RE = re.compile(r"^[A-Za-z0-9.\-]+(:\d{1,5})?$|^\[[0-9A-Fa-f:.]+\](:\d{1,5})?$")
_COMMON_HEADERS = {"X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer"}


def _content_security_policy(host: str, embed_origins: tuple[str, ...] = ()) -> str:
    # Older Safari does not count ws(s):// as 'self', so the page's own host is named
    # explicitly; a Host header that is not a plain host[:port] is simply left out.
    sockets = f" ws://{host} wss://{host}" if _HOST_RE.match(host) else ""
    return "; ".join(
        [
            "default-src 'none'",
            "script-src 'self'",
            "style-src 'self'",
            # Bot responses may show product images hosted anywhere.
            "img-src 'self' https: http: data:",
            f"connect-src 'self'{sockets}",
            "base-uri 'none'",
            "form-action 'none'",
            # Who may show the page in a frame: itself and the shop's sites (embedding.py).
            frame_ancestors(embed_origins),
        ]
    )


def _not_modified(request: Request, etag: str) -> bool:
    candidates = request.headers.get("if-none-match", "")
    return any(tag.strip() in (etag, f"W/{etag}", "*") for tag in candidates.split(","))


def _cached(
    request: Request,
    body: bytes,
    content_type: str,
    etag: str,
    cache_control: str,
    extra: dict[str, str] | None = None,
) -> HTTPResponse:
    headers = {**_COMMON_HEADERS, "ETag": etag, "Cache-Control": cache_control, **(extra or {})}
    if _not_modified(request, etag):
        return response.empty(status=304, headers=headers)
    if request.method == "HEAD":
        headers["Content-Length"] = str(len(body))
        return response.empty(status=200, headers={**headers, "Content-Type": content_type})
    return response.raw(body, headers=headers, content_type=content_type)


def add_routes(
    blueprint: Blueprint, page_config: PageConfig, embed_origins: tuple[str, ...] = ()
) -> None:
    """Adds ``/``, ``/static/<name>`` and ``/health`` to the channel's blueprint.

    `embed_origins`: the https origins besides the page's own that may frame the page.
    """

    @blueprint.route("/", methods=["GET", "HEAD"])
    async def chat_page(request: Request) -> HTTPResponse:
        # The page links its assets relatively ("static/..."), which only resolves correctly
        # from a URL ending in "/".
        if not request.path.endswith("/"):
            query = f"?{request.query_string}" if request.query_string else ""
            return response.redirect(f"{request.path}/{query}", status=301)
        body = render_page(page_config)
        csp = _content_security_policy(request.host, embed_origins)
        return _cached(
            request,
            body,
            "text/html; charset=utf-8",
            f'"{content_version(body)}"',
            REVALIDATE,
            # X-Frame-Options for browsers without frame-ancestors; why it is SAMEORIGIN
            # even with embedding sites configured: channels/webchat/embedding.py.
            {"Content-Security-Policy": csp, "X-Frame-Options": X_FRAME_OPTIONS},
        )

    @blueprint.route("/static/<name:path>", methods=["GET", "HEAD"])
    async def static_asset(request: Request, name: str) -> HTTPResponse:
        asset: Asset | None = find_asset(name)
        if asset is None:
            return response.text("Not found", status=404, headers=_COMMON_HEADERS)
        versioned = request.args.get("v") == asset.version
        cache_control = IMMUTABLE if versioned else REVALIDATE
        return _cached(request, asset.body, asset.content_type, asset.etag, cache_control)

    @blueprint.route("/health", methods=["GET"])
    async def health(_: Request) -> HTTPResponse:
        return response.json({"status": "ok"})
