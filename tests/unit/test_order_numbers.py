import pytest

from bot.domain.order_numbers import normalise_order_number


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
        ("call me at 2pm", None),
        ("", None),
        (None, None),
        ("abc10023", None),  # part of another token
    ],
)
def test_normalise_order_number(text: str | None, expected: str | None) -> None:
    assert normalise_order_number(text) == expected
