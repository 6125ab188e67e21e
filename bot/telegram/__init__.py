"""Tandem in Telegram: the handlers, the outbox every message goes through, the server."""
