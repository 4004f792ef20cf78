"""Retrying a turn without answering the shopper twice: what an undone or interrupted attempt
already sent is recognised in the retry's responses and not sent again.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from channels.core.messages import Rendered


class Replay:
    """On a retry: the responses the shopper already has from an undone attempt are not sent
    again, as long as the retry produces them in the same order (compared as the provider
    requests recorded in `channel_outbound`); from the first difference on, all are sent."""

    def __init__(self, delivered: Sequence[tuple[str, Any]]) -> None:
        self._delivered = [request_key(kind, params) for kind, params in delivered]
        self._next = 0
        self._matching = bool(self._delivered)
        self.skipped = 0

    def already_delivered(self, rendered: Rendered) -> bool:
        if not self._matching:
            return False
        wanted = [request_key(r.kind, r.params) for r in rendered.requests]
        if wanted and self._delivered[self._next : self._next + len(wanted)] == wanted:
            self._next += len(wanted)
            self.skipped += 1
            return True
        self._matching = False
        return False


def request_key(kind: str, params: Any) -> str:
    return json.dumps([kind, params], sort_keys=True, default=str)
