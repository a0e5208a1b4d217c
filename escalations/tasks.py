"""Empty: the escalations' due work runs in the sweep (portal.tasks).

Kept so every app has the same module set.
"""
