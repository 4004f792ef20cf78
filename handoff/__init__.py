"""The handoff bridge: the process between Rasa conversations and the human agent queue."""
