"""A lab host's deploy user: the script that makes it, checked before it runs anywhere."""

from __future__ import annotations

import pytest

from orchestrator.lab.errors import UnsafeTarget
from orchestrator.lab.users import deploy_user_script

KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIK1oJn4DcauB6XcvLIOWCzztyBoWdHXStUkcAKDEM04T deploy@ci"


def test_the_sudoers_drop_in_is_checked_before_it_is_put_in_place() -> None:
    script = deploy_user_script("deploy", KEY + "\n")
    lines = script.splitlines()
    assert lines[0] == "set -eu"
    check = lines.index("visudo -cf /etc/sudoers.d/.deploy.new >/dev/null")
    assert lines.index("chmod 0440 /etc/sudoers.d/.deploy.new") < check
    assert lines.index("mv -f /etc/sudoers.d/.deploy.new /etc/sudoers.d/deploy") > check
    assert "'deploy ALL=(ALL:ALL) NOPASSWD: ALL'" in script


def test_the_key_is_the_users_only_authorized_key_and_quoted() -> None:
    script = deploy_user_script("deploy", KEY)
    assert f"printf '%s\\n' '{KEY}' > \"$home/.ssh/.authorized_keys.new\"" in script
    assert "chmod 600" in script
    hostile = deploy_user_script("deploy", "ssh-ed25519 AAAA x'; rm -rf / #")
    assert "'ssh-ed25519 AAAA x'\"'\"'; rm -rf / #'" in hostile


@pytest.mark.parametrize("user", ["root", "de.ploy", "Deploy", "", "a b"])
def test_a_name_that_is_no_deploy_users_is_refused(user: str) -> None:
    with pytest.raises(UnsafeTarget):
        deploy_user_script(user, KEY)
