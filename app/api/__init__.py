"""JSON API under /api/: a bearer token or a session, never a redirect."""
