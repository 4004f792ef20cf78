"""What runs inside the Rasa server from our code, besides the channel connectors (channels/).

`config.yml` names the NLU component (`sentence_encoder.py`, with `minilm.py`) and the handoff
gate policy (`handoff_gate.py`); Rasa imports them when it trains or loads the model.
`tracker_undo.py` rewrites a conversation's dialogue state through Rasa's tracker and lock
stores when a channel takes back a failed or corrected turn (channels/core/recovery.py).
"""
