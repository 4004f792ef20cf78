"""Facebook Messenger: ``channels.messenger.MessengerInput`` in credentials.yml."""

from channels.messenger.channel import MessengerInput

__all__ = ["MessengerInput"]
