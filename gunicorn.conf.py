"""gunicorn settings, read by `gunicorn wsgi:app` from the project root.

Every value comes from the environment (or `.env`, which config.py reads), so
one file serves every host; the command line and GUNICORN_CMD_ARGS still
override any of them. See docs/deploy.md.
"""

import os
import sys
from pathlib import Path

# config.py, beside this file, reads .env, knows where instance/ is, and
# reads and checks every setting, these included.
sys.path.insert(0, str(Path(__file__).resolve().parent))
from config import (  # noqa: E402
    BASE_DIR,
    INSTANCE_DIR,
    ConfigError,
    config_from_env,
    load_config,
    read_settings,
)

try:
    SETTINGS = read_settings()
except ConfigError as exc:
    # SystemExit passes through gunicorn's config loader: one line, exit 1.
    sys.exit(f"Error: {exc}")


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
    keeps its own in its instance folder instead."""
    if "HEADWAY_CONTROL_SOCKET" not in os.environ:
        instance = SETTINGS.get("HEADWAY_INSTANCE_DIR", str(INSTANCE_DIR))
        return str(BASE_DIR / instance / "gunicorn.ctl")
    value = SETTINGS.get("HEADWAY_CONTROL_SOCKET")  # None: off
    return None if value is None else str(BASE_DIR / value)  # absolute stays


bind = SETTINGS.get("HEADWAY_BIND", "127.0.0.1:8000")
workers = SETTINGS.get("HEADWAY_WORKERS", _cpu_count())

# gevent: each connection is a greenlet, so a client that sends its request
# slowly (or reads the answer slowly) holds a greenlet, not the worker: a
# few slow clients cannot take the app down, and a long response (a CSV
# export) is not killed by `timeout`, which only watches the worker's
# heartbeat. PyMySQL is pure Python, so its sockets cooperate once gevent has
# patched the standard library. sync (one request per worker at a time) and
# gthread remain for comparison; see docs/deploy.md for their limits.
worker_class = SETTINGS.get("HEADWAY_WORKER_CLASS", "gevent")
# Connections each gevent worker serves at once (gunicorn's default); beyond
# them a connection waits in the listen queue. With more than one worker,
# each accepts one connection per turn of its loop, so the workers share a
# burst of new connections and the last accepted wait longest; accepting
# them all at once was tried and measured, and made the typical request
# slower (README, "The first requests of a burst").
worker_connections = SETTINGS.get("HEADWAY_WORKER_CONNECTIONS", 1000)
# gevent and gthread: a request's headers must arrive within this many
# seconds (then the connection is closed), and an idle keep-alive connection
# is closed after as long. It bounds how long a slow client holds a greenlet.
keepalive = SETTINGS.get("HEADWAY_KEEPALIVE", 5)
# A worker whose heartbeat stops for `timeout` seconds is killed. With sync
# workers that is any request running that long (the client gets a 500);
# with gevent only a worker stuck without yielding. Migrations never run
# inside a request.
timeout = SETTINGS.get("HEADWAY_TIMEOUT", 30)
# On SIGTERM or HUP, requests in flight get this long to finish.
graceful_timeout = SETTINGS.get("HEADWAY_GRACEFUL_TIMEOUT", 30)
# Which front ends gunicorn believes about HTTPS (X-Forwarded-Proto); the app
# itself trusts X-Forwarded-* from HEADWAY_PROXY_FIX_* proxies (config.py).
forwarded_allow_ips = SETTINGS.get("HEADWAY_FORWARDED_ALLOW_IPS", "127.0.0.1,::1")

control_socket_path = _control_socket()
if control_socket_path is None:
    control_socket_disable = True
else:
    control_socket = control_socket_path

# sync and gthread: load the app once in the master. gevent: load it in each
# worker, after gevent has patched the standard library there (a preloaded
# app would keep real thread locks, on which one greenlet waiting blocks all
# the others: gunicorn's documentation advises against preloading with
# gevent). The factory opens no database connection either way.
preload_app = worker_class != "gevent"


def _check_app_configuration() -> None:
    """What create_app() refuses (a production configuration without
    SECRET_KEY, a malformed DATABASE_URL), checked in the master: a worker
    failing to load the app would be restarted forever, while this stops
    gunicorn with one line."""
    try:
        load_config(config_from_env())
    except ConfigError as exc:
        sys.exit(f"Error: {exc}")


if not preload_app:
    _check_app_configuration()

accesslog = SETTINGS.get("HEADWAY_ACCESS_LOG", "-")
# The common log format, plus the response time in milliseconds.
access_log_format = (
    '%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s" %(M)sms'
)


def _freeze_long_lived_objects() -> None:
    # The app's objects live as long as the worker: keep them out of the
    # garbage collector's full passes (which otherwise show as 100 ms stalls
    # on large pages).
    import gc

    gc.freeze()


def when_ready(server):
    if server.cfg.preload_app:
        _freeze_long_lived_objects()  # the preloaded app, shared by the workers
    _say_where_the_first_password_is(server)


def _say_where_the_first_password_is(server) -> None:
    """On a first run (`make run`), the last thing printed: where to log in
    and where the generated admin password is (`flask headway ensure-admin`
    wrote it; it goes when the admin changes the password)."""
    kept = INSTANCE_DIR / "first-admin-password"
    if not kept.exists():
        return
    host, _, port = str(bind).rpartition(":")
    lines = [
        f"Headway is ready: http://{host or '127.0.0.1'}:{port}/",
        f"Log in as admin with the password in {kept}",
        "(change it on the Account page; the file then goes).",
    ]
    width = max(len(line) for line in lines)
    edge = "#" * (width + 4)
    box = [edge, *(f"# {line.ljust(width)} #" for line in lines), edge]
    print("\n" + "\n".join(box) + "\n", file=sys.stderr, flush=True)


def post_worker_init(worker):
    # Before the worker accepts a connection: its first console request
    # would otherwise build the revision catalog and compile the templates,
    # without yielding, while the connections it had accepted waited
    # (app/warmup.py).
    from app.warmup import warm_up

    warm_up(worker.wsgi)
    if not worker.cfg.preload_app:
        _freeze_long_lived_objects()  # the app this worker has just loaded
