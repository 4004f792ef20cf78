"""Failed verification attempts across conversations: which limit holds, and until when
(bot/domain/verification.py `AttemptLimits`); keys and digests; the handoff reason."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.domain.contacts import Contact, ContactKind
from bot.domain.verification import (
    DEFAULT_LIMITS,
    AttemptKeys,
    AttemptLimit,
    AttemptLimits,
    Lock,
    Scope,
    attempt_keys,
    contact_digest,
)
from handoff.domain.escalation import (
    PRIORITY_OF,
    PROBLEM_REASONS,
    REASON_LABELS,
    REQUESTED_ONLY,
    EscalationDecision,
    Priority,
    Reason,
)

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
H = timedelta(hours=1)
ORDER, SOURCE, CONTACT = Scope.ORDER, Scope.SOURCE, Scope.CONTACT


def ago(*hours: float) -> list[datetime]:
    return [NOW - timedelta(hours=h) for h in hours]


# (case, failures recorded before this attempt, expected lock or None)
CASES: list[tuple[str, dict[Scope, list[datetime]], Lock | None]] = [
    ("nothing recorded", {ORDER: [], SOURCE: [], CONTACT: []}, None),
    ("4 failures at the order in a day: a 5th try", {ORDER: ago(1, 2, 3, 4)}, None),
    ("5 failures at the order: locked until the oldest is 24 h old",
     {ORDER: ago(1, 2, 3, 4, 5)}, Lock(ORDER, NOW + 19 * H)),
    ("6 failures: the lock lifts when only 4 are left",
     {ORDER: ago(1, 2, 3, 4, 5, 6)}, Lock(ORDER, NOW + 19 * H)),
    ("5 failures, the oldest older than a day", {ORDER: ago(1, 2, 3, 4, 25)}, None),
    ("exactly 24 h old has aged out", {ORDER: ago(1, 2, 3, 4, 24)}, None),
    ("from 10 conversations, one order: still one order", {ORDER: ago(*[0.1] * 10)},
     Lock(ORDER, NOW - 0.1 * H + 24 * H)),
    ("a clock a little ahead still counts", {ORDER: [NOW + timedelta(seconds=5)] * 5},
     Lock(ORDER, NOW + timedelta(seconds=5) + 24 * H)),
    ("source: 5 in an hour", {SOURCE: ago(0.1, 0.2, 0.3, 0.4, 0.5)},
     Lock(SOURCE, NOW + 0.5 * H)),
    ("source: 5 spread over 2 h is fine", {SOURCE: ago(0.1, 0.2, 0.3, 0.4, 1.5)}, None),
    ("source: 10 in a day", {SOURCE: ago(2, 3, 4, 5, 6, 7, 8, 9, 10, 11)},
     Lock(SOURCE, NOW + 13 * H)),
    ("contact: 5 orders tried with one e-mail", {CONTACT: ago(1, 2, 3, 4, 5)},
     Lock(CONTACT, NOW + 19 * H)),
    ("several limits hold: the longest is reported",
     {ORDER: ago(1, 2, 3, 4, 5), SOURCE: ago(0.1, 0.2, 0.3, 0.4, 0.5)},
     Lock(ORDER, NOW + 19 * H)),
    ("an unknown source is not counted", {ORDER: ago(1)}, None),
]  # fmt: skip


@pytest.mark.parametrize(
    ("failures", "expected"), [pytest.param(*case[1:], id=case[0]) for case in CASES]
)
def test_lock(failures: dict[Scope, list[datetime]], expected: Lock | None) -> None:
    assert AttemptLimits().lock(failures, NOW) == expected


def test_the_defaults_are_the_documented_ones() -> None:
    # docs/self-service.md, "What counts as proof", justifies exactly these.
    documented = (
        AttemptLimit(ORDER, 5, 24 * H),
        AttemptLimit(SOURCE, 5, H),
        AttemptLimit(SOURCE, 10, 24 * H),
        AttemptLimit(CONTACT, 5, 24 * H),
    )
    assert documented == DEFAULT_LIMITS
    assert AttemptLimits().longest_window == 24 * H


def test_limits_are_data() -> None:
    strict = AttemptLimits((AttemptLimit(ORDER, 1, timedelta(minutes=10)),))
    assert strict.lock({ORDER: ago(0.1)}, NOW) == Lock(ORDER, NOW + timedelta(minutes=4))
    assert strict.lock({ORDER: ago(0.5)}, NOW) is None
    assert strict.lock({SOURCE: ago(0.1, 0.1)}, NOW) is None  # no limit on sources here
    assert AttemptLimits(()).lock({ORDER: ago(*[0] * 99)}, NOW) is None


def test_a_success_erases_no_failure() -> None:
    # Only failures are recorded against a limit; a verified attempt in between (the attacker
    # proving their own order, or the owner proving this one) changes nothing.
    failures = {ORDER: ago(1, 2, 3, 4, 5), SOURCE: ago(1, 2, 3, 4, 5)}
    assert AttemptLimits().lock(failures, NOW) is not None


def test_keys() -> None:
    email = Contact(ContactKind.EMAIL, "ava.martin@example.com")
    keys = attempt_keys("10023", ("whatsapp", "+14155550123"), email)
    assert keys == AttemptKeys("10023", "whatsapp:+14155550123", contact_digest(email))
    assert keys.items() == {ORDER: "10023", SOURCE: "whatsapp:+14155550123",
                            CONTACT: contact_digest(email)}  # fmt: skip
    assert attempt_keys("10023").items() == {ORDER: "10023"}


def test_contact_digest_keeps_no_contact_and_treats_spellings_as_one_guess() -> None:
    def phone(value: str) -> str:
        return contact_digest(Contact(ContactKind.PHONE, value))

    def email(value: str) -> str:
        return contact_digest(Contact(ContactKind.EMAIL, value))

    assert phone("+14155550123") == phone("4155550123") != phone("4155550124")
    assert email("Ava.Martin@example.com") == email("ava.martin@example.com")
    assert email("ava.martin@example.com") != email("liam@example.com")
    assert "ava" not in email("ava.martin@example.com")
    assert len(email("a@example.com")) == 64


def test_verification_locked_is_a_listed_handoff_reason() -> None:
    reason = Reason("verification_locked")
    assert reason in REQUESTED_ONLY
    assert PRIORITY_OF[reason] is Priority.P2
    assert "locked" in REASON_LABELS[reason].lower()
    # Not a problem with an order (no high-value escalation), just a person needed.
    assert reason not in PROBLEM_REASONS
    requested = EscalationDecision.requested(reason)
    assert EscalationDecision.from_json(requested.to_json()) == requested
