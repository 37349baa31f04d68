"""``InMemoryHostRecords``: the ``HostRecords`` port over an ``InMemoryIpam``'s rows."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from orchestrator.engine.ports.host_records import HOST_KEY_FIELD
from orchestrator.engine.ports.ipam import Kind, Ref
from orchestrator.store.records import Json, JsonMap
from orchestrator.testing.ipam import InMemoryIpam


class InMemoryHostRecords:
    """The ``HostRecords`` port over an ``InMemoryIpam``'s rows, answering like NetBox: every
    custom field in ``defined`` is present (``None`` until set), a platform is ``{"id": ...}``;
    ``reads`` counts the calls. Held honest by the contract test against ``NetBoxHostRecords``."""

    def __init__(self, ipam: InMemoryIpam, defined: Sequence[str] = (HOST_KEY_FIELD,)) -> None:
        self.ipam = ipam
        self.defined = tuple(defined)
        self.reads = 0

    def fields(self, kind: Kind, ids: Sequence[int], names: Sequence[str]) -> dict[int, JsonMap]:
        self.reads += 1
        rows = self.ipam.rows[kind]
        return {i: self._row(rows[i].fields, names) for i in ids if i in rows}

    def _row(self, fields: Mapping[str, object], names: Sequence[str]) -> JsonMap:
        held = fields.get("custom_fields")
        custom: dict[str, Json] = dict.fromkeys(self.defined)
        if isinstance(held, Mapping):
            custom |= {k: v for k, v in held.items() if k in self.defined}
        row: dict[str, Json] = {"custom_fields": custom, "platform": self._platform(fields)}
        for family in ("primary_ip4", "primary_ip6"):
            row[family] = self._address(fields.get(family))
        return {name: row.get(name) for name in names}

    def _platform(self, fields: Mapping[str, object]) -> Json:
        """``{"id": ..., "slug": ...}`` as NetBox nests a platform (the slug it was made with)."""
        platform = fields.get("platform")
        if not isinstance(platform, int):
            return None
        refs = self.ipam.refs.items()
        slug = next((v for (ref, v), i in refs if ref is Ref.PLATFORM and i == platform), None)
        return {"id": platform, "slug": slug}

    def _address(self, ident: object) -> Json:
        """``{"id": ..., "address": "192.0.2.20/24"}`` as NetBox nests a primary IP."""
        row = self.ipam.rows[Kind.IP].get(ident) if isinstance(ident, int) else None
        return {"id": int(str(ident)), "address": row.value} if row is not None else None
