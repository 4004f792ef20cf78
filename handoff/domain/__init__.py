"""Handoff rules over plain data: escalation, service hours, delivery states, masking, texts,
the ticket's value types.

Imports nothing of SQL, HTTP, Slack or Rasa."""
