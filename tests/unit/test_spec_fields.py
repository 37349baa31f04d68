"""Value types of the spec: what each accepts, and the message for what it refuses."""

import ipaddress
from typing import Any

import pytest
from pydantic import TypeAdapter, ValidationError

from orchestrator.spec.fields import (
    CronSchedule,
    HostPattern,
    IpNetwork,
    LimitValue,
    Slug,
    SshPublicKey,
    SysctlValue,
    Vip,
)

ED25519 = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIK1oJn4DcauB6XcvLIOWCzztyBoWdHXStUkcAKDEM04T"
RSA = (
    "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQCVg9chWaZq9n1XbZye08XJ3Pww/Lmm1+O1qlyQQ4l6Q4jXGHARAT"
    "ymtE4MOU2leaFCnnzQFN1YqF0/dUSuQX+EysPqOO7FQXiYem0nAyhXKskAufk3pKe/5t548mEgKnTwQIJHSNdVr9ny"
    "cFatEbktOBEzU0w8cIkLoReGW8e1qKanKCiZEfhaFCoF2wBHyYCrbiBnz/Df28BfrU2tFRaR3YumicuyeW1Mf+qNEK"
    "rlrm0PaFbaWjkK6akNInL+OkGdE6+baKqeL4JNsD8DTyOmELQfL2gH/P7ezQriog1NarP15+FDOx6ir3QAd5ngzqvZ"
    "Q5AMzqCsDqGJO+GKmuqZ"
)


def _refusal(annotation: Any, value: object) -> str:
    with pytest.raises(ValidationError) as caught:
        TypeAdapter(annotation).validate_python(value)
    error = caught.value.errors()[0]
    return str(error.get("ctx", {}).get("error", error["msg"]))


@pytest.mark.parametrize(
    "key",
    [ED25519, f"{ED25519} joris@laptop", f"  {ED25519}   joris  laptop ", RSA],
)
def test_ssh_public_keys_accepted(key: str) -> None:
    assert TypeAdapter(SshPublicKey).validate_python(key).startswith("ssh-")


def test_ssh_key_whitespace_is_normalised() -> None:
    assert TypeAdapter(SshPublicKey).validate_python(f" {ED25519}\tme ") == f"{ED25519} me"


@pytest.mark.parametrize(
    ("key", "message"),
    [
        ("", "must be an SSH public key like 'ssh-ed25519 AAAAC3Nza... user@host'"),
        ("ssh-dss AAAA", "must be an SSH public key like 'ssh-ed25519 AAAAC3Nza... user@host'"),
        ("ssh-ed25519 not-base64!", "SSH public key: the key data is not valid base64"),
        (
            "ssh-rsa " + ED25519.split()[1],
            "SSH public key: the key data does not match its type ssh-rsa",
        ),
        (
            ED25519[:-4],
            "SSH public key: the key data does not match its type ssh-ed25519",
        ),
        (
            "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n",
            "is a private key; give the public key (the .pub file)",
        ),
    ],
)
def test_ssh_keys_refused(key: str, message: str) -> None:
    assert _refusal(SshPublicKey, key) == message


@pytest.mark.parametrize(
    "schedule", ["30 2 * * *", "*/15 * * * *", "0 3 1-7 * sun", "0 0 1 jan,jul *", "@daily"]
)
def test_cron_schedules_accepted(schedule: str) -> None:
    assert TypeAdapter(CronSchedule).validate_python(schedule) == schedule


@pytest.mark.parametrize(
    ("schedule", "message"),
    [
        ("daily", "must be a cron schedule like '30 2 * * *' or @daily"),
        ("0 24 * * *", "cron hour field: 24 is outside 0-23"),
        ("0 0 0 * *", "cron day field: 0 is outside 1-31"),
        ("0 0 * mon *", "cron month field: 'mon' is not a valid month"),
        ("0 0 * * ?", "cron weekday field: '?' is not a number, range or */step"),
    ],
)
def test_cron_schedules_refused(schedule: str, message: str) -> None:
    assert _refusal(CronSchedule, schedule) == message


@pytest.mark.parametrize("pattern", ["web-{n:02d}", "web-{n}", "db", "app{n:03d}-ams"])
def test_host_patterns_accepted(pattern: str) -> None:
    assert TypeAdapter(HostPattern).validate_python(pattern) == pattern


