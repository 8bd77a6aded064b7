"""Run several `flask` commands one after another in one Python process, as
`python -m flask` would run each from the project root.

    python -m tests.flask_batch < commands.json

commands.json: a list of [arguments, stdin text or null]. Each command gets a
new app from the same discovery as `flask` (wsgi.py); what they share is only
the imports, a second and a half a process that the live servers' setup (half
a dozen commands each) no longer pays. Each command's output ends with
OUTPUT_END on a line of its own; the first failure stops the batch with the
command's exit status.
"""

import io
import json
import sys
import traceback

import click
from flask.cli import cli

OUTPUT_END = "\x1e end of flask command \x1e"


def run(args: list[str], stdin: str | None) -> int:
    sys.stdin = io.StringIO(stdin or "")
    # wsgi.py builds the app for the command in sys.argv (a `flask db` one
    # without the web admin and the ORM): imported again for each command.
    sys.argv = ["flask", *args]
    sys.modules.pop("wsgi", None)
    try:
        cli.main(args=args, prog_name="flask", standalone_mode=False)
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (1 if exc.code else 0)
        if exc.code and not isinstance(exc.code, int):
            print(exc.code, file=sys.stderr)
        return code
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except click.Abort:
        print("Aborted!", file=sys.stderr)
        return 1
    except Exception:
        traceback.print_exc()
        return 1
    return 0


def main() -> None:
    for args, stdin in json.load(sys.stdin):
        code = run(args, stdin)
        print(OUTPUT_END, flush=True)
        if code:
            print(f"flask {' '.join(args)} exited {code}", file=sys.stderr)
            sys.exit(code)


if __name__ == "__main__":
    main()
