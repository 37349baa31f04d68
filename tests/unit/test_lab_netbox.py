"""The lab NetBox's pure parts: its settings, its env file, its tokens, its cache names, and its
seeding (against a NetBox faked behind a ``requests`` transport)."""

from __future__ import annotations

import re
import stat
from pathlib import Path
from typing import Any

import pynetbox
import pytest

from orchestrator.adapters.netbox_bootstrap import CUSTOM_FIELDS, Outcome, plan_field
from orchestrator.lab.errors import LabError
from orchestrator.lab.netbox import (
    MANAGED_BEGIN,
    MANAGED_END,
    ApiToken,
    LabSecrets,
    NetBoxInfo,
    dump_path,
    format_secrets,
    merge_settings,
    parse_env,
    parse_secrets,
    read_netbox_env,
    render_settings,
    seed,
    token_note,
    venv_dir,
    write_netbox_env,
    write_private,
)
from orchestrator.lab.paths import LabPaths
from tests.unit.fake_netbox import FIELDS_PATH, URL, FakeNetBox

SECRETS = LabSecrets(secret_key="k" * 50, pepper="p" * 64)
TEMPLATE = "ALLOWED_HOSTS = []\nSECRET_KEY = ''\nAPI_TOKEN_PEPPERS = {}\nTIME_ZONE = 'UTC'\n"
TOKEN = "nbt_" + "a" * 12 + "." + "b" * 40


def settings_of(source: str) -> dict[str, object]:
    namespace: dict[str, object] = {}
    exec(source, namespace)  # noqa: S102 - the source is the configuration we render, as NetBox runs it
    return namespace


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def paths(tmp_path: Path) -> LabPaths:
    return LabPaths(state=tmp_path / "state", cache=tmp_path / "cache")


def test_settings_point_netbox_at_the_local_services() -> None:
    settings = settings_of(render_settings(SECRETS))

    assert settings["ALLOWED_HOSTS"] == ["127.0.0.1", "localhost"]
    assert settings["DATABASES"] == {
        "default": {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": "orchestrator_lab",
            "USER": "postgres",
            "PASSWORD": "",
            "HOST": "/var/run/postgresql",
            "PORT": "",
            "CONN_MAX_AGE": 300,
        },
    }
    redis = settings["REDIS"]
    assert isinstance(redis, dict)
    assert (redis["tasks"]["DATABASE"], redis["caching"]["DATABASE"]) == (6, 7)
    assert redis["tasks"]["HOST"] == "127.0.0.1"


def test_settings_carry_the_secrets_and_keep_netbox_offline() -> None:
    settings = settings_of(render_settings(SECRETS))

    assert settings["SECRET_KEY"] == SECRETS.secret_key
    assert settings["API_TOKEN_PEPPERS"] == {1: SECRETS.pepper}
    assert settings["CENSUS_REPORTING_ENABLED"] is False
    assert settings["RELEASE_CHECK_URL"] is None


def test_settings_quote_awkward_secret_keys() -> None:
    awkward = LabSecrets(secret_key="a'b\"c\\d" + "x" * 50, pepper="p" * 50)

    assert settings_of(render_settings(awkward))["SECRET_KEY"] == awkward.secret_key


def test_merge_appends_the_block_so_it_wins_over_the_template() -> None:
    merged = merge_settings(TEMPLATE, render_settings(SECRETS))

    assert merged.startswith(TEMPLATE)
    assert settings_of(merged)["SECRET_KEY"] == SECRETS.secret_key
    assert settings_of(merged)["TIME_ZONE"] == "UTC"


def test_merge_again_changes_nothing() -> None:
    once = merge_settings(TEMPLATE, render_settings(SECRETS))

    assert merge_settings(once, render_settings(SECRETS)) == once


def test_merge_replaces_an_older_block_in_place() -> None:
    older = merge_settings(TEMPLATE + "# before\n", render_settings(SECRETS)) + "DEBUG = False\n"
    newer = LabSecrets(secret_key="n" * 50, pepper="q" * 50)

    merged = merge_settings(older, render_settings(newer))

    assert merged.count(MANAGED_BEGIN) == merged.count(MANAGED_END) == 1
    assert settings_of(merged)["SECRET_KEY"] == newer.secret_key
    assert merged.endswith("DEBUG = False\n")
    assert "# before\n" in merged


def test_secrets_round_trip_and_short_ones_are_refused() -> None:
    assert parse_secrets(format_secrets(SECRETS)) == SECRETS
    assert parse_secrets('{"secret_key": "short", "pepper": "short"}') is None
    assert parse_secrets("not json") is None
    assert parse_secrets("[]") is None


def test_env_file_round_trips_and_is_private(paths: LabPaths) -> None:
    info = NetBoxInfo(url="http://127.0.0.1:8801", token=TOKEN, version="4.7.3")

    write_netbox_env(paths, info)

    assert read_netbox_env(paths) == info
    assert mode_of(paths.netbox_env) == 0o600
    assert paths.netbox_env.read_text().splitlines() == [
        "NETBOX_URL=http://127.0.0.1:8801",
        f"NETBOX_TOKEN={TOKEN}",
        "NETBOX_VERSION=4.7.3",
    ]


def test_private_write_tightens_an_existing_file(tmp_path: Path) -> None:
    target = tmp_path / "netbox.env"
    target.write_text("old\n")
    target.chmod(0o644)

    write_private(target, "new\n")

    assert (target.read_text(), mode_of(target)) == ("new\n", 0o600)
    assert [p.name for p in tmp_path.iterdir()] == ["netbox.env"]


