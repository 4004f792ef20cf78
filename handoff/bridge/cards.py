"""The ticket card in Slack (Block Kit), drawn from the ticket alone, and the other interactive
pieces of a ticket's thread: the *Add note* form, the question about a held-back message, the
notice of a reply the shopper did not get. Pure.

The card is posted once and updated in place (chat.update) whenever the ticket changes, so it
always shows the current state: who has it, whether it is closed, the shopper's rating.
"""

from __future__ import annotations

from typing import Any

from handoff.domain.delivery import Presentation
from handoff.domain.ticket import TicketStatus
from handoff.domain.ticket_views import TicketView
from handoff.mrkdwn import slack_escape

CLAIM, RESOLVE, HAND_BACK = "handoff_claim", "handoff_resolve", "handoff_hand_back"
#: The card's *Add note* button, and the form (modal) it opens.
NOTE, NOTE_FORM, NOTE_INPUT = "handoff_note", "handoff_note_form", "note"
#: Answers to "this looked like a note, so it was not sent".
SEND_HELD, KEEP_HELD = "handoff_send_held", "handoff_keep_held"
#: Send a reply the shopper did not get again.
RETRY = "handoff_retry"
ACTION_IDS = (CLAIM, RESOLVE, HAND_BACK, NOTE)
_PRIORITY_ICONS = {"P1": ":red_circle:", "P2": ":large_orange_circle:", "P3": ":large_blue_circle:"}


def _money(amount: str | None) -> str:
    return f"${float(amount):,.2f}" if amount else "n/a"


def _customer_field(context: dict[str, Any]) -> str:
    customer = context.get("customer")
    if not customer:
        return "*Customer*\nNot verified"
    contact = " · ".join(part for part in (customer.get("email"), customer.get("phone")) if part)
    return f"*Customer*\n{slack_escape(customer['name'])} · {contact}"


def _vip_field(context: dict[str, Any]) -> str:
    customer = context.get("customer")
    if not customer:
        return "*VIP*\nunknown"
    flag = ":star: VIP" if customer.get("vip") else "No"
    return f"*VIP · lifetime value*\n{flag} · {_money(customer.get('lifetime_value'))}"


def _status_text(ticket: TicketView) -> str:
    if ticket.status is TicketStatus.OPEN:
        return ":hourglass_flowing_sand: Waiting for an agent"
    if ticket.status is TicketStatus.CLAIMED:
        return f":raising_hand: {ticket.agent_name}"
    verb = "Resolved" if ticket.status is TicketStatus.RESOLVED else "Handed back to the bot"
    rating = f" · rated {ticket.csat_score}/5" if ticket.csat_score else ""
    return f":white_check_mark: {verb} by {ticket.agent_name}{rating}"


def _orders_text(context: dict[str, Any]) -> str:
    orders = context.get("orders") or []
    if not orders:
        return "*Orders*\nNone verified in this conversation"
    lines = []
    for order in orders:
        parcels = [
            f"{s['carrier']} <{s['tracking_url']}|{s['tracking_number']}> ({s['status']})"
            for s in order.get("shipments") or []
        ]
        tracking = "; ".join(parcels) if parcels else "not shipped"
        lines.append(
            f"• #{order['number']} · {order['status']} · {_money(order.get('total'))} · {tracking}"
        )
    return "*Orders*\n" + "\n".join(lines)


def card_text(ticket: TicketView) -> str:
    """The notification / fallback text of the card."""
    reason = ticket.reason_labels[0] if ticket.reasons else "handoff"
    return f"{ticket.priority} ticket #{ticket.id} ({ticket.route}): {reason}"


def card_blocks(ticket: TicketView) -> list[dict[str, Any]]:
    context = ticket.context
    icon = _PRIORITY_ICONS.get(ticket.priority, "")
    confidence = context.get("confidence")
    sentiment = context.get("sentiment")
    fields = [
        _customer_field(context),
        _vip_field(context),
        f"*Channel*\n{context.get('channel') or ticket.channel}",
        f"*Status*\n{_status_text(ticket)}",
        f"*Intent*\n`{context.get('intent') or 'unknown'}`"
        + (f" ({confidence:.0%})" if isinstance(confidence, int | float) else ""),
        f"*Sentiment*\n{context.get('sentiment_label', 'n/a')}"
        + (f" ({sentiment:+.2f})" if isinstance(sentiment, int | float) else ""),
    ]
    blocks: list[dict[str, Any]] = [
        {
            "type": "header",
            "text": {
                "type": "plain_text",
                "text": f"{ticket.priority} · {ticket.route} · Ticket #{ticket.id}",
            },
        },
        {"type": "section", "fields": [{"type": "mrkdwn", "text": f} for f in fields]},
        _section(f"{icon} *Why*\n" + "\n".join(f"• {label}" for label in ticket.reason_labels)),
        _section(_orders_text(context)),
        _section(f"*Summary*\n{slack_escape(str(context.get('summary') or ''))}"),
    ]
    if ticket.status.is_active:
        actions = {"type": "actions", "block_id": "handoff_actions", "elements": _buttons(ticket)}
        blocks.append(actions)
    if ticket.reopen_count:
        blocks.append(_context(f"Reopened {ticket.reopen_count} time(s)"))
    return blocks


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text[:3000]}}


