"""Value types of a delivery spec, each with a check and a message a person can act on.

Every type here is a ``typing.Annotated`` alias that pydantic understands; a check raises
``ValueError`` with the whole human message (``must be ...``), which the error report shows as is.
"""

from __future__ import annotations

import base64
import binascii
import functools
import ipaddress
import re
import string
import types
from typing import Annotated, Union, get_args, get_origin

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    Field,
    IPvAnyAddress,
    IPvAnyNetwork,
    PlainSerializer,
    PlainValidator,
    WithJsonSchema,
)
from pydantic_core import PydanticCustomError

_SLUG = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,48}[a-z0-9])?")
_HOST_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
_HOST_LABEL_MAX = 63
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s.]+")
_PHONE = re.compile(r"\+?[0-9][0-9 ()-]{5,19}")
_UNIX_USER = re.compile(r"[a-z_][a-z0-9_-]{0,31}")
_PACKAGE = re.compile(r"[a-z0-9][a-z0-9+.-]+(?:=[A-Za-z0-9.+~:*-]+)?")
_SERVICE = re.compile(r"[A-Za-z0-9@._:-]+")
_SYSCTL = re.compile(r"[a-z][a-z0-9_]*(?:[./][a-z0-9_*-]+)+")
_LIMIT_DOMAIN = re.compile(r"\*|@?[a-z_][a-z0-9_-]{0,31}")
_CRON_MACROS = frozenset({"@hourly", "@daily", "@weekly", "@monthly", "@yearly", "@annually"})
#: cron fields: name and the numbers it allows
_CRON_FIELDS = (
    ("minute", 0, 59),
    ("hour", 0, 23),
    ("day", 1, 31),
    ("month", 1, 12),
    ("weekday", 0, 7),
)
#: cron fields that also take names
_CRON_NAMES = {
    "month": frozenset(("jan", "feb", "mar", "apr", "may", "jun"))
    | frozenset(("jul", "aug", "sep", "oct", "nov", "dec")),
    "weekday": frozenset(("sun", "mon", "tue", "wed", "thu", "fri", "sat")),
}
_CRON_PART = re.compile(r"(\*|[0-9]+|[a-z]{3})(?:-([0-9]+|[a-z]{3}))?(?:/([0-9]+))?")
#: SSH public key types, and the exact blob length where the type fixes it
_SSH_KEY_TYPES: dict[str, int | None] = {
    "ssh-ed25519": 51,
    "ssh-rsa": None,
    "ecdsa-sha2-nistp256": None,
    "ecdsa-sha2-nistp384": None,
    "ecdsa-sha2-nistp521": None,
    "sk-ssh-ed25519@openssh.com": None,
    "sk-ecdsa-sha2-nistp256@openssh.com": None,
}


def _schema(pattern: re.Pattern[str]) -> WithJsonSchema:
    """The JSON Schema of a string that must match ``pattern`` (for editors)."""
    return WithJsonSchema({"type": "string", "pattern": f"^(?:{pattern.pattern})$"})


def _matching(pattern: re.Pattern[str], message: str) -> AfterValidator:
    def check(value: str) -> str:
        if not pattern.fullmatch(value):
            raise ValueError(message)
        return value

    return AfterValidator(check)


def _slug_check(value: str) -> str:
    if not _SLUG.fullmatch(value):
        raise ValueError(
            "must be lowercase letters, digits and dashes, at most 50 (like acme-webshop)"
        )
    return value


def _ssh_public_key(value: str) -> str:
    if "PRIVATE KEY" in value:
        raise ValueError("is a private key; give the public key (the .pub file)")
    parts = value.split()
    if len(parts) < 2 or parts[0] not in _SSH_KEY_TYPES:
        raise ValueError("must be an SSH public key like 'ssh-ed25519 AAAAC3Nza... user@host'")
    try:
        blob = base64.b64decode(parts[1], validate=True)
    except binascii.Error:
        raise ValueError("SSH public key: the key data is not valid base64") from None
    if _ssh_blob_type(blob) != parts[0] or _SSH_KEY_TYPES[parts[0]] not in (None, len(blob)):
        raise ValueError(f"SSH public key: the key data does not match its type {parts[0]}")
    return " ".join(parts)


def _ssh_blob_type(blob: bytes) -> str:
    """The key type named at the start of an SSH public key blob (a length-prefixed string)."""
    length = int.from_bytes(blob[:4], "big")
    return blob[4 : 4 + length].decode("ascii", errors="replace")


