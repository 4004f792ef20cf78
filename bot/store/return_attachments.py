"""Photos and files a shopper sends with a return (damaged or wrong items)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped

from bot.store.column_types import UTCDateTime
from bot.store.models import Base


class ReturnAttachment(Base):
    __tablename__ = "return_attachments"
    __table_args__ = (UniqueConstraint("return_request_id", "url"),)

    id: Mapped[int] = Column(Integer, primary_key=True)
    return_request_id: Mapped[int] = Column(
        ForeignKey("return_requests.id", ondelete="CASCADE"), nullable=False, index=True
    )
    #: Where the channel delivered the file (e.g. Twilio media URL).
    url: Mapped[str] = Column(String(1000), nullable=False)
    content_type: Mapped[str | None] = Column(String(100), nullable=True)
    created_at: Mapped[datetime] = Column(UTCDateTime, nullable=False)
