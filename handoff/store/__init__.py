"""Handoff tables and the commands over them (tickets, transactional outbox, reply receipts).

Used by the action server (opening tickets), the bridge and the agent CLI."""
