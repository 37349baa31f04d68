"""Adapters: implementations, named by technology, of the ports in ``orchestrator.engine.ports``.

    netbox.NetBoxIpam                  implements ports.ipam.Ipam
    host_records.NetBoxHostRecords     implements ports.host_records.HostRecords
    machines.LabMachines, ...          implement ports.machines.Machines
    ssh.ParamikoProbe                  implements ports.reachability.ReachabilityProbe
    ansible.AnsibleRunnerPlaybooks     implements ports.playbooks.PlaybookRunner
    vault.FernetVault                  implements ports.vault.DeliveryVault

Beside them: ``inventory`` (a delivery's Ansible inventory from its records), ``prometheus``
(monitoring checks as Prometheus rules and probes) and ``workspace`` (a delivery's private files).
Vendor errors are translated at this edge into ``orchestrator.engine.errors``. Adapters import the
engine's ports; the engine never imports an adapter.
"""
