"""What the bot has decided to send: the outbox and broadcasts."""
