"""Escalation and credit forms, split by subject (routing.py, credits.py)."""
