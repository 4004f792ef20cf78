"""The cancellation options of knowledge_base/policy.yml: refund and restock on a platform
cancel, true unless the shop says otherwise, and only ever a YAML boolean."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.domain.store_policy import PolicyFileError, StorePolicy
from bot.knowledge.policy_file import load_store_policy

POLICY_FILE = Path(__file__).resolve().parents[2] / "knowledge_base" / "policy.yml"


@pytest.fixture(scope="module")
def raw() -> dict[str, Any]:
    loaded = yaml.safe_load(POLICY_FILE.read_text(encoding="utf-8"))
    assert isinstance(loaded, dict)
    return loaded


def test_the_shop_refunds_and_restocks_on_cancel() -> None:
    policy = load_store_policy(POLICY_FILE)
    assert policy.refund_on_cancel is True and policy.restock_on_cancel is True


@pytest.mark.parametrize(
    ("given", "refund", "restock"),
    [
        ({}, True, True),  # a policy file written before the options: the defaults
        ({"refund_on_cancel": False}, False, True),
        ({"restock_on_cancel": False}, True, False),
        ({"refund_on_cancel": False, "restock_on_cancel": False}, False, False),
        ({"refund_on_cancel": True, "restock_on_cancel": True}, True, True),
    ],
)
def test_options(raw: dict[str, Any], given: dict[str, bool], refund: bool, restock: bool) -> None:
    changed = copy.deepcopy(raw)
    changed["cancellations"] = {"fee": changed["cancellations"]["fee"], **given}
    policy = StorePolicy.from_mapping(changed)
    assert (policy.refund_on_cancel, policy.restock_on_cancel) == (refund, restock)


@pytest.mark.parametrize("value", ["no", "false", 0, 1, None, "yes"])
def test_anything_but_a_boolean_is_refused(raw: dict[str, Any], value: object) -> None:
    changed = copy.deepcopy(raw)
    changed["cancellations"]["refund_on_cancel"] = value
    with pytest.raises(PolicyFileError, match="refund_on_cancel"):
        StorePolicy.from_mapping(changed)
