"""The unit tests that once depended on how pytest was started pass however it is started.

``nohup make test > log 2>&1 &`` starts pytest with SIGINT ignored and standard input from
/dev/null (or closed); a person's shell may hold ``ORCHESTRATOR_*`` settings, ``FORCE_COLOR`` or a
narrow ``COLUMNS``. Each of these once failed a test in the modules below; here they run in a
child process started that way, in a session of its own (no controlling terminal).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import orchestrator

HERE = Path(__file__).parent
SOURCE = Path(orchestrator.__file__).parents[1]
START_DEPENDENT = (
    "test_engine_resume.py",  # SIGINT ignored
    "test_cli_runs.py",  # ORCHESTRATOR_STORE_URL, FORCE_COLOR, COLUMNS
    "test_cli_netbox.py",  # FORCE_COLOR
    "test_cli_lab.py",  # FORCE_COLOR, COLUMNS
    "test_cli_release.py",  # ORCHESTRATOR_STORE_URL, standard input closed
    "test_cli_progress.py",  # no stdin, FORCE_COLOR, COLUMNS: the pty and the pipe children
)

#: Run by the child's interpreter: what a shell does for a background job, then pytest.
BACKGROUND_JOB = (
    "import os, signal, sys;"
    "signal.signal(signal.SIGINT, signal.SIG_IGN);"
    "signal.signal(signal.SIGQUIT, signal.SIG_IGN);"
    "os.close(0);"
    "os.execv(sys.executable, [sys.executable, *sys.argv[1:]])"
)


def test_the_start_dependent_modules_pass_in_a_background_job(tmp_path: Path) -> None:
    operator = tmp_path / "operator"
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(SOURCE), os.environ.get("PYTHONPATH")])),
        "ORCHESTRATOR_STATE": str(operator / "state"),
        "ORCHESTRATOR_STORE_URL": f"sqlite:///{operator / 'runs.db'}",
        "FORCE_COLOR": "1",
        "COLUMNS": "30",
    }
    modules = [str(HERE / name) for name in START_DEPENDENT]
    pytest_args = ["-q", "--color=no", "-p", "no:cacheprovider", f"--basetemp={tmp_path / 'child'}"]
    done = subprocess.run(
        [sys.executable, "-c", BACKGROUND_JOB, "-m", "pytest", *pytest_args, *modules],
        env=env,
        cwd=SOURCE,
        start_new_session=True,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert not operator.exists()
