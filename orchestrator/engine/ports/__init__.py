"""Ports: what the steps need from the world, as Protocols and their value types, one module each.

    ipam            Ipam                keyed, bulk reservations in NetBox
                                        (orchestrator.adapters.netbox.NetBoxIpam)
    host_records    HostRecords         fields of a delivery's machine records, read by id
                                        (orchestrator.adapters.host_records.NetBoxHostRecords)
    machines        Machines            a host up from its image at its reserved address
                                        (orchestrator.adapters.machines: lab, static, by provider)
                    MachineRelease      a released delivery's machines destroyed (the provider's
                                        own) or forgotten (existing servers)
    reachability    ReachabilityProbe   a host answers SSH with its pinned key
                                        (orchestrator.adapters.ssh.ParamikoProbe)
    playbooks       PlaybookRunner      a playbook on some hosts, an outcome per host and task
                                        (orchestrator.adapters.ansible.AnsibleRunnerPlaybooks)
    monitoring      Monitoring          the folder a host is registered in for scraping
                                        (orchestrator.adapters.prometheus_files.FilePrometheus)
                    MonitoringRegistrations  a delivery's targets, rules and modules, listed and
                                        removed (orchestrator.adapters.prometheus_files)
    check_monitoring  CheckMonitoring   the spec's monitoring checks, resolved to hosts, installed
                                        (orchestrator.adapters.prometheus_files.FilePrometheus)
    app_monitoring  AppMonitoring       the go-live checks probed by address and alerting
                                        (orchestrator.adapters.prometheus_files.FileAppMonitoring)
    alert_routing   AlertRouting        the receivers an alert with given labels is routed to
                                        (orchestrator.adapters.alertmanager.AmtoolRouting)
    vault           DeliveryVault       generated secrets and pinned host keys, the same for every
                                        controller (orchestrator.adapters.vault.FernetVault)
    printer         Printer             a PDF of an HTML document, or why there is none
                                        (orchestrator.adapters.weasyprint.WeasyPrintCommand)
    notifier        Notifier            a notice to the people who must act when a run stops
                                        (orchestrator.adapters.smtp.SmtpNotifier,
                                        orchestrator.adapters.webhook.WebhookNotifier)

Ports are named by capability, adapters (``orchestrator.adapters``) by technology. A port module
imports no vendor library (pynetbox, paramiko, ansible-runner, requests, SQLAlchemy): importing a
port imports no adapter. Errors are drawn in ``orchestrator.engine.errors``. This package imports
none of its modules: import the port you need. Each port's fake is in ``orchestrator.testing``,
held to the real adapter's behaviour by a contract suite in ``orchestrator.testing.contracts``.
"""
