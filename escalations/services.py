"""Filled in by the escalations issue; kept so every app has the same module set."""
