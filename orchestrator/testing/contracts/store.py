"""The store contract: every ``RunStore`` passes these, ``InMemoryRunStore`` and ``SqlRunStore``
on SQLite (tests/unit/test_store_contract.py) and on PostgreSQL
(tests/integration/test_store_postgres.py): each subclasses ``StoreContract`` with a ``store``
fixture."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from orchestrator.engine.status import Mode, Status
from orchestrator.store import (
    ActionItem,
    AuditEntry,
    CheckIn,
    DeliveryRecord,
    EvaluationNote,
    GateDecision,
    HostRecord,
    JsonMap,
    LockRecord,
    NotificationRecord,
    PhaseRecord,
    RunRecord,
    RunStore,
    StepRecord,
    TaskRecord,
    UnknownParent,
)

T0 = datetime(2025, 1, 10, 9, 0, tzinfo=UTC)


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


def delivery(delivery_id: str = "acme-webshop", spec_hash: str = "h1") -> DeliveryRecord:
    spec: JsonMap = {"delivery": {"id": delivery_id}, "hosts": [{"name": "web-01"}]}
    return DeliveryRecord(
        delivery_id, spec_hash, spec, "Alice", "Dana", T0, "alice@example.com", "dana@example.com"
    )


def run(
    run_id: str,
    minutes: int = 0,
    *,
    delivery_id: str = "acme-webshop",
    mode: Mode = Mode.APPLY,
) -> RunRecord:
    return RunRecord(
        id=run_id,
        delivery_id=delivery_id,
        mode=mode,
        status=Status.RUNNING,
        who="alice",
        host="laptop",
        command="orchestrator run acme.yaml",
        version="0.1.0",
        spec_hash="h1",
        from_phase=1,
        through_phase=7,
        started_at=at(minutes),
        pid=4242,
    )


def step(run_id: str, key: str, status: Status = Status.SUCCEEDED, **kw: Any) -> StepRecord:
    return StepRecord(run_id, 1, key, status, "i1", T0, **kw)


def host(run_id: str, name: str, status: Status = Status.SUCCEEDED, **kw: Any) -> HostRecord:
    return HostRecord(run_id, "base.updates", name, status, "i1", T0, at(1), **kw)


def lock(run_id: str = "r1", pid: int = 100) -> LockRecord:
    return LockRecord("acme-webshop", run_id, "alice", "laptop", pid, T0)


def with_runs(store: RunStore, *runs: RunRecord) -> RunStore:
    store.save_delivery(delivery())
    store.save_delivery(delivery("other"))
    for record in runs:
        store.save_run(record)
    return store


class StoreContract:
    """Behaviour every ``RunStore`` has; subclasses provide the ``store`` fixture."""

    def test_a_delivery_reads_back_as_saved_and_a_save_replaces_it(self, store: RunStore) -> None:
        store.save_delivery(delivery())
        store.save_delivery(delivery(spec_hash="h2"))
        assert store.get_delivery("acme-webshop") == delivery(spec_hash="h2")
        assert store.get_delivery("nobody") is None

    def test_deliveries_list_most_recently_run_first(self, store: RunStore) -> None:
        assert store.list_deliveries() == []
        older = delivery("older")
        newer = replace(delivery("newer"), updated_at=at(5))
        store.save_delivery(older)
        store.save_delivery(newer)
        assert store.list_deliveries() == [newer, older]

    def test_a_run_reads_back_and_its_outcome_is_updated(self, store: RunStore) -> None:
        with_runs(store, run("r1"))
        finished = replace(run("r1"), status=Status.FAILED, finished_at=at(3), reason="no")
        store.save_run(finished)
        assert store.get_run("r1") == finished
        assert store.get_run("r9") is None

    def test_runs_list_newest_first_per_delivery(self, store: RunStore) -> None:
        with_runs(store, run("r1", 0), run("r2", 5), run("r3", 9, delivery_id="other"))
        assert [r.id for r in store.list_runs()] == ["r3", "r2", "r1"]
        assert [r.id for r in store.list_runs("acme-webshop")] == ["r2", "r1"]
        assert [r.id for r in store.list_runs(limit=1)] == ["r3"]

    def test_phases_are_saved_per_run_and_listed_in_order(self, store: RunStore) -> None:
        with_runs(store, run("r1"))
        store.save_phase(PhaseRecord("r1", 2, "base", Status.RUNNING, T0))
        store.save_phase(PhaseRecord("r1", 1, "network", Status.SUCCEEDED, T0, at(1)))
        store.save_phase(PhaseRecord("r1", 2, "base", Status.FAILED, T0, at(2)))
        assert store.list_phases("r1") == [
            PhaseRecord("r1", 1, "network", Status.SUCCEEDED, T0, at(1)),
            PhaseRecord("r1", 2, "base", Status.FAILED, T0, at(2)),
        ]

    def test_steps_keep_their_order_and_their_outputs_as_json(self, store: RunStore) -> None:
        with_runs(store, run("r1"))
        store.save_step(step("r1", "network.vlan", Status.RUNNING))
        store.save_step(step("r1", "network.ips"))
        outputs = {"vlan": {"vid": 120}, "ips": ("10.0.0.2", "10.0.0.3")}
        store.save_step(step("r1", "network.vlan", outputs=outputs, finished_at=at(1)))
        steps = store.list_steps("r1")
        assert [s.key for s in steps] == ["network.vlan", "network.ips"]
        assert steps[0].outputs == {"vlan": {"vid": 120}, "ips": ["10.0.0.2", "10.0.0.3"]}
        assert steps[0].status is Status.SUCCEEDED
        assert steps[0].finished_at == at(1)

    def test_latest_step_is_the_last_applied_one_of_the_delivery(self, store: RunStore) -> None:
        with_runs(store, run("r1", 0), run("r2", 1), run("p3", 2, mode=Mode.PLAN))
        store.save_run(run("o4", 3, delivery_id="other"))
        store.save_step(step("r1", "network.vlan", error="first"))
        store.save_step(step("r2", "network.vlan", Status.FAILED, error="second"))
        store.save_step(step("p3", "network.vlan", Status.PENDING))
        store.save_step(step("o4", "network.vlan"))
        latest = store.latest_step("acme-webshop", "network.vlan")
        assert latest is not None
        assert (latest.run_id, latest.error) == ("r2", "second")
        assert store.latest_step("acme-webshop", "network.ips") is None

    def test_hosts_carry_their_tasks_and_a_save_replaces_them(self, store: RunStore) -> None:
        with_runs(store, run("r1"))
        tasks = (TaskRecord("apt upgrade", Status.SUCCEEDED, changed=True),)
        store.save_host(host("r1", "web-02", Status.FAILED, tasks=tasks, error="unreachable"))
        store.save_host(host("r1", "web-01", changed=True, outputs={"kernel": "6.1"}))
        again = (TaskRecord("apt upgrade", Status.SUCCEEDED), TaskRecord("reboot", Status.FAILED))
        store.save_host(host("r1", "web-02", Status.SUCCEEDED, tasks=again))
        hosts = store.list_hosts("r1")
        assert [(h.host, h.status) for h in hosts] == [
            ("web-02", Status.SUCCEEDED),
            ("web-01", Status.SUCCEEDED),
        ]
        assert hosts[0].tasks == again
        assert hosts[0].error is None
        assert hosts[1] == host("r1", "web-01", changed=True, outputs={"kernel": "6.1"})
        assert store.list_hosts("r1", "other.step") == []

    def test_a_task_keeps_how_long_it_took(self, store: RunStore) -> None:
        with_runs(store, run("r1"))
        tasks = (
            TaskRecord("apt upgrade", Status.SUCCEEDED, changed=True, duration=12.345678),
            TaskRecord("reboot", Status.SKIPPED, duration=0.0),
            TaskRecord("facts", Status.SUCCEEDED),
        )
        store.save_host(host("r1", "web-01", tasks=tasks))
        assert [t.duration for t in store.list_hosts("r1")[0].tasks] == [12.345678, 0.0, None]

    def test_gate_decisions_are_kept_per_delivery(self, store: RunStore) -> None:
        with_runs(store)
        first = GateDecision("acme-webshop", "buddycheck", "Bob", "engineer", "all good", T0)
        store.record_decision(first)
        store.record_decision(GateDecision("other", "go_live", "Dana", "dm", "", at(1)))
        assert store.list_decisions("acme-webshop") == [first]

    def test_a_decision_keeps_its_evidence_and_how_the_approver_was_authenticated(
        self, store: RunStore
    ) -> None:
        with_runs(store)
        signed = GateDecision(
            "acme-webshop", "buddycheck", "Bob", "engineer", "ok", T0,
            evidence="ab" * 32, method="ssh-signature", proof="-----BEGIN SSH SIGNATURE-----",
        )  # fmt: skip
        store.record_decision(signed)
        assert store.list_decisions("acme-webshop") == [signed]

    def test_action_items_open_and_close_once(self, store: RunStore) -> None:
        with_runs(store)
        item = store.open_action_item(ActionItem("acme-webshop", "backup untested", "Bob", T0))
        other = store.open_action_item(ActionItem("acme-webshop", "no swap", "Bob", T0))
        assert item.id is not None
        assert other.id != item.id
        closed = store.close_action_item(item.id, "Alice", "restored a backup")
        again = store.close_action_item(item.id, "Eve", "again")
        assert (closed.closed_by, closed.resolution) == ("Alice", "restored a backup")
        assert not closed.open
        assert again == closed
        assert [i.open for i in store.list_action_items("acme-webshop")] == [False, True]
        with pytest.raises(KeyError):
            store.close_action_item(9999, "Alice", "")

    def test_an_action_item_names_the_check_host_expected_and_found(self, store: RunStore) -> None:
        with_runs(store)
        item = ActionItem(
            "acme-webshop", "web-01: service nginx", "buddycheck", T0, "buddycheck.verify",
            host="web-01", check="service nginx", expected="running and enabled",
            found="inactive, enabled",
        )  # fmt: skip
        opened = store.open_action_item(item)
        assert store.list_action_items("acme-webshop") == [opened]
        assert (opened.host, opened.check, opened.found) == (
            "web-01",
            "service nginx",
            "inactive, enabled",
        )

    def test_evaluation_notes_are_kept_per_delivery(self, store: RunStore) -> None:
        with_runs(store)
        note = EvaluationNote("acme-webshop", "went_well", "fast handover", "Dana", T0)
        store.add_evaluation_note(note)
        assert store.list_evaluation_notes("acme-webshop") == [note]
        assert store.list_evaluation_notes("other") == []

    def test_checkins_are_kept_per_delivery_in_order(self, store: RunStore) -> None:
        with_runs(store)
        first = CheckIn("acme-webshop", "migration_done", "Alice", "copying images", T0, "login")
        second = CheckIn("acme-webshop", "migration_done", "Alice", "nearly done", at(90))
        store.add_checkin(first)
        store.add_checkin(second)
        assert store.list_checkins("acme-webshop") == [first, second]
        assert store.list_checkins("other") == []

    def test_a_record_naming_an_unknown_delivery_or_run_is_refused_and_not_kept(
        self, store: RunStore
    ) -> None:
        with_runs(store, run("r1"))
        nobody = "nobody"
        notice = NotificationRecord(
            nobody, "r1", "waiting", "email", "dana@example.com", "k" * 64, "sent", 1, "s", "b", T0
        )
        writes: dict[str, Callable[[], object]] = {
            "run": lambda: store.save_run(run("r9", delivery_id=nobody)),
            "phase": lambda: store.save_phase(PhaseRecord("r9", 1, "network", Status.RUNNING, T0)),
            "step": lambda: store.save_step(step("r9", "network.vlan")),
            "host": lambda: store.save_host(host("r9", "web-01")),
            "log lines": lambda: store.append_log_lines("r9", ['{"event": "x"}']),
            "decision": lambda: store.record_decision(
                GateDecision(nobody, "buddycheck", "Bob", "engineer", "ok", T0)
            ),
            "action item": lambda: store.open_action_item(ActionItem(nobody, "x", "Bob", T0)),
            "note": lambda: store.add_evaluation_note(
                EvaluationNote(nobody, "went_well", "x", "Dana", T0)
            ),
            "check-in": lambda: store.add_checkin(
                CheckIn(nobody, "migration_done", "Alice", "x", T0)
            ),
            "notification": lambda: store.add_notification(notice),
        }
        for write in writes.values():
            with pytest.raises(UnknownParent, match="does not hold"):
                write()
        assert store.get_run("r9") is None
        assert [r.id for r in store.list_runs()] == ["r1"]
        kept: list[list[Any]] = [
            store.list_phases("r9"), store.list_steps("r9"), store.list_hosts("r9"),
            store.read_log_lines("r9"), store.list_decisions(nobody),
            store.list_action_items(nobody), store.list_evaluation_notes(nobody),
            store.list_checkins(nobody), store.list_notifications(nobody),
        ]  # fmt: skip
        assert kept == [[]] * len(kept)
        store.save_phase(PhaseRecord("r1", 1, "network", Status.RUNNING, T0))  # the store goes on
        assert [p.number for p in store.list_phases("r1")] == [1]

    def test_notifications_are_kept_per_delivery_in_order_with_ids(self, store: RunStore) -> None:
        with_runs(store)
        sent = NotificationRecord(
            "acme-webshop", "r1", "waiting", "email", "dana@example.com", "k" * 64, "sent", 1,
            "acme-webshop waits at gate preconditions", "orchestrator approve ...", T0,
            gate="preconditions",
        )  # fmt: skip
        failed = replace(sent, channel="webhook", recipient="https://hooks.example.net/x",
                         status="failed", attempts=3, error="no answer", at=at(1))  # fmt: skip
        first, second = store.add_notification(sent), store.add_notification(failed)
        assert first.id is not None
        assert second.id is not None
        assert second.id > first.id
        assert store.list_notifications("acme-webshop") == [first, second]
        assert store.list_notifications("other") == []
        assert replace(second, id=None) == failed

    def test_the_audit_log_appends_with_increasing_ids(self, store: RunStore) -> None:
        first = store.append_audit(AuditEntry(T0, "alice", "run_started", "acme-webshop", "r1"))
        entry = AuditEntry(at(1), "bob", "lock_broken", "other", None, {"x": 1})
        second = store.append_audit(entry)
        assert first.id is not None
        assert second.id is not None
        assert second.id > first.id
        assert store.list_audit() == [first, second]
        assert store.list_audit("other") == [second]

    def test_log_lines_append_per_run_in_order(self, store: RunStore) -> None:
        with_runs(store, run("r1"), run("r2"))
        store.append_log_lines("r1", ['{"event": "a"}', '{"event": "b"}'])
        store.append_log_lines("r2", ['{"event": "x"}'])
        store.append_log_lines("r1", ['{"event": "c"}'])
        store.append_log_lines("r1", [])
        assert store.read_log_lines("r1") == ['{"event": "a"}', '{"event": "b"}', '{"event": "c"}']
        assert store.read_log_lines("r9") == []

    def test_a_lock_has_one_holder(self, store: RunStore) -> None:
        assert store.acquire_lock(lock("r1")) is None
        assert store.acquire_lock(lock("r2", pid=200)) == lock("r1")
        assert store.get_lock("acme-webshop") == lock("r1")
        assert store.get_lock("other") is None

    def test_only_the_holding_run_releases_a_lock(self, store: RunStore) -> None:
        store.acquire_lock(lock("r1"))
        assert not store.release_lock("acme-webshop", "r2")
        assert store.release_lock("acme-webshop", "r1")
        assert not store.release_lock("acme-webshop", "r1")
        assert store.acquire_lock(lock("r2")) is None

    def test_breaking_a_lock_removes_exactly_the_lock_seen(self, store: RunStore) -> None:
        store.acquire_lock(lock("r1"))
        assert not store.break_lock(lock("r1", pid=999))
        assert store.break_lock(lock("r1"))
        assert store.get_lock("acme-webshop") is None
        assert not store.break_lock(lock("r1"))

    def test_shared_state_keeps_the_first_value_claimed(self, store: RunStore) -> None:
        assert store.claim_state("acme-webshop", "secret", "db_password", "sealed-1") == "sealed-1"
        assert store.claim_state("acme-webshop", "secret", "db_password", "sealed-2") == "sealed-1"
        assert store.claim_state("acme-webshop", "pin", "db_password", "a pin") == "a pin"
        assert store.claim_state("other", "secret", "db_password", "theirs") == "theirs"
        assert store.list_state("acme-webshop", "secret") == {"db_password": "sealed-1"}
        assert store.list_state("acme-webshop", "pin") == {"db_password": "a pin"}
        assert store.list_state("nobody", "pin") == {}

    def test_shared_state_is_listed_by_name(self, store: RunStore) -> None:
        for address in ("10.0.0.3", "10.0.0.1", "10.0.0.2"):
            store.claim_state("acme-webshop", "pin", address, f"key of {address}")
        assert list(store.list_state("acme-webshop", "pin")) == ["10.0.0.1", "10.0.0.2", "10.0.0.3"]

    def test_forgetting_shared_state_removes_only_that_deliverys(self, store: RunStore) -> None:
        store.claim_state("acme-webshop", "secret", "db_password", "s1")
        store.claim_state("acme-webshop", "pin", "10.0.0.1", "k1")
        store.claim_state("other", "secret", "db_password", "s2")
        assert store.forget_state("acme-webshop") == 2
        assert store.forget_state("acme-webshop") == 0
        assert store.list_state("acme-webshop", "secret") == {}
        assert store.list_state("other", "secret") == {"db_password": "s2"}
        assert store.claim_state("acme-webshop", "secret", "db_password", "s3") == "s3"

    def test_times_come_back_as_the_same_instant(self, store: RunStore) -> None:
        amsterdam = timezone(timedelta(hours=1))
        store.save_delivery(DeliveryRecord("d", "h", {}, "A", "D", T0.astimezone(amsterdam)))
        saved = store.get_delivery("d")
        assert saved is not None
        assert saved.updated_at == T0
        assert saved.updated_at.tzinfo is not None
