"""Headway's own tables (headway_*) and their migration environment."""
