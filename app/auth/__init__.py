"""Accounts: password hashing and account creation."""
