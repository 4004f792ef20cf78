"""Catalogue answers: no intent is a dead end, and the answers agree with the store policy."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]


def _load(path: Path) -> dict:
    return yaml.safe_load(path.read_text()) or {}


@pytest.fixture(scope="module")
def domain() -> dict:
    merged: dict = {"intents": [], "responses": {}, "actions": []}
    for path in sorted((REPO_ROOT / "domain").glob("*.yml")):
        data = _load(path)
        merged["intents"] += [
            i if isinstance(i, str) else next(iter(i)) for i in data.get("intents", [])
        ]
        merged["responses"].update(data.get("responses") or {})
        merged["actions"] += data.get("actions") or []
        merged["actions"] += list(data.get("forms") or {})
    return merged


def _text(domain: dict, response: str) -> str:
    return " ".join(variant["text"] for variant in domain["responses"][response])


def _first_intents_of_flows() -> set[str]:
    """Intents that open a rule or story anywhere in data/ (i.e. lead somewhere)."""
    intents: set[str] = set()
    for path in (REPO_ROOT / "data").rglob("*.yml"):
        data = _load(path)
        for flow in (data.get("rules") or []) + (data.get("stories") or []):
            steps = flow.get("steps") or []
            if steps and "intent" in steps[0] and not flow.get("condition"):
                intents.add(steps[0]["intent"])
    return intents


def test_every_intent_leads_somewhere(domain):
    dead_ends = sorted(set(domain["intents"]) - _first_intents_of_flows())
    assert dead_ends == [], f"intents no unconditional rule or story starts with: {dead_ends}"


def test_catalogue_rules_use_defined_responses_and_actions(domain):
    rules = _load(REPO_ROOT / "data" / "catalogue" / "rules.yml")["rules"]
    for rule in rules:
        for step in rule["steps"]:
            action = step.get("action")
            if action is None:
                continue
            known = action in domain["responses"] or action in domain["actions"]
            assert known, f"{rule['rule']}: {action} is not defined in domain/"


def test_catalogue_answers_have_no_unfilled_placeholders():
    for name, variants in _load(REPO_ROOT / "domain" / "catalogue.yml")["responses"].items():
        for variant in variants:
            assert "{" not in variant["text"], name


def test_payment_issue_only_suggests_accepted_methods(domain):
    policy = _load(REPO_ROOT / "knowledge_base" / "policy.yml")
    accepted = " ".join(policy["payments"]["methods"])
    text = _text(domain, "utter_payment_issue")
    for method in ("PayPal", "Apple Pay", "Google Pay"):
        if method in text:
            assert method in accepted, method


def test_complaint_answer_quotes_the_support_email(domain):
    policy = _load(REPO_ROOT / "knowledge_base" / "policy.yml")
    assert policy["store"]["support_email"] in _text(domain, "utter_complaint")
