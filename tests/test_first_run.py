"""`make run`'s first run: gunicorn's last words say where to log in and
where the generated admin password is kept (gunicorn.conf.py's when_ready)."""

import importlib.util

from tests.helpers import ROOT


def gunicorn_conf():
    spec = importlib.util.spec_from_file_location(
        "headway_gunicorn_conf", ROOT / "gunicorn.conf.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_gunicorn_says_where_the_first_password_is(tmp_path, capsys, monkeypatch):
    conf = gunicorn_conf()
    monkeypatch.setattr(conf, "INSTANCE_DIR", tmp_path)
    conf._say_where_the_first_password_is(None)
    assert capsys.readouterr().err == ""  # no file: nothing to say

    (tmp_path / "first-admin-password").write_text("secret-password-1\n")
    conf._say_where_the_first_password_is(None)
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert lines[0] == lines[-1] == "#" * len(lines[0])  # a framed block
    assert f"http://{conf.bind}/" in err
    assert str(tmp_path / "first-admin-password") in err
    assert "secret-password-1" not in err  # where it is, not what it is
