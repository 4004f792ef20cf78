"""The generated form rules are committed up to date, and agree with the slot mappings."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def generator():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location(
        "generate_form_rules", ROOT / "scripts" / "generate_form_rules.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_committed_rules_are_up_to_date() -> None:
    assert (ROOT / "data" / "forms" / "rules.yml").read_text() == generator().render(), (
        "run: .venv/bin/python scripts/generate_form_rules.py"
    )


def test_free_text_slots_ignore_exactly_the_intents_that_have_mid_form_rules() -> None:
    # An intent excluded from a free-text mapping but without a mid-form rule would leave the
    # form rejected with nothing to say; one with a rule but not excluded would never reach it.
    module = generator()
    handled = set(module.ANSWER_AND_CONTINUE) | set(module.STOP)
    for domain_file in (ROOT / "domain").glob("*.yml"):
        slots = (yaml.safe_load(domain_file.read_text()) or {}).get("slots", {})
        for name, slot in slots.items():
            for mapping in slot.get("mappings", []):
                if mapping.get("type") == "from_text" and "not_intent" in mapping:
                    assert set(mapping["not_intent"]) == handled, f"{domain_file.name}: {name}"


def test_every_form_has_a_start_and_a_submit_rule() -> None:
    module = generator()
    forms = {}
    for domain_file in (ROOT / "domain").glob("*.yml"):
        forms.update((yaml.safe_load(domain_file.read_text()) or {}).get("forms", {}))
    for form in set(module.FORMS):
        assert form in forms, f"{form} is generated but not in the domain"
