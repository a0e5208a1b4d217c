"""Escalation and credit pages, split by subject (routing.py, credits.py)."""
