"""Handoff rules over plain data: escalation, service hours, delivery states, masking, texts.

Imports nothing of SQL, HTTP, Slack or Rasa."""
