"""Errors of the engine and of the adapters it drives.

A step (and the adapter under it) raises one of these; the engine turns it into a value — a step
result with a status — and never lets it escape a run. Vendor errors are translated at the edge,
in the adapter, with ``raise ... from exc``.

    OrchestratorError
    ├── TransientError        may work if tried again: retried by the RetryPolicy, the one place
    │   │                     retries happen; when the retries run out the step is ``crashed``
    │   ├── Unreachable       connection refused or reset, name not resolved
    │   ├── TimedOut          no answer in time (the request may still take effect: steps are
    │   │                     idempotent, so trying again is safe)
    │   ├── ServerError       HTTP 5xx
    │   ├── Throttled         HTTP 429
    │   └── StillCommitting*  NetBox refused keys a lookup does not show yet (phase 1)
    ├── PermanentError        the target said no: never retried; the step is ``failed``
    │   ├── Refused           the request was rejected (HTTP 4xx, a conflict, a failed playbook)
    │   │   ├── KeyTaken      an object with one of the keys exists already (``Ipam``: look up
    │   │   │                 and adopt it)
    │   │   ├── HostKeyChanged  a host shows another SSH host key than the one pinned for its
    │   │   │                 address, or than the one it must show (its provider's; NetBox's
    │   │   │                 for an existing server) (``ReachabilityProbe``: that host fails)
    │   │   ├── HostKeyUnrecorded  an existing server has no SSH host key recorded in NetBox
    │   │   │                 (``Machines``: refused, never trusted on first use)
    │   │   ├── JumpHostKeyMismatch  a jump host shows another SSH host key than the site names
    │   │   │                 for it (``ReachabilityProbe``: nothing was sent to it)
    │   │   ├── TenantNameTaken*  the customer's name is another NetBox tenant's (phase 1)
    │   │   └── UnrecordedServer*  a ``static`` host's address is not in NetBox on an interface
    │   │                     of its VM or device (phase 1 adopts servers, never records them)
    │   ├── Exhausted         a pool (VLANs, prefixes, addresses) has nothing left
    │   └── NotImplementedYet the step is not written yet: the run stops (fail closed)
    ├── SharedStateError      the run store's shared state cannot be used with the site's key
    │                         (``shared_state.key`` is not a key, not the one it was sealed
    │                         with, or the state was altered): our side, so a step is
    │                         ``crashed``; the message names the site field, never the key
    └── UsageError            raised to the command line, never by a step
        ├── BadInput          a bad argument or spec, nothing to resume (exit code 2)
        ├── GateRefused       an approval that the gate's rule forbids (exit code 2)
        ├── NotAuthenticated  who approves could not be established: an OS login or SSH key
        │                     the site does not know, a signature that does not verify (exit 2)
        └── RunLocked         another run holds the delivery's lock (exit code 4)

    * defined where it is raised: ``StillCommitting`` in ``orchestrator.phases.reservations``,
      ``TenantNameTaken`` and ``UnrecordedServer`` in ``orchestrator.phases.netbox_steps``; every
      other class is here.

Outside this tree on purpose: ``RunInterrupted`` (``orchestrator.engine.interrupts``) is a
``BaseException``, so that step code catching ``Exception`` does not swallow a stop signal;
``SpecError`` (``orchestrator.spec``) lists a spec's problems and becomes ``BadInput`` when a
delivery is loaded.

Any other exception from a step is a bug on our side: the step is ``crashed``. Adapters raise
these classes only (vendor errors are translated at the edge); the ports in
``orchestrator.engine.ports`` say which ones each call may raise.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from orchestrator.store.records import LockRecord


class OrchestratorError(Exception):
    """Base of every error the orchestrator raises on purpose."""


class TransientError(OrchestratorError):
    """A failure that may go away if the same request is made again."""


class Unreachable(TransientError):
    """The target could not be reached."""


class TimedOut(TransientError):
    """The target did not answer in time."""


class ServerError(TransientError):
    """The target failed on its side (HTTP 5xx)."""


class Throttled(TransientError):
    """The target asked us to slow down (HTTP 429)."""


class PermanentError(OrchestratorError):
    """The target said no; asking again will not change its mind."""


class Refused(PermanentError):
    """The target rejected the request."""


class KeyTaken(Refused):
    """NetBox refused a create because an object with one of the keys exists already."""


class HostKeyChanged(Refused):
    """The host shows a different SSH host key than the one pinned for its address or, with
    ``expected``, than the one it must show (its machine provider's; for an existing server, the
    one NetBox records).

    ``pinned`` and ``shown`` are the two keys' fingerprints
    (``orchestrator.engine.ports.reachability.fingerprint``), as the message names them.
    """

    def __init__(
        self, name: str, address: str, pinned: str, shown: str, *, expected: bool = False
    ) -> None:
        what, advice = ("expected", _EXPECTED_ADVICE) if expected else ("pinned", _PINNED_ADVICE)
        super().__init__(
            f"host key of {name} ({address}) changed: {what} {pinned}, shown {shown}; {advice}"
        )
        self.name, self.address, self.expected = name, address, expected


class JumpHostKeyMismatch(Refused):
    """A jump host shows another SSH host key than the site file names for it; we hung up before
    logging in. ``expected`` and ``shown`` are fingerprints, as the message names them."""

    def __init__(self, host: str, port: int, expected: str, shown: str) -> None:
        super().__init__(
            f"jump host {host}:{port} shows host key {shown}, not {expected} as the site names: "
            "nothing was sent to it; check the bastion, then ssh.jump_hosts in the site file"
        )
        self.host, self.port = host, port


_PINNED_ADVICE = (
    "if the machine was rebuilt on purpose, remove its line from the delivery's known_hosts and "
    "run again"
)
_EXPECTED_ADVICE = (
    "the expected key is the one its machine provider reported (for an existing server, the one "
    "NetBox records): check the host out of band before anything else, and correct the record "
    "only with a key read on the host itself"
)


class HostKeyUnrecorded(Refused):
    """An existing server has no SSH host key recorded in NetBox (the custom field ``field`` of
    its ``record``): it is refused, its key never trusted on first use."""

    def __init__(self, name: str, record: str, field: str) -> None:
        super().__init__(
            f"{name} is an existing server and {record} records no SSH host key (custom field "
            f"{field}); an existing server's key is never trusted on first use. Read the key on "
            "the server itself (its console, or a session you already trust): `cat "
            "/etc/ssh/ssh_host_ed25519_key.pub`, compare its fingerprint (`ssh-keygen -lf` of "
            f"that file) out of band, record that line in {field} of {record}, and run again"
        )
        self.name, self.record = name, record


class Exhausted(PermanentError):
    """A pool of resources has nothing left to allocate."""


class NotImplementedYet(PermanentError):
    """A step that exists in the plan but has no implementation yet."""

    def __init__(self, step: str) -> None:
        super().__init__("not implemented")
        self.step = step


class SharedStateError(OrchestratorError):
    """The shared state (``DeliveryVault``) cannot be opened with the key the site names."""


class UsageError(OrchestratorError):
    """A command that cannot be carried out as asked."""


class BadInput(UsageError):
    """An argument or a spec that cannot be used."""


class GateRefused(UsageError):
    """An approval that the gate's rule does not allow."""


class NotAuthenticated(UsageError):
    """Who is at the keyboard could not be established from anything that authenticated them."""


class RunLocked(UsageError):
    """Another run holds the lock of the delivery."""

    def __init__(self, lock: LockRecord) -> None:
        super().__init__(
            f"delivery {lock.delivery_id} is locked by {lock.holder} on {lock.host} "
            f"(pid {lock.pid}, run {lock.run_id}) since {lock.since:%Y-%m-%d %H:%M:%S} UTC"
        )
        self.lock = lock
