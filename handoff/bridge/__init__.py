"""The handoff bridge process: Rasa event stream in, Slack (Bolt) and Rasa HTTP API out.

Never imports rasa or rasa_sdk (it talks to Rasa over HTTP and reads its event broker)."""
