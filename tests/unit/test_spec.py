"""The delivery spec: the examples, host expansion, the hash, and the public API."""

import ipaddress
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

import orchestrator.spec
from orchestrator.spec import (
    DeliverySpec,
    SpecError,
    canonical_json,
    json_schema,
    load_spec,
    parse_spec,
    spec_hash,
)

ROOT = Path(__file__).parents[2]
EXAMPLES = ROOT / "examples"
VALID = Path(__file__).parent / "spec_cases" / "valid.yaml"


def _with(text: str, old: str, new: str) -> str:
    assert old in text
    return text.replace(old, new, 1)


@pytest.mark.parametrize("name", ["small.yaml", "full.yaml"])
def test_examples_are_valid(name: str) -> None:
    load_spec(EXAMPLES / name)


def test_small_example_is_one_web_host() -> None:
    spec = load_spec(EXAMPLES / "small.yaml")
    assert [(host.name, host.role) for host in spec.expanded_hosts()] == [("web-01", "web")]
    assert spec.network.load_balancer is None


def test_full_example_has_what_the_issue_asks_for() -> None:
    spec = load_spec(EXAMPLES / "full.yaml")
    hosts = [(host.name, host.role) for host in spec.expanded_hosts()]
    assert hosts == [("web-01", "web"), ("web-02", "web"), ("db-01", "db")]
    assert spec.network.load_balancer is not None
    assert spec.network.load_balancer.backend_role == "web"
    assert set(spec.backups) == {"web", "db"}
    assert spec.migration is not None
    assert spec.migration.data_sets
    assert spec.go_live.checks


@pytest.mark.parametrize("name", ["small.yaml", "full.yaml"])
def test_examples_use_the_lab(name: str) -> None:
    spec = load_spec(EXAMPLES / name)
    assert (spec.network.site, spec.network.vlan_group) == ("lab", "lab-vlans")
    assert spec.network.parent_prefix == ipaddress.ip_network("10.213.128.0/17")
    assert {(group.provider, group.image) for group in spec.hosts} == {("lab", "debian-12")}


def test_expanded_hosts_follow_start_and_static_addresses() -> None:
    text = VALID.read_text(encoding="utf-8")
    text = _with(text, "    count: 2\n", "    count: 2\n    start: 7\n")
    text = _with(text, "provider: lab", "provider: static\n    addresses: [192.0.2.7, 192.0.2.8]")
    spec = parse_spec(text)
    hosts = spec.expanded_hosts()
    assert [(host.name, str(host.address)) for host in hosts] == [
        ("web-07", "192.0.2.7"),
        ("web-08", "192.0.2.8"),
    ]
    assert all(host.group is spec.hosts[0] and host.role == "web" for host in hosts)


def test_lab_hosts_have_no_address_until_netbox_gives_one() -> None:
    hosts = load_spec(VALID).expanded_hosts()
    assert [host.address for host in hosts] == [None, None]


def test_the_model_itself_refuses_an_inconsistent_spec() -> None:
    """Cross-field checks hold for ``model_validate`` too, not only for files."""
    data = yaml.safe_load(
        _with(VALID.read_text(encoding="utf-8"), "prefix_length: 28", "prefix_length: 16")
    )
    with pytest.raises(ValueError, match=r"network\.prefix_length: must be > 17"):
        DeliverySpec.model_validate(data)


def test_signed_false_is_a_valid_spec() -> None:
    """The gate before phase 1 waits for the signature; the spec itself is fine."""
    text = _with(VALID.read_text(encoding="utf-8"), "{signed: true}", "{signed: false}")
    assert parse_spec(text).preconditions.data_processing_agreement.signed is False


def _reordered(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _reordered(value[key]) for key in reversed(list(value))}
    if isinstance(value, list):
        return [_reordered(item) for item in value]
    return value


def test_hash_is_stable_across_key_order_and_comments() -> None:
    text = (EXAMPLES / "full.yaml").read_text(encoding="utf-8")
    reordered = yaml.safe_dump(_reordered(yaml.safe_load(text)), sort_keys=False)
    assert reordered != text
    assert spec_hash(parse_spec(reordered)) == spec_hash(load_spec(EXAMPLES / "full.yaml"))


def test_hash_ignores_spelled_out_defaults() -> None:
    text = VALID.read_text(encoding="utf-8")
    explicit = _with(text, "    count: 2\n", "    count: 2\n    start: 1\n")
    assert spec_hash(parse_spec(explicit)) == spec_hash(parse_spec(text))


def test_hash_changes_with_any_value() -> None:
    text = VALID.read_text(encoding="utf-8")
    changed = _with(text, "cpus: 2", "cpus: 3")
    assert spec_hash(parse_spec(changed)) != spec_hash(parse_spec(text))


def test_hash_is_sha256_of_canonical_json() -> None:
    spec = load_spec(VALID)
    assert len(spec_hash(spec)) == 64
    assert json.loads(canonical_json(spec)) == spec.model_dump(mode="json", exclude={"site"})
    assert DeliverySpec.model_validate_json(canonical_json(spec)) == spec


def test_a_spec_naming_its_site_hashes_differently() -> None:
    spec = load_spec(VALID)
    assert spec_hash(spec.model_copy(update={"site": "ams1"})) != spec_hash(spec)


def test_hash_is_pinned() -> None:
    """Stored deliveries keep their hash: a change here (a new field, a changed default, another
    serialisation) changes the hash of every delivery. Change it on purpose, and say so.
    """
    assert spec_hash(load_spec(VALID)) == (
        "17f486658089d62a5185efb540eccef209e12654f772db5b5faa5623862b30c6"
    )


def test_spec_is_immutable() -> None:
    spec = load_spec(VALID)
    with pytest.raises(ValueError, match="frozen"):
        spec.id = "other"


def test_json_schema_is_for_editors() -> None:
    schema = json_schema()
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["additionalProperties"] is False
    assert "hosts" in schema["required"]


def test_public_api() -> None:
    assert set(orchestrator.spec.__all__) >= {
        "DeliverySpec",
        "ExpandedHost",
        "SpecError",
        "SpecProblem",
        "canonical_json",
        "json_schema",
        "load_spec",
        "parse_spec",
        "spec_hash",
    }
    for name in orchestrator.spec.__all__:
        assert getattr(orchestrator.spec, name) is not None


def test_spec_error_is_an_exception_with_problems() -> None:
    with pytest.raises(SpecError) as caught:
        parse_spec("id: [", "broken.yaml")
    assert len(caught.value.problems) == 1
    assert str(caught.value).startswith("broken.yaml:1: invalid YAML")
