"""The one verification step every flow uses: order number + proof (an e-mail on the order, or
a typed phone with the shipping postcode), or a channel identity that proves it by itself (the
order's phone on WhatsApp, an identity linked earlier). Verified state lives in slots and so
lasts for the conversation.

The rules are pure (bot/domain/verification.py); failed attempts are counted per conversation
in a slot and per order, source and contact in the store
(bot/store/verification_attempts.py), so the limits hold across conversations and channels.
docs/self-service.md, "What counts as proof".
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from rasa_sdk import Tracker
from sqlalchemy.exc import SQLAlchemyError

from actions.services import Services
from bot.domain.contacts import Contact, provider_id
from bot.domain.verification import (
    Lock,
    OrderOwner,
    Proof,
    VerificationOutcome,
    attempt_keys,
    proven_by_channel,
)
from bot.domain.views import OrderView
from bot.store.identifiers import normalise_phone
from bot.store.verification_attempts import Reservation

logger = logging.getLogger(__name__)

VERIFIED_CUSTOMER_SLOT = "verified_customer_id"
VERIFIED_ORDERS_SLOT = "verified_order_numbers"
FAILURES_SLOT = "verification_failures"
#: True once a store-wide limit refused this conversation: it stops asking, a person helps.
LOCKED_SLOT = "verification_locked"


@dataclass(frozen=True)
class VerificationResult:
    outcome: VerificationOutcome
    order: OrderView | None
    #: Slot values to set as a consequence (verified customer, failure count...).
    slots: dict[str, Any]
    #: The store-wide limit that holds, when one does (for logs; never shown to the shopper).
    lock: Lock | None = None


def failed_attempts(tracker: Tracker) -> int:
    return int(tracker.get_slot(FAILURES_SLOT) or 0)


def channel_identity(tracker: Tracker) -> tuple[str, str] | None:
    """(channel, the provider's id of the shopper) of the conversation, if it has a channel."""
    channel = tracker.get_latest_input_channel()
    if not channel:
        return None
    return channel, provider_id(channel, tracker.sender_id)


def whatsapp_number_is_order_phone(channel: str, external_id: str, phone: str | None) -> bool:
    """WhatsApp has proven the shopper holds this number (Twilio signs the webhook); if it is
    the phone on the order, that is proof on its own. Exact E.164 equality, unlike typed
    numbers (`bot.domain.verification.proven_by_channel`)."""
    return proven_by_channel(channel, normalise_phone(external_id), phone)


def owner_of(order: OrderView) -> OrderOwner:
    return OrderOwner(
        customer_id=order.customer.id,
        email=order.customer.email,
        phone=order.customer.phone,
        postcode=order.shipping_address.postal_code,
    )


class OrderVerifier:
    def __init__(self, services: Services) -> None:
        self._services = services

    def is_locked(self, tracker: Tracker) -> bool:
        """This conversation's self-service verification has stopped (a person helps)."""
        policy = self._services.verification
        return policy.conversation_locked(failed_attempts(tracker)) or bool(
            tracker.get_slot(LOCKED_SLOT)
        )

    def already_verified(self, tracker: Tracker, order: OrderView) -> bool:
        """True if this conversation has proven it owns `order`'s customer.

        These proofs are not guesses (the channel vouches for the sender), so they are neither
        counted nor refused by the attempt limits.
        """
        if str(order.customer.id) == str(tracker.get_slot(VERIFIED_CUSTOMER_SLOT) or ""):
            return True
        identity = channel_identity(tracker)
        if identity is None:
            return False
        channel, external_id = identity
        if whatsapp_number_is_order_phone(channel, external_id, order.customer.phone):
            self._link(channel, external_id, order.customer.id)
            return True
        linked = self._services.store.customer_for_identity(channel, external_id)
        return linked is not None and linked.id == order.customer.id

    def _link(self, channel: str, external_id: str, customer_id: int) -> None:
        try:
            self._services.store.link_identity(channel, external_id, customer_id)
        except SQLAlchemyError:  # the number still matches; only the shortcut is not stored
            logger.exception("could not link %s identity to customer %s", channel, customer_id)

    def store_lock(self, tracker: Tracker, order_number: str) -> Lock | None:
        """The store-wide limit that refuses attempts at `order_number` from this source now.

        Asked when the shopper names the order, so a locked order is not asked for a contact
        first. Keyed by the number typed, so it says nothing about whether the order exists.
        """
        attempts = self._services.attempts
        if attempts is None:
            return None
        keys = attempt_keys(order_number, channel_identity(tracker))
        return attempts.lock(keys, self._services.verification.limits)

    def verify(
        self,
        tracker: Tracker,
        order_number: str,
        contact: Contact,
        postcode: str | None = None,
    ) -> VerificationResult:
        """One counted attempt: may it proceed, and does the proof hold?

        Raises SQLAlchemyError when the store cannot count or look up: no check without a
        count (fail closed).
        """
        policy = self._services.verification
        attempts = self._services.attempts
        failures = failed_attempts(tracker)
        if policy.conversation_locked(failures):
            return VerificationResult(VerificationOutcome.LOCKED, None, {})
        keys = attempt_keys(order_number, channel_identity(tracker), contact)
        reservation = attempts.reserve(keys, policy.limits) if attempts else Reservation(None, None)
        if reservation.lock is not None:
            logger.info("verification refused: %s limit holds", reservation.lock.scope)
            return VerificationResult(
                VerificationOutcome.LOCKED, None, {LOCKED_SLOT: True}, reservation.lock
            )
        order = self._services.store.find_order(order_number)
        outcome = policy.verify(
            owner_of(order) if order else None, Proof(contact, postcode), failures
        )
        verified = outcome is VerificationOutcome.VERIFIED and order is not None
        if attempts is not None and reservation.attempt_id is not None:
            attempts.finish(reservation.attempt_id, verified=verified)
        if verified and order is not None:
            identity = channel_identity(tracker)
            if identity is not None:
                self._services.store.link_identity(*identity, order.customer.id)
            return VerificationResult(outcome, order, self.verified_slots(tracker, order))
        slots: dict[str, Any] = {FAILURES_SLOT: float(failures + 1)}
        # This failure may be the one that reaches a store-wide limit: say so now, rather than
        # inviting a guess that would be refused.
        lock = attempts.lock(keys, policy.limits) if attempts else None
        if lock is not None:
            slots[LOCKED_SLOT] = True
            outcome = VerificationOutcome.LOCKED
        return VerificationResult(outcome, None, slots, lock)

    @staticmethod
    def verified_slots(tracker: Tracker, order: OrderView) -> dict[str, Any]:
        numbers = list(tracker.get_slot(VERIFIED_ORDERS_SLOT) or [])
        if order.number not in numbers:
            numbers.append(order.number)
        return {
            VERIFIED_CUSTOMER_SLOT: str(order.customer.id),
            VERIFIED_ORDERS_SLOT: numbers,
            # A success does not erase earlier failures: whoever fails at other orders and
            # then proves their own would otherwise get fresh tries (who benefits: the guesser).
            FAILURES_SLOT: float(failed_attempts(tracker)),
        }
