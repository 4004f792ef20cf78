"""Custom Rasa NLU components of relaydesk (registered when `config.yml` names them)."""
