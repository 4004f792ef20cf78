"""Static assets of the web chat: safe lookup, content types and cache validators.

Files are read on every request rather than cached in memory: they are a few KB, and it means
editing the page's JS/CSS needs no server restart. The content hash doubles as ETag and as the
``?v=`` cache-busting token the page puts on its asset URLs.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

STATIC_DIR = Path(__file__).resolve().parent / "static"

# Only these suffixes are ever served: an allowlist keeps stray files (editor backups, READMEs,
# source maps we do not ship) from leaking out of the static directory.
CONTENT_TYPES: dict[str, str] = {
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
    ".webp": "image/webp",
}

_MAX_NAME_LENGTH = 200


@dataclass(frozen=True)
class Asset:
    """One static file, loaded."""

    name: str
    body: bytes
    content_type: str
    version: str

    @property
    def etag(self) -> str:
        return f'"{self.version}"'


def content_version(body: bytes) -> str:
    """Short content hash: stable across restarts and machines, changes with every edit."""
    return hashlib.sha256(body).hexdigest()[:16]


def _is_safe_name(name: str) -> bool:
    if not name or len(name) > _MAX_NAME_LENGTH:
        return False
    # Backslashes and NULs have no business in an asset name; rejecting them up front avoids
    # reasoning about how each OS would interpret them.
    if "\\" in name or "\x00" in name:
        return False
    pure = PurePosixPath(name)
    if pure.is_absolute():
        return False
    # No "..", no "." and no dotfiles anywhere in the path.
    return all(part not in ("", ".", "..") and not part.startswith(".") for part in pure.parts)


def find_asset(name: str, root: Path = STATIC_DIR) -> Asset | None:
    """The asset called ``name`` under ``root``, or None when it must not be served.

    Defence in depth: the name is checked syntactically *and* the resolved path must still lie
    inside ``root`` (which also stops symlinks pointing elsewhere).
    """
    if not _is_safe_name(name):
        return None
    content_type = CONTENT_TYPES.get(PurePosixPath(name).suffix.lower())
    if content_type is None:
        return None
    base = root.resolve()
    try:
        candidate = (base / name).resolve()
    except (OSError, RuntimeError):  # e.g. symlink loops
        return None
    if not candidate.is_relative_to(base) or not candidate.is_file():
        return None
    body = candidate.read_bytes()
    return Asset(name=name, body=body, content_type=content_type, version=content_version(body))
