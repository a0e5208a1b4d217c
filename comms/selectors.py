"""Filled in by the comms issue; kept so every app has the same module set."""
