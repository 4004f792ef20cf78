"""Telegram: ``channels.telegram.TelegramInput`` in credentials.yml."""

from channels.telegram.channel import TelegramInput

__all__ = ["TelegramInput"]
