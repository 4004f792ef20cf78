"""Web chat channel: ``channels.webchat.WebChatInput`` in credentials.yml (see docs/webchat.md)."""

from channels.webchat.channel import WebChatInput

__all__ = ["WebChatInput"]
