"""Errors Headway reports to the user as one clear line."""


class HeadwayError(Exception):
    """An expected failure with a message meant for the user."""
