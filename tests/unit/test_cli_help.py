"""`--help` reads as prose at any width: a docstring's line breaks are not kept in the help."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from orchestrator.cli import app, paragraphs


def test_paragraphs_keep_their_breaks_and_lose_the_source_line_breaks() -> None:
    doc = """First line
    goes on.

    Second paragraph,
        indented or not.
    """
    assert paragraphs(doc) == "First line goes on.\n\nSecond paragraph, indented or not."


@pytest.mark.parametrize(
    ("command", "phrase"),
    [
        (["approve"], "(--sign-with), among the people the site file lists"),
        (["actions", "close"], "gate. If its check still fails and finds the same"),
    ],
)
def test_help_is_wrapped_to_the_terminal_not_to_the_source(command: list[str], phrase: str) -> None:
    shown = CliRunner().invoke(app, [*command, "--help"], env={"COLUMNS": "200"})
    assert shown.exit_code == 0, shown.output
    assert phrase in " ".join(shown.output.split())
    assert phrase in shown.output  # on one line: no break where the docstring had one
