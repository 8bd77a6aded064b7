"""gunicorn settings, read by `gunicorn wsgi:app` from the project root.

Each can be overridden on the command line or with GUNICORN_CMD_ARGS.
"""

import os

bind = os.environ.get("HEADWAY_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("HEADWAY_WORKERS", "2"))
timeout = int(os.environ.get("HEADWAY_TIMEOUT", "30"))
# Load the app once in the master: a bad configuration then stops gunicorn with
# its one-line message instead of workers failing and respawning forever. The
# factory opens no database connection, so nothing is shared across the fork.
preload_app = True
accesslog = "-"


def when_ready(server):
    # The preloaded app's objects are shared by every worker and live as long:
    # keep them out of the garbage collector's full passes (which otherwise
    # show as 100 ms stalls on large pages).
    import gc

    gc.freeze()
