import pytest

from bot.domain.order_numbers import normalise_order_number, order_number_from_entity


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("10023", "10023"),
        ("#10023", "10023"),
        ("# 10023", "10023"),
        ("ORD-10023", "10023"),
        ("ord10023", "10023"),
        ("order no. 10023 please", "10023"),
        ("Order number: 10023", "10023"),
        ("where is my order 10023?", "10023"),
        ("it's 00004587345", "00004587345"),
        ("113542617735902", "113542617735902"),
        ("my order #10023 hasn't arrived", "10023"),
        ("1234", None),  # too short: a quantity or a PIN, not an order number
        ("#1001", "1001"),  # Shopify's first order number, with its cue
        ("order 1001", "1001"),
        ("ORD-1001", "1001"),
        ("I bought 1001 things", None),
        ("#123", None),
        ("call me at 2pm", None),
        ("", None),
        (None, None),
        ("abc10023", None),  # part of another token
    ],
)
def test_normalise_order_number(text: str | None, expected: str | None) -> None:
    assert normalise_order_number(text) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("1001", "1001"),  # the regex extractor took it after "#"
        ("10023", "10023"),
        ("#10023", "10023"),
        ("order 1001", "1001"),
        ("12", None),
        ("", None),
        (None, None),
        (10023, "10023"),
    ],
)
def test_order_number_from_entity(value: object, expected: str | None) -> None:
    assert order_number_from_entity(value) == expected
