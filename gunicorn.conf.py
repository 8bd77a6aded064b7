"""gunicorn settings, read by `gunicorn wsgi:app` from the project root.

Every value comes from the environment (or `.env`, which config.py reads), so
one file serves every host; the command line and GUNICORN_CMD_ARGS still
override any of them. See docs/deploy.md.
"""

import os
import sys
from pathlib import Path

# config.py, beside this file, reads .env and knows where instance/ is.
sys.path.insert(0, str(Path(__file__).resolve().parent))
from config import BASE_DIR, INSTANCE_DIR  # noqa: E402

OFF = ("", "off", "none", "0", "false", "no")


def _whole_number(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    if not value:
        return default
    if not value.isdigit() or int(value) < 1:
        # SystemExit passes through gunicorn's config loader: one line, exit 1.
        sys.exit(f"Error: {name} must be a whole number above 0, not {value!r}")
    return int(value)


def _cpu_count() -> int:
    # The CPUs this process may run on (a container's or taskset's share),
    # not the machine's.
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def _control_socket() -> str | None:
    """gunicorn >= 25 opens a control socket for `gunicornc`, by default at one
    path per user ($XDG_RUNTIME_DIR/gunicorn.ctl or ~/.gunicorn/gunicorn.ctl):
    a second instance on the host takes it over from the first, and under
    systemd or in a container the home may not be writable. Each instance
    keeps its own beside its instance folder instead."""
    value = os.environ.get("HEADWAY_CONTROL_SOCKET")
    if value is None:
        return str(INSTANCE_DIR / "gunicorn.ctl")
    if value.strip().lower() in OFF:
        return None
    return str(BASE_DIR / value)  # an absolute path stays as it is


bind = os.environ.get("HEADWAY_BIND", "127.0.0.1:8000")
workers = _whole_number("HEADWAY_WORKERS", _cpu_count())
# A request still running after `timeout` seconds is killed (the client gets a
# 500); migrations never run inside a request, so the default suits pages.
timeout = _whole_number("HEADWAY_TIMEOUT", 30)
# On SIGTERM or HUP, requests in flight get this long to finish.
graceful_timeout = _whole_number("HEADWAY_GRACEFUL_TIMEOUT", 30)
# Which front ends gunicorn believes about HTTPS (X-Forwarded-Proto); the app
# itself trusts X-Forwarded-* from HEADWAY_PROXY_FIX_* proxies (config.py).
forwarded_allow_ips = os.environ.get("HEADWAY_FORWARDED_ALLOW_IPS", "127.0.0.1,::1")

control_socket_path = _control_socket()
if control_socket_path is None:
    control_socket_disable = True
else:
    control_socket = control_socket_path

# Load the app once in the master: a bad configuration then stops gunicorn with
# its one-line message instead of workers failing and respawning forever. The
# factory opens no database connection, so nothing is shared across the fork.
preload_app = True
accesslog = os.environ.get("HEADWAY_ACCESS_LOG", "-")
# The common log format, plus the response time in milliseconds.
access_log_format = (
    '%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s" %(M)sms'
)


def when_ready(server):
    # The preloaded app's objects are shared by every worker and live as long:
    # keep them out of the garbage collector's full passes (which otherwise
    # show as 100 ms stalls on large pages).
    import gc

    gc.freeze()