@pytest.mark.parametrize(
    ("pattern", "message"),
    [
        ("web-{i}", "the only placeholder allowed is {n}, like web-{n:02d}"),
        ("web-{n!r}", "the only placeholder allowed is {n}, like web-{n:02d}"),
        ("web-{n", "the only placeholder allowed is {n}, like web-{n:02d}"),
        ("web-{n:z}", "the only placeholder allowed is {n}, like web-{n:02d}"),
        (
            "Web_{n}",
            "must make host names of lowercase letters, digits and dashes (like web-{n:02d})",
        ),
    ],
)
def test_host_patterns_refused(pattern: str, message: str) -> None:
    assert _refusal(HostPattern, pattern) == message


@pytest.mark.parametrize("pattern", ["web-{n:9999999999d}", "web-{n:64d}", "x{n:0{n}d}", "{n:{n}}"])
def test_host_patterns_too_wide_are_refused_before_they_are_formatted(pattern: str) -> None:
    """Found while writing the fuzzer: ``web-{n:9999999999d}`` raised ``MemoryError`` (a
    traceback) and ``{n:999999999d}`` took seconds and a gigabyte; ``x{n:0{n}d}`` with a large
    ``start`` made the cross-field check format names millions of characters wide."""
    assert _refusal(HostPattern, pattern) == (
        "{n:...} must not be wider than 63 characters, like web-{n:02d}"
    )


def test_the_widest_host_pattern_is_a_host_name() -> None:
    assert TypeAdapter(HostPattern).validate_python("{n:063d}") == "{n:063d}"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (True, True),
        (False, False),
        ("10.213.128.10", ipaddress.ip_address("10.213.128.10")),
        ("2001:db8::1", ipaddress.ip_address("2001:db8::1")),
    ],
)
def test_vip_is_yes_no_or_an_address(value: object, expected: object) -> None:
    assert TypeAdapter(Vip).validate_python(value) == expected


@pytest.mark.parametrize("value", ["yes", "10.0.0", 3, None])
def test_vip_refuses_anything_else(value: object) -> None:
    assert _refusal(Vip, value) == "must be true (allocate one), false (none) or an IP address"


def test_vip_address_is_written_as_text() -> None:
    adapter = TypeAdapter(Vip)
    assert adapter.dump_python(adapter.validate_python("10.0.0.1"), mode="json") == "10.0.0.1"


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("10.213.128.5/17", "has host bits set (did you mean 10.213.128.0/17?)"),
        ("10.213.128.0", "must be an IP network with a prefix length, like 192.0.2.0/24"),
        ("lab", "must be an IP network with a prefix length, like 192.0.2.0/24"),
        ("10.213.128.0/33", "must be an IP network like 192.0.2.0/24"),
    ],
)
def test_networks_refused(value: str, message: str) -> None:
    assert _refusal(IpNetwork, value) == message


def test_ipv6_network_accepted() -> None:
    network = TypeAdapter(IpNetwork).validate_python("2001:db8::/48")
    assert network == ipaddress.ip_network("2001:db8::/48")


@pytest.mark.parametrize(("value", "text"), [(4096, "4096"), ("1 0 0", "1 0 0"), (0.5, "0.5")])
def test_sysctl_values_are_text(value: object, text: str) -> None:
    assert TypeAdapter(SysctlValue).validate_python(value) == text


@pytest.mark.parametrize(("value", "text"), [(65536, "65536"), ("unlimited", "unlimited")])
def test_limit_values(value: object, text: str) -> None:
    assert TypeAdapter(LimitValue).validate_python(value) == text


@pytest.mark.parametrize("slug", ["acme", "acme-webshop", "a", "x1"])
def test_slugs_accepted(slug: str) -> None:
    assert TypeAdapter(Slug).validate_python(slug) == slug


@pytest.mark.parametrize("slug", ["Acme", "-acme", "acme-", "acme_shop", "a" * 51, ""])
def test_slugs_refused(slug: str) -> None:
    message = "must be lowercase letters, digits and dashes, at most 50 (like acme-webshop)"
    assert _refusal(Slug, slug) == message
