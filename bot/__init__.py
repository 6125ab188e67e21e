"""Tandem: the core, the rules engine, the tools and the front ends (Telegram, terminal)."""