def _host_pattern(value: str) -> str:
    specs = _format_specs(value)
    if specs is None:
        raise ValueError("the only placeholder allowed is {n}, like web-{n:02d}")
    if any(_too_wide(spec) for spec in specs):
        raise ValueError(
            f"{{n:...}} must not be wider than {_HOST_LABEL_MAX} characters, like web-{{n:02d}}"
        )
    try:
        example = value.format(n=1)
    except ValueError:  # a format an integer does not take, like {n:s}
        raise ValueError("the only placeholder allowed is {n}, like web-{n:02d}") from None
    if not _HOST_LABEL.fullmatch(example):
        raise ValueError(
            "must make host names of lowercase letters, digits and dashes (like web-{n:02d})"
        )
    return value


def _format_specs(pattern: str) -> list[str] | None:
    """The format of each ``{n}`` in ``pattern`` ("" for none), or None when the pattern is not
    a format or has placeholders other than ``{n}``."""
    try:
        parts = [part for part in string.Formatter().parse(pattern) if part[1] is not None]
    except ValueError:
        return None
    if any(name != "n" or conversion for _, name, _, conversion in parts):
        return None
    return [spec or "" for _, _, spec, _ in parts]


def _too_wide(spec: str) -> bool:
    """Would the format ``spec`` make text longer than a host name (``{n:99999999d}`` makes
    100 MB), or does it take a width from a placeholder (``{n:{n}}``)?"""
    numbers = re.findall(r"[0-9]+", spec)
    return "{" in spec or any(
        len(number.lstrip("0")) > 2 or int(number) > _HOST_LABEL_MAX for number in numbers
    )


def _cron(value: str) -> str:
    if value in _CRON_MACROS:
        return value
    fields = value.split()
    if len(fields) != len(_CRON_FIELDS):
        raise ValueError("must be a cron schedule like '30 2 * * *' or @daily")
    for text, (name, low, high) in zip(fields, _CRON_FIELDS, strict=True):
        for part in text.split(","):
            _cron_part(part, name, low, high)
    return value


def _cron_part(part: str, name: str, low: int, high: int) -> None:
    match = _CRON_PART.fullmatch(part.lower())
    if match is None:
        raise ValueError(f"cron {name} field: {part!r} is not a number, range or */step")
    for bound in match.group(1, 2):
        if bound is None or bound == "*":
            continue
        if bound.isdigit() and not low <= int(bound) <= high:
            raise ValueError(f"cron {name} field: {bound} is outside {low}-{high}")
        if not bound.isdigit() and bound not in _CRON_NAMES.get(name, frozenset()):
            raise ValueError(f"cron {name} field: {bound!r} is not a valid {name}")


def _absolute_path(value: str) -> str:
    if not value.startswith("/") or "\0" in value or ".." in value.split("/"):
        raise ValueError("must be an absolute path like /var/www (no '..')")
    return value


def _http_url(value: str) -> str:
    if not re.fullmatch(r"https?://[^\s/?#]+[^\s]*", value):
        raise ValueError("must be an http:// or https:// URL")
    return value


def _network(value: object) -> object:
    if isinstance(value, int | float):  # pydantic would take 3 as 0.0.0.3/32
        raise PydanticCustomError("network_not_text", "must be an IP network like 192.0.2.0/24")
    if not isinstance(value, str):
        return value
    if "/" not in value:
        raise ValueError("must be an IP network with a prefix length, like 192.0.2.0/24")
    try:
        return ipaddress.ip_network(value)
    except ValueError:
        pass
    try:
        network = ipaddress.ip_network(value, strict=False)
    except ValueError:
        raise ValueError("must be an IP network like 192.0.2.0/24") from None
    raise ValueError(f"has host bits set (did you mean {network}?)")


def _address(value: object) -> object:
    if isinstance(value, int | float):  # pydantic would take 1 as 0.0.0.1
        raise PydanticCustomError("address_not_text", "must be an IP address like 192.0.2.10")
    return value


