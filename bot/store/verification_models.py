"""ORM model of order verification attempts: every checked (or refused) contact, so failed
attempts are limited per order, source and contact across conversations, channels, processes
and restarts (docs/self-service.md, "What counts as proof").

Written and read only by `bot.store.verification_attempts.VerificationAttemptStore`. Shares
`Base` (naming convention, Alembic history) with the shop models; migration
0004_verification_attempts.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Column, Index, Integer, String
from sqlalchemy.orm import Mapped

from bot.store.column_types import UTCDateTime, vocabulary
from bot.store.models import Base


class AttemptOutcome(StrEnum):
    #: Reserved before the contact is checked; counts as a failure until finished, so
    #: concurrent attempts cannot all slip under a limit (and a crash mid-check costs a try).
    PENDING = "pending"
    FAILED = "failed"
    VERIFIED = "verified"
    #: Not checked at all: a limit held. Does not count as a failure (it tested nothing).
    REFUSED = "refused"


class VerificationAttempt(Base):
    __tablename__ = "verification_attempts"
    __table_args__ = (
        # Each limit counts one key's recent failures.
        Index("ix_verification_attempts_order_number_created_at", "order_number", "created_at"),
        Index("ix_verification_attempts_source_created_at", "source", "created_at"),
        Index("ix_verification_attempts_contact_digest_created_at", "contact_digest", "created_at"),
    )

    id: Mapped[int] = Column(Integer, primary_key=True)
    #: The order number as typed and normalised (digits); no foreign key on purpose: unknown
    #: numbers are counted and locked exactly like real ones.
    order_number: Mapped[str] = Column(String(32), nullable=False)
    #: "<channel>:<provider's id of the shopper>" (WhatsApp number, PSID, chat, session id).
    source: Mapped[str | None] = Column(String(300), nullable=True)
    #: SHA-256 of the typed e-mail or phone (bot.domain.verification.contact_digest).
    contact_digest: Mapped[str | None] = Column(String(64), nullable=True)
    outcome: Mapped[AttemptOutcome] = Column(vocabulary(AttemptOutcome, "outcome"), nullable=False)
    #: The limit that refused the attempt (bot.domain.verification.Scope), if one did.
    locked_by: Mapped[str | None] = Column(String(16), nullable=True)
    created_at: Mapped[datetime] = Column(UTCDateTime, nullable=False, index=True)
    finished_at: Mapped[datetime | None] = Column(UTCDateTime, nullable=True)
