"""The API runs no background work: each request is answered in full."""
