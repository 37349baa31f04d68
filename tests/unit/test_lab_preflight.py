import pytest

from orchestrator.lab.errors import PreflightError
from orchestrator.lab.preflight import REQUIRED_TOOLS, MachineFacts, check_machine


def _all_tools(name: str) -> str | None:
    return f"/usr/bin/{name}"


def test_root_with_every_tool_passes() -> None:
    check_machine(MachineFacts(euid=0, which=_all_tools))


def test_not_root_says_so_and_how_to_fix() -> None:
    with pytest.raises(PreflightError) as caught:
        check_machine(MachineFacts(euid=1000, which=_all_tools))
    assert "needs root" in caught.value.message
    assert "sudo" in caught.value.hint


def test_missing_nspawn_names_the_debian_package() -> None:
    def which(name: str) -> str | None:
        return None if name == "systemd-nspawn" else _all_tools(name)

    with pytest.raises(PreflightError) as caught:
        check_machine(MachineFacts(euid=0, which=which))
    assert caught.value.message == "missing systemd-nspawn on this machine"
    assert caught.value.hint == "install with `apt-get install -y systemd-container`"


def test_every_missing_tool_is_listed_at_once() -> None:
    with pytest.raises(PreflightError) as caught:
        check_machine(MachineFacts(euid=0, which=lambda _name: None))
    for tool in REQUIRED_TOOLS:
        assert tool in caught.value.message
    assert str(caught.value).count("apt-get install") == 1
