"""Accounts, login and the security baseline."""
