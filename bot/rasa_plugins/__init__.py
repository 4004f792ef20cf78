"""What runs inside the Rasa server from our code: the NLU component and the handoff gate policy.

`config.yml` names them; Rasa imports them when it trains or loads the model. The channel
connectors (channels/, named in credentials.yml) run in the same process.
"""
