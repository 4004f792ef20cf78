"""WhatsApp via Twilio: ``channels.whatsapp.WhatsAppInput`` in credentials.yml."""

from channels.whatsapp.channel import WhatsAppInput

__all__ = ["WhatsAppInput"]
