"""The console on the web: pages, JSON API, and their input and output."""
