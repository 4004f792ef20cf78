"""Custom actions run by the rasa-sdk action server (`rasa run actions --actions actions`).

Actions are split by domain (orders, fallback, ...). They translate between Rasa's tracker and
the pure rules in `bot.domain`, and reach the store only through `actions.services`.
"""
