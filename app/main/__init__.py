"""The root, the health probes and the error pages."""
