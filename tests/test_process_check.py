"""A job's process is alive while it runs; once it exited (reaped or still a
zombie) it is not (psutil reads it, app/dbadmin/jobs/service.py)."""

import subprocess
import sys
import time

import pytest

from app.dbadmin.jobs.service import _pid_alive


@pytest.mark.live
@pytest.mark.live
def test_a_running_process_is_alive_and_an_exited_one_is_not():
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        assert _pid_alive(process.pid)
    finally:
        process.kill()
    # Killed but not reaped: a zombie, dead all the same.
    deadline = time.monotonic() + 10
    while _pid_alive(process.pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _pid_alive(process.pid)
    process.wait()
    assert not _pid_alive(process.pid)
    assert not _pid_alive(None) and not _pid_alive(0)
