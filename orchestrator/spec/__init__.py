"""The delivery spec: what was sold, in one YAML file, validated before anything runs.

load_spec(path) -> DeliverySpec       read + validate; raises SpecError with every problem
parse_spec(text, file) -> DeliverySpec
spec_hash(spec) -> str                sha256 of canonical_json(spec)
json_schema() -> dict                 for editors; ``orchestrator schema`` prints it

SpecError(Exception)
  .problems: tuple[SpecProblem(file, line, field, message), ...]   sorted by line
"""

from orchestrator.spec.loader import (
    canonical_json,
    json_schema,
    load_spec,
    parse_spec,
    spec_hash,
)
from orchestrator.spec.model import (
    Access,
    Agreement,
    Backup,
    Contact,
    Customer,
    DataSet,
    DeliverySpec,
    ExpandedHost,
    GoLive,
    GoLiveCheck,
    Hardware,
    HostGroup,
    LbPort,
    Limit,
    LoadBalancer,
    Migration,
    MigrationSource,
    Monitoring,
    MonitoringCheck,
    Network,
    Operations,
    Person,
    Preconditions,
    Retention,
    Size,
    SoftwareSet,
    Tuning,
    User,
    Verification,
)
from orchestrator.spec.problems import SpecError, SpecProblem

__all__ = [
    "Access",
    "Agreement",
    "Backup",
    "Contact",
    "Customer",
    "DataSet",
    "DeliverySpec",
    "ExpandedHost",
    "GoLive",
    "GoLiveCheck",
    "Hardware",
    "HostGroup",
    "LbPort",
    "Limit",
    "LoadBalancer",
    "Migration",
    "MigrationSource",
    "Monitoring",
    "MonitoringCheck",
    "Network",
    "Operations",
    "Person",
    "Preconditions",
    "Retention",
    "Size",
    "SoftwareSet",
    "SpecError",
    "SpecProblem",
    "Tuning",
    "User",
    "Verification",
    "canonical_json",
    "json_schema",
    "load_spec",
    "parse_spec",
    "spec_hash",
]
