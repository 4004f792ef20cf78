"""The entity regexes and product lookup of data/nlu/regex.yml, exactly as Rasa compiles them.

No model needed: the patterns come from Rasa's own `extract_patterns` (what the
RegexEntityExtractor uses) and are applied the way the extractor applies them.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def extract():
    from rasa.nlu.utils.pattern_utils import extract_patterns
    from rasa.shared.nlu.training_data.loading import load_data

    patterns = extract_patterns(
        load_data(str(REPO_ROOT / "data" / "nlu")),
        use_lookup_tables=True,
        use_regexes=True,
        use_only_entities=True,
        use_word_boundaries=True,
    )
    assert {p["name"] for p in patterns} == {"order_id", "email", "phone", "product"}

    def run(text: str) -> list[tuple[str, str]]:
        found = []
        for pattern in patterns:
            for match in re.finditer(pattern["pattern"], text, flags=re.IGNORECASE):
                found.append((pattern["name"], match.group()))
        return sorted(found)

    return run


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # order numbers: the value is always the bare digits, leading zeros kept
        ("cancel order 10023", [("order_id", "10023")]),
        ("where is #10023?", [("order_id", "10023")]),
        ("status of ORD-10023 please", [("order_id", "10023")]),
        ("ord 10023", [("order_id", "10023")]),
        ("ORD10023", [("order_id", "10023")]),
        ("order#10023", [("order_id", "10023")]),
        ("order no. 10023", [("order_id", "10023")]),
        ("order number: 10023.", [("order_id", "10023")]),
        ("my order (10023)", [("order_id", "10023")]),
        ("10023", [("order_id", "10023")]),
        ("help with purchase 00004587345", [("order_id", "00004587345")]),
        ("cancel 113542617735902 now", [("order_id", "113542617735902")]),
        ("ORDER 370795561790", [("order_id", "370795561790")]),
        ("cancel order 10023 2 days ago", [("order_id", "10023")]),
        (
            "orders 10023, 10024 and 10025",
            [("order_id", "10023"), ("order_id", "10024"), ("order_id", "10025")],
        ),
        # numbers that are not order numbers
        ("check invoice #12588", []),
        ("I need invoice 85632", []),
        ("bill #37777 please", []),
        ("I expect a refund of $1200", []),
        ("refund 15000 usd", []),
        ("it costs 12000 dollars", []),
        ("price 10023.50", []),
        ("ship to zip 90210", []),
        ("size 42 43 44", []),
        ("in 2024", []),
        ("order 1234", []),
        # phones
        ("my phone is +1 415 555 0132", [("phone", "+1 415 555 0132")]),
        ("call me on (415) 555-0199", [("phone", "(415) 555-0199")]),
        ("555-123-4567", [("phone", "555-123-4567")]),
        ("555.987.6543", [("phone", "555.987.6543")]),
        ("020 7946 0123", [("phone", "020 7946 0123")]),
        ("07700 900123 is my mobile", [("phone", "07700 900123")]),
        ("+4915112345678", [("phone", "+4915112345678")]),
        ("+33 6 12 34 56 78", [("phone", "+33 6 12 34 56 78")]),
        ("phone number is 4155550132", [("phone", "4155550132")]),
        ("date 2024-05-12", []),
        # emails
        ("jane.doe@example.com", [("email", "jane.doe@example.com")]),
        (
            "mail me: lucia.fernandez+shop@example.co.uk!",
            [("email", "lucia.fernandez+shop@example.co.uk")],
        ),
        (
            "order 10023, email pat_o'brien@example.ie",
            [("email", "pat_o'brien@example.ie"), ("order_id", "10023")],
        ),
        ("12345@example.com", [("email", "12345@example.com")]),
        ("at example dot com", []),
        # products (lookup table, longest name first, whole words)
        ("is the Summit Down Parka in stock", [("product", "Summit Down Parka")]),
        ("do you have rain jackets", [("product", "rain jackets")]),
        ("is the fleece warm", [("product", "fleece")]),
        ("tents", [("product", "tents")]),
        ("contents of my order", []),
    ],
)
def test_entity_patterns(extract, text, expected):
    assert extract(text) == sorted(expected)
