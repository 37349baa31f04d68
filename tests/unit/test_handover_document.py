"""The handover documents as text: facts in, Markdown and HTML out (no I/O but the templates)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import jinja2
import pytest

from orchestrator.engine.errors import Refused
from orchestrator.engine.ports.reachability import fingerprint
from orchestrator.phases.handover_document import (
    AccessFacts,
    code,
    md,
    render,
    render_access,
    render_handover,
    to_html,
)
from orchestrator.phases.handover_facts import (
    ContactLine,
    HandoverFacts,
    handover_facts,
    items_of,
    user_access,
)
from orchestrator.store.records import ActionItem
from orchestrator.testing import T0, InMemoryIpam
from tests.unit import handover_support as support

SPEC = support.full_spec()


@pytest.fixture(scope="module")
def outputs() -> dict[str, dict[str, object]]:
    return support.standin_outputs(SPEC, support.phase1(InMemoryIpam(), SPEC))  # type: ignore[return-value]


def facts_of(outputs: object, **settings: object) -> HandoverFacts:
    ctx = support.context(SPEC, outputs)  # type: ignore[arg-type]
    found = handover_facts(ctx, support.settings(**settings), support.action_items(SPEC.id))
    return found.stamped("run-20250602-1", support.TODAY)


def host_rows(markdown: str) -> dict[str, list[str]]:
    """The cells of the hosts table (section 3), by host."""
    table = markdown.split("## 3. Hosts", 1)[1].split("SSH host keys", 1)[0]
    rows = [[cell.strip() for cell in line.strip("|").split("|")]
            for line in table.splitlines() if line.startswith("| `")]  # fmt: skip
    return {row[0].strip("`"): row for row in rows}


def test_every_host_has_its_line_with_address_vlan_prefix_vip_os(outputs: object) -> None:
    facts = facts_of(outputs)
    markdown = render_handover(facts)
    rows = host_rows(markdown)
    assert set(rows) == {"web-01", "web-02", "db-01"}
    for host in facts.hosts:
        assert rows[host.name] == [
            f"`{host.name}`", host.role, f"`{host.address}`", facts.platform.vlan,
            "`10.213.128.0/28`", "`10.213.128.5`", "Debian GNU/Linux 12 (bookworm)", host.record,
        ]  # fmt: skip
    assert [h.address for h in facts.hosts] == ["10.213.128.2", "10.213.128.3", "10.213.128.4"]


def test_host_keys_appear_as_sha256_fingerprints_never_as_keys(outputs: object) -> None:
    markdown = render_handover(facts_of(outputs))
    for host in SPEC.expanded_hosts():
        key = support.host_key(host.name)
        assert f"| `{host.name}` | `{fingerprint(key)}` |" in markdown
        assert key.split()[1] not in markdown


def test_access_shows_users_logins_sudo_and_key_fingerprints(outputs: object) -> None:
    markdown = render_handover(facts_of(outputs))
    joris = SPEC.access.users[0]
    assert f"| `joris` | Joris Bakker | yes | all roles | `{fingerprint(joris.ssh_keys[0])}` |" in (
        markdown
    )
    assert "| `femke` | Femke Visser | no | web |" in markdown
    assert "`ssh -J bastion.ams1.example.net femke@10.213.128.2`" in markdown
    assert "femke@10.213.128.4" not in markdown  # the db host is not hers
    assert "`ssh -J bastion.ams1.example.net deploy@HOST`" in markdown
    assert all(str(key).split()[1] not in markdown for u in SPEC.access.users for key in u.ssh_keys)


def test_the_document_is_stamped_and_says_what_is_open(outputs: object) -> None:
    markdown = render_handover(facts_of(outputs))
    assert "| Run | `run-20250602-1` |" in markdown
    assert f"| Buddycheck evidence | `{support.EVIDENCE}` |" in markdown
    assert "9 of 10 checks passed" in markdown
    assert "| `web-02` | sysctl net.core.somaxconn | 4096 | 128 |" in markdown
    assert "| #1 | web-01: service nginx expected running, found inactive |" in markdown
    risks = markdown.split("## 10. Open risks", 1)[1]
    assert "1 x Dell PowerEdge R660 for role db" in risks
    assert "monitoring check shop-checkout alerts only from go-live" in risks
    assert "go-live check dns-switched (manual)" in risks
    assert "1 buddycheck checks fail at handover" in risks


def test_backups_give_schedule_target_repository_and_the_last_restore(outputs: object) -> None:
    markdown = render_handover(facts_of(outputs))
    assert "| db | `30 2 * * *` | 30 days and 30 snapshots |" in markdown
    assert (
        "| `web-01` | `sftp:restic@backup.ams1.example.net:/srv/restic/acme-webshop/web-01` |"
        in (markdown)
    )
    assert "- `db-01`: restored (backup restore: snapshot 4f2a9c1e of 2025-05-28" in markdown
    assert "env:RESTIC\\_PASSWORD" in markdown  # where the password is kept, not the password


def test_a_missing_restore_is_an_open_risk(outputs: object) -> None:
    broken = dict(outputs)  # type: ignore[call-overload]
    hosts = {h: {"checks": [c for c in v["checks"] if c["kind"] != "backup_restore"]}
             for h, v in broken["buddycheck.verify"]["hosts"].items()}  # fmt: skip
    broken["buddycheck.verify"] = {"hosts": hosts}
    markdown = render_handover(facts_of(broken))
    assert "- none recorded by the buddycheck" in markdown
    assert "no verified restore of db-01's backup" in markdown


def test_no_secret_of_the_delivery_is_in_the_markdown_or_the_html(
    outputs: object, tmp_path: Path
) -> None:
    adapters = support.adapters(tmp_path)
    for name in ("db_password", "restic_password"):  # where a careless document would look
        adapters.workspace.keep_secret(SPEC.id, name, support.SECRETS[name])
    facts = facts_of(outputs)
    markdown = render_handover(facts)
    html = to_html(markdown, "Handover", "footer")
    ctx = support.context(SPEC, outputs)  # type: ignore[arg-type]
    access = [render_access(_access(facts, user)) for user in user_access(ctx, support.settings())]
    for text in (markdown, html, *access):
        for value in support.SECRETS.values():
            assert value not in text


def _access(facts: HandoverFacts, user: object) -> AccessFacts:
    lead = ContactLine("lead engineer", "Joris", "j@example.com")
    return AccessFacts(
        facts.delivery, facts.title, facts.customer, user,  # type: ignore[arg-type]
        facts.hosts, lead, "run-1", "2025-06-02",
    )  # fmt: skip


def test_a_missing_fact_is_an_error_not_an_empty_line(outputs: object) -> None:
    facts = facts_of(outputs)
    with pytest.raises(jinja2.UndefinedError):
        render("handover.md.j2", facts={"title": facts.title})
    with pytest.raises(jinja2.UndefinedError):
        render("handover.md.j2")


def test_text_from_the_spec_cannot_make_markdown() -> None:
    assert md("![x](http://example.net/a.png) | *b* <i>") == (
        "!\\[x\\](http://example.net/a.png) \\| \\*b\\* \\<i\\>"
    )
    assert code("a|b") == "`a\\|b`"
    assert code("a`b") == "`` a`b ``"


def test_the_html_has_no_image_no_raw_html_and_a_print_stylesheet(outputs: object) -> None:
    facts = facts_of(outputs)
    hostile = dataclasses.replace(
        facts, customer='<img src="http://example.net/x.png"> ![y](z.png)'
    )
    html = to_html(render_handover(hostile), "Handover", 'say "hi" </style>')
    assert "<img" not in html
    assert "@page" in html
    assert 'content: "say  hi   /style "' in html
    assert "<table>" in html
    assert html.count("<h2>") == 10


def test_the_facts_need_phase_4(outputs: object) -> None:
    early = {k: v for k, v in outputs.items() if not k.startswith("buddycheck.")}  # type: ignore[attr-defined]
    with pytest.raises(Refused, match="run phase 4"):
        facts_of(early)
    no_evidence = {**early, "buddycheck.verify": outputs["buddycheck.verify"]}  # type: ignore[index]
    with pytest.raises(Refused, match="evidence"):
        facts_of(no_evidence)


def test_one_access_document_per_user_lists_only_their_hosts(outputs: object) -> None:
    ctx = support.context(SPEC, outputs)  # type: ignore[arg-type]
    facts = facts_of(outputs)
    femke = next(u for u in user_access(ctx, support.settings()) if u.name == "femke")
    reached = tuple(h for h in facts.hosts if h.role == "web")
    text = render_access(dataclasses.replace(_access(facts, femke), hosts=reached))
    assert "# Access details: Femke Visser (`femke`)" in text
    assert "You have no `sudo`." in text
    assert (
        "| `web-02` | `10.213.128.3` | `ssh -J bastion.ams1.example.net femke@10.213.128.3` |"
        in (text)
    )
    assert "db-01" not in text
    assert all(fingerprint(str(k)) in text for k in SPEC.access.users[1].ssh_keys)


def test_the_document_knows_the_kinds_of_the_buddychecks_backup_checks() -> None:
    """The restore the handover reports is the one ``buddycheck.verify`` makes."""
    from orchestrator.phases.checks import backup_checks  # noqa: PLC0415
    from orchestrator.phases.handover_facts import BACKUP_KINDS, RESTORE_KIND  # noqa: PLC0415
    from orchestrator.spec.loader import load_spec  # noqa: PLC0415

    spec = load_spec(support.FULL)
    role = next(iter(spec.backups))
    kinds = {c.kind for c in backup_checks(spec, "host-01", role) if c.name.startswith("backup")}
    assert kinds == BACKUP_KINDS
    assert RESTORE_KIND in kinds


def test_the_handover_lists_the_buddychecks_items_not_later_phases_findings() -> None:
    found = support.action_items("acme-webshop")
    live = ActionItem("acme-webshop", "vip: go-live shop-home", "buddycheck", T0,
                      "golive.checks", "buddycheck", T0, "check passes again", 2)  # fmt: skip
    items = items_of([*found, live])
    assert [line.title for line in items.closed] == [found[0].title]
    assert items.open == ()
