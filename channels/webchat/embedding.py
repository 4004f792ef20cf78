"""Who may show the chat page in a frame: `embed_origins` (WEBCHAT_EMBED_ORIGINS). Pure.

The page answers with

    Content-Security-Policy: ...; frame-ancestors 'self' https://shop.example.com ...
    X-Frame-Options: SAMEORIGIN

so only the page's own origin and the listed shop sites can frame it: another site cannot
overlay the chat to trick shoppers into typing or clicking there (clickjacking).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

#: A host name (optionally with a leading "*." wildcard label, as CSP allows), an IPv4
#: address or a bracketed IPv6 address, and an optional port.
_ORIGIN_RE = re.compile(
    r"^https://"
    r"(?P<host>(?:\*\.)?(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
    r"|\[[0-9a-f:.]+\])"
    r"(?::(?P<port>\d{1,5}))?/?$"
)

#: Sent with every page. X-Frame-Options cannot list origins (its ALLOW-FROM took one and is
#: gone from every current browser), so it stays SAMEORIGIN even when embedding sites are
#: configured: browsers that know CSP's frame-ancestors (all current ones) then ignore it and
#: follow the list, and the few that do not fall back to same-origin only. The chat still
#: works there when opened directly; it is only not shown inside the shop's pages. Sending
#: no X-Frame-Options instead would let those browsers frame it anywhere.
X_FRAME_OPTIONS = "SAMEORIGIN"


class EmbedOriginsError(ValueError):
    """A bad WEBCHAT_EMBED_ORIGINS value; raised when the channel starts."""


def parse_embed_origins(value: str | Iterable[str] | None) -> tuple[str, ...]:
    """The https origins, normalised ("https://Shop.example.com/" → "https://shop.example.com").

    Accepts a comma- or space-separated string (the environment variable) or a list (YAML).
    Only https origins: scheme, host, optional port, nothing after them. A plain-http or
    pathful entry, a bare host, "*" or a quoted CSP keyword is an error, not a silent
    widening of who may frame the page.
    """
    if value is None:
        return ()
    items = re.split(r"[,\s]+", value) if isinstance(value, str) else [str(v) for v in value]
    origins: list[str] = []
    for raw in items:
        item = raw.strip()
        if not item:
            continue
        origin = item.lower().rstrip("/")
        match = _ORIGIN_RE.match(origin)
        port = match.group("port") if match else None
        host = match.group("host") if match else ""
        too_wide = host.startswith("*.") and "." not in host[2:]  # *.com: every .com site
        if match is None or too_wide or (port is not None and not 0 < int(port) < 65536):
            raise EmbedOriginsError(
                f"WEBCHAT_EMBED_ORIGINS: {item!r} is not an https origin. List the shop's "
                "sites as https://shop.example.com or https://shop.example.com:8443 "
                "(comma-separated, no paths; *.example.com for every subdomain)."
            )
        if origin.endswith(":443"):
            origin = origin[: -len(":443")]
        if origin not in origins:
            origins.append(origin)
    return tuple(origins)


def frame_ancestors(origins: Iterable[str]) -> str:
    """The CSP directive: the page's own origin and the listed sites."""
    return " ".join(["frame-ancestors", "'self'", *origins])
