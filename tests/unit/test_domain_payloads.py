"""Every response of the domain renders cleanly through Rasa's own interpolation.

Rasa fills `{name}` placeholders in texts and in button payloads alike, so a payload's JSON must
write its braces doubled (`/inform{{"return_reason": "too_small"}}`). Single braces still reach
the shopper unchanged, but only through Rasa's error path, which logs a KeyError traceback every
time the buttons are shown; this test fails on that and on any payload whose JSON does not
survive the rendering.
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import pytest
from rasa.core.nlg import interpolator
from rasa.shared.core.domain import Domain

ROOT = Path(__file__).resolve().parents[2]
PLACEHOLDER = re.compile(r"(?<!\{)\{(\w+)\}(?!\})")
INTENT_WITH_ENTITIES = re.compile(r"^/(\w+)(\{.*\})?$", re.DOTALL)


def _variations() -> list[tuple[str, dict[str, Any]]]:
    domain = Domain.load(str(ROOT / "domain"))
    return [
        (name, variation)
        for name, variations in sorted(domain.responses.items())
        for variation in variations
    ]


VARIATIONS = _variations()


def _placeholders(variation: dict[str, Any]) -> set[str]:
    texts = [variation.get("text") or ""]
    texts += [
        str(button.get(key, ""))
        for button in variation.get("buttons", [])
        for key in ("title", "payload")
    ]
    return {name for text in texts for name in PLACEHOLDER.findall(text)}


def test_the_domain_has_responses_with_buttons() -> None:
    assert sum(1 for _, v in VARIATIONS if v.get("buttons")) >= 5


@pytest.mark.parametrize(("name", "variation"), VARIATIONS, ids=[n for n, _ in VARIATIONS])
def test_response_renders_without_rasa_errors(
    name: str, variation: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Rasa reports a template it cannot fill through structlog, not the logging module.
    errors: list[Any] = []
    monkeypatch.setattr(
        interpolator.structlogger, "exception", lambda *a, **kw: errors.append((a, kw))
    )
    values = {placeholder: "x" for placeholder in _placeholders(variation)}
    # A deep copy, as Rasa's NLG takes one: YAML anchors share button lists between responses.
    rendered = interpolator.interpolate(copy.deepcopy(variation), values)
    assert not errors, f"{name}: Rasa could not fill it in: {errors}"
    for button in rendered.get("buttons", []):
        payload = str(button["payload"])
        if not payload.startswith("/"):
            continue
        match = INTENT_WITH_ENTITIES.match(payload)
        assert match, f"{name}: payload {payload!r} is not /intent or /intent{{json}}"
        if match.group(2):
            assert isinstance(json.loads(match.group(2)), dict), f"{name}: {payload!r}"
