"""The migration engine: no request, no JSON, no Flask-Admin, no Flask-Login.
Used by migrations/env.py, the CLI, the job runner, the probes and the demo."""
