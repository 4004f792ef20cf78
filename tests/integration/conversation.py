"""Helpers for conversations through the running stack: reply texts and buttons, and what
the store recorded."""

from __future__ import annotations

from sqlalchemy import select

from bot.store.database import Database
from bot.store.repository import StoreRepository
from handoff.store.models import HandoffTicket
from tests.conftest import RunningStack


def texts(messages: list[dict]) -> str:
    return "\n".join(m.get("text", "") for m in messages)


def payloads(messages: list[dict]) -> list[str]:
    return [b["payload"] for m in messages for b in m.get("buttons", [])]


def count(stack: RunningStack, statement: object) -> int:
    database = Database(stack.settings.database_url)
    try:
        with database.session() as session:
            return int(session.execute(statement).scalar_one())
    finally:
        database.dispose()


def order_view(stack: RunningStack, number: str):  # type: ignore[no-untyped-def]
    database = Database(stack.settings.database_url)
    try:
        return StoreRepository(database).find_order(number)
    finally:
        database.dispose()


def ticket_reasons(stack: RunningStack, conversation_id: str) -> list[str]:
    """The escalation reasons of the conversation's handoff ticket, headline first."""
    database = Database(stack.settings.database_url)
    try:
        with database.session() as session:
            ticket = session.execute(
                select(HandoffTicket).where(HandoffTicket.conversation_id == conversation_id)
            ).scalar_one()
            return list(ticket.reasons)
    finally:
        database.dispose()
