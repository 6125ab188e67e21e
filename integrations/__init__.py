"""Leaves that talk to outside services. Each knows its API and nothing about Telegram or modes."""
