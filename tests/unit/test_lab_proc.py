"""The lab's command runner: a command past its deadline is a ``LabError``, never a traceback."""

from __future__ import annotations

import pytest

from orchestrator.lab.errors import CommandFailed, CommandTimedOut, LabError
from orchestrator.lab.proc import run


def test_a_command_past_its_deadline_is_killed_and_named_with_a_hint() -> None:
    with pytest.raises(CommandTimedOut) as caught:
        run(["sleep", "5"], timeout=0.2)
    assert isinstance(caught.value, LabError)
    assert str(caught.value) == (
        "`sleep 5` did not finish within 0.2 s (the machine may be very busy; run "
        "`orchestrator lab up` again to repair)"
    )


def test_a_deadline_holds_even_when_the_exit_code_is_not_checked() -> None:
    with pytest.raises(CommandTimedOut):
        run(["sleep", "5"], check=False, timeout=0.2)


def test_its_output_s_last_line_says_why() -> None:
    with pytest.raises(CommandFailed, match=r"^`sh -c echo one >&2; echo two >&2; exit 3` failed "
                       r"with exit code 3: two$"):  # fmt: skip
        run(["sh", "-c", "echo one >&2; echo two >&2; exit 3"])
