import pytest

from bot.domain.contacts import Contact, ContactKind
from bot.domain.verification import OrderOwner, VerificationOutcome, VerificationPolicy

OWNER = OrderOwner(customer_id=7, email="Ava.Martin@example.com", phone="+14155550123")
EMAIL = Contact(ContactKind.EMAIL, "ava.martin@example.com")
PHONE = Contact(ContactKind.PHONE, "4155550123")
WRONG = Contact(ContactKind.EMAIL, "someone@example.com")

V, N, L = VerificationOutcome.VERIFIED, VerificationOutcome.NOT_MATCHED, VerificationOutcome.LOCKED


@pytest.mark.parametrize(
    ("owner", "contact", "failures", "expected"),
    [
        (OWNER, EMAIL, 0, V),
        (OWNER, PHONE, 0, V),
        (OWNER, WRONG, 0, N),
        (None, EMAIL, 0, N),  # unknown order looks exactly like a wrong contact
        (OWNER, WRONG, 1, N),
        (OWNER, WRONG, 2, L),  # the third failure locks
        (OWNER, EMAIL, 2, V),  # the third attempt may still succeed
        (OWNER, EMAIL, 3, L),  # after locking even the right answer is refused
        (OWNER, Contact(ContactKind.PHONE, "+14155550999"), 0, N),
    ],
)
def test_verify(
    owner: OrderOwner | None, contact: Contact, failures: int, expected: VerificationOutcome
) -> None:
    assert VerificationPolicy(max_attempts=3).verify(owner, contact, failures) is expected


def test_max_attempts_is_configurable() -> None:
    assert VerificationPolicy(max_attempts=1).verify(OWNER, WRONG, 0) is L
