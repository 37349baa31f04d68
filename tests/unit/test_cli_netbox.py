"""`orchestrator netbox bootstrap`: one line per field, the documented exit codes, no traceback."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from orchestrator.cli import app
from orchestrator.cli.netbox import NetBoxWiring, api_from_site
from tests.unit.fake_netbox import TOKEN, URL, FakeNetBox
from tests.unit.test_site import SITE, write


@pytest.fixture
def fake() -> FakeNetBox:
    return FakeNetBox()


def invoke(fake: FakeNetBox, *args: str) -> Result:
    wiring = NetBoxWiring(lambda _site: fake.api())
    return CliRunner().invoke(app, ["netbox", "bootstrap", *args], obj=wiring)


def test_plan_lists_what_it_would_create_and_writes_nothing(fake: FakeNetBox) -> None:
    result = invoke(fake, "--plan")

    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith("create  custom field orchestrator_key: text, unique, on dcim.")
    assert lines[1].startswith("create  custom field orchestrator_delivery: text, on dcim.")
    assert lines[2] == (
        "create  custom field ssh_host_key: longtext, on dcim.device, virtualization.virtualmachine"
    )
    assert lines[3] == "plan: would change 3 of 3 custom fields"
    assert fake.writes() == []


def test_bootstrap_creates_then_finds_everything(fake: FakeNetBox) -> None:
    first = invoke(fake)
    second = invoke(fake)

    assert (first.exit_code, second.exit_code) == (0, 0)
    assert first.output.splitlines()[-1] == "done: changed 3 of 3 custom fields"
    assert [line.split()[0] for line in second.output.splitlines()[:3]] == ["exists"] * 3
    assert second.output.splitlines()[-1] == "done: changed 0 of 3 custom fields"


def test_a_field_that_needs_a_person_fails(fake: FakeNetBox) -> None:
    fake.add_field(name="ssh_host_key", type="integer", object_types=["dcim.device"])

    result = invoke(fake)

    assert result.exit_code == 1
    assert "blocked custom field ssh_host_key: is of type integer" in result.output
    assert "failed: 1 field(s) need a person first" in result.output


def test_a_refusing_netbox_fails_with_one_line(fake: FakeNetBox) -> None:
    fake.write_enabled = False

    result = invoke(fake)

    assert result.exit_code == 1
    assert "failed: NetBox said 403" in result.output
    assert "Traceback" not in result.output


def test_an_unreachable_netbox_exits_5(fake: FakeNetBox) -> None:
    fake.down = True

    result = invoke(fake, "--plan")

    assert result.exit_code == 5
    assert "unreachable: NetBox connection failed" in result.output
    assert "Traceback" not in result.output


def test_the_token_is_never_printed(fake: FakeNetBox) -> None:
    fake.token = "nbt_" + "o" * 12 + "." + "p" * 40

    result = invoke(fake)

    assert result.exit_code == 1
    assert TOKEN not in result.output


def test_without_a_site_it_is_bad_input(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ORCHESTRATOR_SITE", raising=False)

    result = CliRunner().invoke(app, ["netbox", "bootstrap"])

    assert result.exit_code == 2
    assert "error: no site chosen" in result.output


def test_the_site_names_the_netbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    text = SITE.replace("https://netbox.example.net", URL)
    monkeypatch.setenv("TEST_SITE_NETBOX_TOKEN", TOKEN)

    api = api_from_site(str(write(tmp_path, text)))

    assert (api.url, api.token) == (URL, TOKEN)


def test_a_site_with_a_pasted_token_is_bad_input(tmp_path: Path) -> None:
    text = SITE.replace("env:TEST_SITE_NETBOX_TOKEN", TOKEN)

    result = CliRunner().invoke(app, ["netbox", "bootstrap", "--site", str(write(tmp_path, text))])

    assert result.exit_code == 2
    assert "netbox.token: must be a reference" in result.output
    assert TOKEN not in result.output


def test_help_names_the_command() -> None:
    result = CliRunner().invoke(app, ["netbox", "--help"])

    assert result.exit_code == 0
    assert "bootstrap" in result.output
