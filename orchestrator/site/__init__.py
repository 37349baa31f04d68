"""The site: where and how deliveries land (NetBox, SSH, host defaults, monitoring, backups).

    site_path(option, spec_site) -> Path     which site file: option, environment, the spec
    load_site(path) -> Site                  validated, with file:line: field: message errors
    SecretRef.resolve() -> Secret            a secret, read only when it is used

The composition root (``orchestrator.wiring``) builds every adapter from a ``Site``.
"""

from orchestrator.site.loader import (
    SITE_ENV,
    NoSite,
    SiteError,
    load_site,
    site_path,
)
from orchestrator.site.model import Site
from orchestrator.site.secrets import Secret, SecretRef, SecretUnavailable

__all__ = [
    "SITE_ENV",
    "NoSite",
    "Secret",
    "SecretRef",
    "SecretUnavailable",
    "Site",
    "SiteError",
    "load_site",
    "site_path",
]
