"""Contract suites: the assertions a port's fake and its real adapter must both pass.

Each module holds the checks of one port (functions taking a *world*: the adapter under test and
a way to arrange what it sees), a ``CHECKS`` list, and the world made of the port's fake. The
unit tests run ``CHECKS`` against the fake; the integration tests run the same ``CHECKS`` against
the real adapter on the lab (the real worlds live there, since they need the lab). A contract may
import pytest: these modules are for test code only.

    module            port               the fake                  the real adapter
    ipam              Ipam               InMemoryIpam              NetBoxIpam
    host_records      Ipam.find +        InMemoryIpam +            NetBoxIpam +
                      HostRecords        InMemoryHostRecords       NetBoxHostRecords
    machines          Machines           InMemoryMachines          LabMachines
    reachability      ReachabilityProbe  ScriptedProbe             ParamikoProbe
    playbooks         PlaybookRunner     ScriptedPlaybooks         AnsibleRunnerPlaybooks
    monitoring        Monitoring         FolderMonitoring          FilePrometheus
    monitoring_status MonitoringStatus   ScriptedMonitoringStatus  PrometheusApi
    platform_checks   PlatformChecks     ScriptedChecks            TestinfraChecks
    app_probe         AppProbe           ScriptedAppProbe          SocketProbe
    app_monitoring    AppMonitoring      InMemoryAppMonitoring     FileAppMonitoring
    alert_routing     AlertRouting       ScriptedAlertRouting      AmtoolRouting
    printer           Printer            ScriptedPrinter           WeasyPrintCommand
    identity          Authenticator      FixedIdentity             LoginIdentity (in tests/unit)
    store             RunStore           InMemoryRunStore          SqlRunStore (SQLite in
                      (``StoreContract``: subclass it with a       tests/unit, PostgreSQL in
                      ``store`` fixture)                           tests/integration)

tests/unit/test_testing_exports.py pins ``orchestrator.testing``'s names; a new fake comes with
its contract module here, a unit test running it against the fake and an integration test
running it against the real adapter.
"""
