"""Escalation, credit and metrics pages, split by subject."""
