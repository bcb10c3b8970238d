"""Alembic's own command line, many commands in one Python process, for the differential tests.

Each line of standard input is a JSON object {"cwd": DIR, "argv": [ARG, ...]}: the arguments of
one `alembic ARG ...` run, in DIR (where alembic.ini is). It runs through alembic.config.main,
the function the `alembic` console script calls, so every command is the real CLI's; only the
Python start-up (about a second here) is paid once. Each answer is the command's output (stdout
and stderr, when the caller merges them) followed by a line `== exit N`, N being the exit code
the CLI would have had (Alembic's errors exit -1, which a shell sees as 255).
"""

import json
import os
import sys

sys.dont_write_bytecode = True  # revision files change between commands: never a stale .pyc

from alembic.config import main  # noqa: E402


def run(request):
    os.chdir(request["cwd"])
    try:
        main(argv=request["argv"], prog="alembic")
    except SystemExit as stop:
        code = stop.code
        if code is None:
            return 0
        return code % 256 if isinstance(code, int) else 1
    except Exception as error:  # an error the CLI would have printed as a traceback
        print(f"{type(error).__name__}: {error}")
        return 1
    return 0


for line in sys.stdin:
    if not line.strip():
        continue
    code = run(json.loads(line))
    sys.stdout.flush()
    sys.stderr.flush()
    print(f"== exit {code}", flush=True)
