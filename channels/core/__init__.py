"""What every provider connector shares: the internal message shapes (`messages`), text
helpers (`text`), the store service (`store`), retrying sends (`sending`) and the base Rasa
input/output channels (`channel`). See docs/channels.md."""
