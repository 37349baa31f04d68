"""Fakes and helpers for testing code that uses the orchestrator; shipped with the package.

One module per port of ``orchestrator.engine.ports`` (and per piece of the engine a test stands in
for); each port's fake is held honest by a contract suite in ``orchestrator.testing.contracts``,
which runs the same assertions against the fake (tests/unit) and the real adapter
(tests/integration, on the lab).

    store               InMemoryRunStore           ``RunStore`` in memory
    ipam                InMemoryIpam               ``Ipam`` (NetBox) in memory, scripted faults;
                                                   servers recorded before any delivery
    host_records        InMemoryHostRecords        ``HostRecords`` over an ``InMemoryIpam``'s rows
    machines            InMemoryMachines           ``Machines``: a machine exists once asked for
    reachability        ScriptedProbe              ``ReachabilityProbe``: keys and errors per host
    playbooks           ScriptedPlaybooks          ``PlaybookRunner``: each host's outcome scripted
                        all_ok, HostScript         (``all_ok``: every task succeeded)
    monitoring          FolderMonitoring           ``Monitoring``: just a folder
    monitoring_status   ScriptedMonitoringStatus   ``MonitoringStatus``: what a test tells it
    platform_checks     ScriptedChecks             ``PlatformChecks``: phase 4's checks, scripted
                        inventory_hosts
    app_probe           ScriptedAppProbe           ``AppProbe``: servers and closed ports, scripted
    app_monitoring      InMemoryAppMonitoring      ``AppMonitoring``: go-live checks in memory
    alert_routing       ScriptedAlertRouting       ``AlertRouting``: a routing tree on one label
                        routing_to
    printer             ScriptedPrinter            ``Printer``: a stand-in PDF, or a note
    identity            FixedIdentity              ``Authenticator``: always the given person
    notifier            RecordingNotifier          ``Notifier``: keeps what it was given to send
    release             InMemoryRegistrations,     ``MonitoringRegistrations`` and
                        InMemoryMachineRelease     ``MachineRelease``: what a release removes
    adapters            fake_adapters              phase 2-4 ``Adapters`` made of the fakes above
    deliveries          make_delivery, T0, OPERATIONS, site_people, known_person, BOB_BUDDY,
                        OLGA_OPS, approve_gates    a ``Delivery`` without a spec file, its people,
                                                   the approvals it needs
    engine              FakeClock, fake_runtime,   a clock that ticks a second per reading, a
                        EngineBench                runtime that never sleeps, a store and clock
                                                   shared by the engines of one test
    steps               ScriptedStep, CrashPoint,  steps whose results, failures and crashes are
                        SimulatedCrash, unwired,   scripted; the real seven phases with every step
                        catalogue, scripted_phases scripted
    observers           RecordingObserver,         observers that remember everything, or crash
                        CrashingObserver, keys_of  once
    composition         FixedComposition           a ``Composition`` for CLI tests

Every name above is importable from ``orchestrator.testing`` itself (tests/unit/
test_testing_exports.py pins the list).
"""

from orchestrator.testing.adapters import fake_adapters
from orchestrator.testing.alert_routing import ScriptedAlertRouting, routing_to
from orchestrator.testing.app_monitoring import InMemoryAppMonitoring
from orchestrator.testing.app_probe import ScriptedAppProbe
from orchestrator.testing.composition import FixedComposition
from orchestrator.testing.deliveries import (
    BOB_BUDDY,
    OLGA_OPS,
    OPERATIONS,
    T0,
    approve_gates,
    known_person,
    make_delivery,
    site_people,
)
from orchestrator.testing.engine import EngineBench, FakeClock, fake_runtime
from orchestrator.testing.host_records import InMemoryHostRecords
from orchestrator.testing.identity import FixedIdentity
from orchestrator.testing.ipam import InMemoryIpam
from orchestrator.testing.machines import InMemoryMachines
from orchestrator.testing.monitoring import FolderMonitoring
from orchestrator.testing.monitoring_status import ScriptedMonitoringStatus
from orchestrator.testing.notifier import RecordingNotifier
from orchestrator.testing.observers import CrashingObserver, RecordingObserver, keys_of
from orchestrator.testing.platform_checks import ScriptedChecks, inventory_hosts
from orchestrator.testing.playbooks import HostScript, ScriptedPlaybooks, all_ok
from orchestrator.testing.printer import ScriptedPrinter
from orchestrator.testing.reachability import ScriptedProbe
from orchestrator.testing.release import InMemoryMachineRelease, InMemoryRegistrations
from orchestrator.testing.steps import (
    CrashPoint,
    ScriptedStep,
    SimulatedCrash,
    catalogue,
    scripted_phases,
    unwired,
)
from orchestrator.testing.store import InMemoryRunStore

__all__ = [
    "BOB_BUDDY",
    "OLGA_OPS",
    "OPERATIONS",
    "T0",
    "CrashPoint",
    "CrashingObserver",
    "EngineBench",
    "FakeClock",
    "FixedComposition",
    "FixedIdentity",
    "FolderMonitoring",
    "HostScript",
    "InMemoryAppMonitoring",
    "InMemoryHostRecords",
    "InMemoryIpam",
    "InMemoryMachineRelease",
    "InMemoryMachines",
    "InMemoryRegistrations",
    "InMemoryRunStore",
    "RecordingNotifier",
    "RecordingObserver",
    "ScriptedAlertRouting",
    "ScriptedAppProbe",
    "ScriptedChecks",
    "ScriptedMonitoringStatus",
    "ScriptedPlaybooks",
    "ScriptedPrinter",
    "ScriptedProbe",
    "ScriptedStep",
    "SimulatedCrash",
    "all_ok",
    "approve_gates",
    "catalogue",
    "fake_adapters",
    "fake_runtime",
    "inventory_hosts",
    "keys_of",
    "known_person",
    "make_delivery",
    "routing_to",
    "scripted_phases",
    "site_people",
    "unwired",
]
