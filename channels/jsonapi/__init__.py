"""Plain JSON turns for trusted callers: ``channels.jsonapi.JsonApiInput`` in credentials.yml
(replaces Rasa's ``rest:``; see channels/jsonapi/channel.py and docs/webchat.md)."""

from channels.jsonapi.channel import JsonApiInput

__all__ = ["JsonApiInput"]