def _context(text: str) -> dict[str, Any]:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": text}]}


def _button(action_id: str, label: str, ticket: TicketView, **extra: Any) -> dict[str, Any]:
    return {
        "type": "button",
        "action_id": action_id,
        "text": {"type": "plain_text", "text": label},
        "value": str(ticket.id),
        **extra,
    }


def _buttons(ticket: TicketView) -> list[dict[str, Any]]:
    buttons = []
    if ticket.status is TicketStatus.OPEN:
        buttons.append(_button(CLAIM, "Claim", ticket, style="primary"))
    buttons.append(_button(NOTE, "Add note", ticket))
    buttons.append(_button(RESOLVE, "Resolve", ticket))
    buttons.append(
        _button(
            HAND_BACK,
            "Hand back to bot",
            ticket,
            confirm={
                "title": {"type": "plain_text", "text": "Hand back to the bot?"},
                "text": {"type": "plain_text", "text": "The assistant takes the chat over again."},
                "confirm": {"type": "plain_text", "text": "Hand back"},
                "deny": {"type": "plain_text", "text": "Cancel"},
            },
        )
    )
    return buttons


def note_form(ticket_id: int) -> dict[str, Any]:
    """The modal *Add note* opens: whatever is typed here is internal, whatever it starts with."""
    return {
        "type": "modal",
        "callback_id": NOTE_FORM,
        "private_metadata": str(ticket_id),
        # Slack allows 24 characters in a modal's title.
        "title": {"type": "plain_text", "text": "Internal note"},
        "submit": {"type": "plain_text", "text": "Save note"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "blocks": [
            {
                "type": "input",
                "block_id": NOTE_INPUT,
                "label": {
                    "type": "plain_text",
                    "text": f"Ticket #{ticket_id}: never sent to the shopper",
                },
                "element": {
                    "type": "plain_text_input",
                    "action_id": NOTE_INPUT,
                    "multiline": True,
                    "min_length": 1,
                    "max_length": 3000,
                },
            }
        ],
    }


def held_prompt(note_id: int, text: str, prefix: str) -> tuple[str, list[dict[str, Any]]]:
    """The ephemeral question after a thread message that looked like a mistyped note."""
    quoted = slack_escape(text if len(text) <= 200 else text[:199] + "…")
    how = f"Notes start with `{slack_escape(prefix)}`" if prefix else "Use *Add note* for notes"
    message = (
        ":lock: *Not sent to the shopper.* This looks like an internal note, so it is kept as "
        f"one. {how}, or use *Add note* on the card.\n>{quoted}"
    )
    value = str(note_id)
    blocks = [
        _section(message),
        {
            "type": "actions",
            "block_id": "handoff_held",
            "elements": [
                {"type": "button", "action_id": SEND_HELD, "value": value, "style": "danger",
                 "text": {"type": "plain_text", "text": "Send it to the shopper"}},
                {"type": "button", "action_id": KEEP_HELD, "value": value,
                 "text": {"type": "plain_text", "text": "Keep it internal"}},
            ],
        },
    ]  # fmt: skip
    return "Not sent to the shopper: this looks like an internal note.", blocks


def reply_notice(
    delivery_id: int, author: str, text: str, shown: Presentation
) -> tuple[str, list[dict[str, Any]]]:
    """A thread message about a reply the shopper did not get: what happened, what to do."""
    icon = f":{shown.reactions[0]}:" if shown.reactions else ""
    quoted = slack_escape(text if len(text) <= 150 else text[:149] + "…")
    body = f"{icon} *{slack_escape(shown.wording)}*\n>{quoted}"
    blocks: list[dict[str, Any]] = [_section(body)]
    if shown.way_forward:
        blocks.append(_context(f"{slack_escape(shown.way_forward)} (reply by {author})"))
    if shown.retry:
        blocks.append({
            "type": "actions",
            "block_id": "handoff_reply_retry",
            "elements": [{"type": "button", "action_id": RETRY, "value": str(delivery_id),
                          "text": {"type": "plain_text", "text": "Retry"}}],
        })  # fmt: skip
    return f"{shown.wording} {shown.way_forward or ''}".strip(), blocks