def test_missing_env_file_is_a_lab_error_with_a_hint(paths: LabPaths) -> None:
    with pytest.raises(LabError, match="missing") as caught:
        read_netbox_env(paths)

    assert "orchestrator lab up" in caught.value.hint


def test_env_file_without_a_token_is_a_lab_error(paths: LabPaths) -> None:
    write_private(paths.netbox_env, "NETBOX_URL=http://127.0.0.1:8801\n")

    with pytest.raises(LabError, match="NETBOX_TOKEN"):
        read_netbox_env(paths)


def test_env_parsing_skips_comments_and_blank_lines() -> None:
    text = "# written by the lab\n\nNETBOX_URL=http://x\nNETBOX_TOKEN=a=b\nnonsense\n"

    assert parse_env(text) == {"NETBOX_URL": "http://x", "NETBOX_TOKEN": "a=b"}


def test_reprs_leave_the_secrets_out() -> None:
    info = NetBoxInfo(url="http://127.0.0.1:8801", token=TOKEN, version="4.7.3")
    token = ApiToken.generate()

    assert TOKEN not in repr(info)
    assert TOKEN not in str(info)
    assert "http://127.0.0.1:8801" in repr(info)
    assert token.secret not in repr(token)
    assert SECRETS.secret_key not in repr(SECRETS)
    assert SECRETS.pepper not in repr(SECRETS)


def test_generated_tokens_have_the_v2_shape_and_differ() -> None:
    first, second = ApiToken.generate(), ApiToken.generate()

    assert re.fullmatch(r"nbt_[A-Za-z0-9]{12}\.[A-Za-z0-9]{40}", first.value)
    assert first != second


def test_token_parsing_round_trips() -> None:
    token = ApiToken.generate()

    assert ApiToken.parse(token.value) == token


@pytest.mark.parametrize(
    "value",
    [
        "",
        "a" * 40,
        "nbt_" + "a" * 12 + "b" * 40,
        "nbt_" + "a" * 11 + "." + "b" * 40,
        "nbt_" + "a" * 12 + "." + "b" * 39,
        "nbt_" + "a" * 12 + "." + "b" * 39 + "!",
        "Bearer nbt_" + "a" * 12 + "." + "b" * 40,
    ],
)
def test_malformed_tokens_are_not_tokens(value: str) -> None:
    assert ApiToken.parse(value) is None


def test_caches_are_keyed_by_the_netbox_version(tmp_path: Path) -> None:
    assert venv_dir(tmp_path) == tmp_path / "netbox" / "venv-4.7.3"
    assert dump_path(tmp_path) == tmp_path / "netbox" / "db-4.7.3.dump"
    assert dump_path(tmp_path, "4.8.0") == tmp_path / "netbox" / "db-4.8.0.dump"


def test_each_checkout_has_its_own_token_note(tmp_path: Path) -> None:
    one = LabPaths(state=tmp_path / "one" / ".lab", cache=tmp_path / "cache")
    two = LabPaths(state=tmp_path / "two" / ".lab", cache=tmp_path / "cache")

    assert token_note(one) == token_note(one)
    assert token_note(one) != token_note(two)
    assert len(token_note(one)) <= 200


def seeded(fake: FakeNetBox) -> None:
    """``seed`` as the lab runs it: pynetbox and ``NetBoxApi`` on one session (here, the fake's)."""
    rest = fake.api()
    api = pynetbox.api(URL, token=rest.token)
    api.http_session = rest.session
    seed(api, rest)


def fields_of(fake: FakeNetBox) -> dict[str, dict[str, Any]]:
    return {row["name"]: row for row in fake.fields.values()}


def test_seeding_makes_the_lab_objects_and_bootstraps_the_custom_fields() -> None:
    fake = FakeNetBox()

    seeded(fake)

    assert [row["slug"] for row in fake.objects["dcim/sites/"]] == ["lab"]
    assert [row["slug"] for row in fake.objects["ipam/vlan-groups/"]] == ["lab-vlans"]
    assert [row["name"] for row in fake.objects["virtualization/clusters/"]] == ["lab-cluster"]
    found = fields_of(fake)
    assert [plan_field(wanted, found.get(wanted.name))[0].outcome for wanted in CUSTOM_FIELDS] == [
        Outcome.EXISTS
    ] * len(CUSTOM_FIELDS)


def test_seeding_again_writes_no_custom_field() -> None:
    fake = FakeNetBox()
    seeded(fake)
    fake.requests.clear()

    seeded(fake)

    assert [write for write in fake.writes() if write[1].startswith(FIELDS_PATH)] == []


def test_seeding_keeps_the_object_types_an_older_lab_gave_a_field() -> None:
    fake = FakeNetBox()
    key = CUSTOM_FIELDS[0]
    fake.add_field(**{**key.body(), "object_types": ["dcim.interface", "ipam.prefix"]})

    seeded(fake)

    assert set(fields_of(fake)[key.name]["object_types"]) == {"dcim.interface", *key.object_types}


def test_a_custom_field_the_orchestrator_cannot_use_stops_the_seeding() -> None:
    fake = FakeNetBox()
    fake.add_field(name="ssh_host_key", type="text", object_types=["dcim.device"])

    with pytest.raises(LabError, match="cannot use: blocked custom field ssh_host_key") as caught:
        seeded(fake)

    assert "remove that field" in caught.value.hint