def _scalar_text(value: object) -> object:
    """Numbers written without quotes are fine where the value is text (sysctl, limits)."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise PydanticCustomError("scalar_type", "must be a number or a string")
    return str(value)


def _limit_value(value: str) -> str:
    if value != "unlimited" and not value.isdigit():
        raise ValueError("must be a whole number >= 0 or 'unlimited'")
    return value


def _vip(value: object) -> bool | ipaddress.IPv4Address | ipaddress.IPv6Address:
    if isinstance(value, bool):
        return value
    message = "must be true (allocate one), false (none) or an IP address"
    if not isinstance(value, str):
        raise PydanticCustomError("vip_type", message)
    try:
        return ipaddress.ip_address(value)
    except ValueError:
        raise ValueError(message) from None


def _vip_json(value: bool | ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool | str:  # noqa: FBT001  # the value itself is a boolean
    return value if isinstance(value, bool) else str(value)


Text = Annotated[str, Field(min_length=1, max_length=200)]
Slug = Annotated[str, AfterValidator(_slug_check), _schema(_SLUG)]
Email = Annotated[
    str, _matching(_EMAIL, "must be an email address like name@example.com"), _schema(_EMAIL)
]
Phone = Annotated[
    str, _matching(_PHONE, "must be a phone number like +31 20 123 4567"), _schema(_PHONE)
]
UnixUser = Annotated[
    str,
    _matching(
        _UNIX_USER,
        "must be a Unix user name: lowercase letters, digits, '_' and '-', at most 32",
    ),
    _schema(_UNIX_USER),
]
SshPublicKey = Annotated[str, AfterValidator(_ssh_public_key)]
HostPattern = Annotated[str, AfterValidator(_host_pattern)]
CronSchedule = Annotated[str, AfterValidator(_cron)]
AbsolutePath = Annotated[str, AfterValidator(_absolute_path)]
HttpUrl = Annotated[str, AfterValidator(_http_url)]
PackageName = Annotated[
    str,
    _matching(_PACKAGE, "must be a Debian package name like nginx or nginx=1.22.1-9"),
    _schema(_PACKAGE),
]
ServiceName = Annotated[
    str, _matching(_SERVICE, "must be a systemd unit name like nginx"), _schema(_SERVICE)
]
SysctlName = Annotated[
    str, _matching(_SYSCTL, "must be a sysctl name like net.core.somaxconn"), _schema(_SYSCTL)
]
SysctlValue = Annotated[
    str,
    BeforeValidator(_scalar_text),
    WithJsonSchema({"type": ["string", "number"]}),
]
LimitDomain = Annotated[
    str,
    _matching(_LIMIT_DOMAIN, "must be '*', a user name or @group (like www-data)"),
    _schema(_LIMIT_DOMAIN),
]
LimitValue = Annotated[
    str,
    BeforeValidator(_scalar_text),
    AfterValidator(_limit_value),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "integer", "minimum": 0},
                {"type": "string", "pattern": "^([0-9]+|unlimited)$"},
            ]
        }
    ),
]
Port = Annotated[int, Field(ge=1, le=65535)]
IpNetwork = Annotated[IPvAnyNetwork, BeforeValidator(_network)]
IpAddress = Annotated[IPvAnyAddress, BeforeValidator(_address)]
Vip = Annotated[
    bool | ipaddress.IPv4Address | ipaddress.IPv6Address,
    PlainValidator(_vip),
    PlainSerializer(_vip_json),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "boolean"},
                {"type": "string", "format": "ipv4"},
                {"type": "string", "format": "ipv6"},
            ]
        }
    ),
]


def number_not_bool(model: type[BaseModel], name: str | None, value: object) -> object:
    """``value`` for the field ``name`` of ``model``, unless it is true/false where the field
    takes a number: YAML reads yes/no/on/off/true/false as booleans, which pydantic would take as
    1 and 0 (``count: yes`` is not one host, ``port: on`` not port 1)."""
    if isinstance(value, bool) and name is not None and _takes_number(model, name):
        raise PydanticCustomError("number_not_bool", "must be a number, not true/false")
    return value


@functools.cache
def _takes_number(model: type[BaseModel], name: str) -> bool:
    return _numeric(model.model_fields[name].annotation)


def _numeric(annotation: object) -> bool:
    """``int`` or ``float``, perhaps ``Annotated`` or ``| None`` (not ``bool | IPv4Address``)."""
    origin = get_origin(annotation)
    if origin is Annotated:
        return _numeric(get_args(annotation)[0])
    if origin in (Union, types.UnionType):
        options = [arg for arg in get_args(annotation) if arg is not type(None)]
        return len(options) == 1 and _numeric(options[0])
    return annotation in (int, float)


def is_host_label(name: str) -> bool:
    """Is ``name`` a valid host name label (lowercase letters, digits, dashes, 1-63)?"""
    return _HOST_LABEL.fullmatch(name) is not None
