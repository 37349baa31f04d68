"""Backups go to the site's backup host: the lab's site names its backup host."""

from __future__ import annotations

from pathlib import Path

from orchestrator.lab.hosts import LabHost
from orchestrator.lab.netbox import NetBoxInfo
from orchestrator.lab.paths import LabPaths
from orchestrator.lab.site import site_data
from orchestrator.site.model import Site
from tests.unit.test_site import HOST_KEY

# --- the lab's site -----------------------------------------------------------------------------


def test_the_labs_site_names_its_backup_host(tmp_path: Path) -> None:
    paths = LabPaths(tmp_path / "lab", tmp_path / "cache")
    host = LabHost("lab-backup", "10.213.0.5", HOST_KEY)
    data = site_data(paths, NetBoxInfo("http://127.0.0.1:8001", "t", "4.7.3"), host)
    assert data["backups"] == {
        "repository": "sftp:restic@10.213.0.5:/srv/restic",
        "host_key": HOST_KEY,
        "authorized_keys": "/etc/ssh/authorized_keys/restic",
    }
    site = Site.model_validate(data)
    assert site.backups is not None
    assert (site.backups.host, site.backups.base) == ("10.213.0.5", "/srv/restic")

