#!/usr/bin/env bash
# The demo: a delivery of examples/full.yaml (load balancer, 2 web hosts, 1 database) against the
# lab, through all seven phases: network, machines, software, buddycheck, handover, migration from
# the lab's migration source host, go-live with application monitoring, evaluation and ops
# acceptance. The lab is one site: `lab up` writes its site file, and the run goes through it like
# through any other. Safe to run again: finished steps are skipped.
set -euo pipefail
cd "$(dirname "$0")/.."
orc=.venv/bin/orchestrator
spec=${SPEC:-examples/full.yaml}
through=${THROUGH_PHASE:-7}
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "lab: NetBox, package mirror, bridge (lab up is idempotent)"
$orc lab up
export ORCHESTRATOR_SITE=${ORCHESTRATOR_SITE:-.lab/site.yaml}

step "spec: validate $spec"
$orc validate "$spec"
delivery=$(.venv/bin/python -c 'import sys; from pathlib import Path; from orchestrator.spec import load_spec; print(load_spec(Path(sys.argv[1])).id)' "$spec")

# The gates a person decides, answered here as the process says, each person authenticated by
# the SSH key the lab's site lists for them (never a typed name; root, which runs this script,
# is the lab's CI account and approves nothing): the delivery manager (sanne) confirms the
# signed documents and, as the full example orders a server, that the hardware arrived.
people=.lab/people
approve() {
  local gate=$1 login=$2 comment=$3
  step "gate $gate: approved by $login, signing with $people/$login"
  $orc approve "$delivery" "$gate" --sign-with "$people/$login" --comment "$comment"
}
waiting_gate() {
  $orc status "$delivery" --json | .venv/bin/python -c '
import json, sys
status = json.load(sys.stdin)
reason = (status.get("latest_run") or {}).get("reason") or ""
print(reason.split()[1] if reason.startswith("gate ") else "")'
}

step "run phases 1..$through of $delivery"
rc=0; $orc run "$spec" --through-phase "$through" || rc=$?
for _ in $(seq 1 16); do
  [ "$rc" -eq 3 ] || break
  case "$(waiting_gate)" in
    preconditions) approve preconditions sanne "quote and data processing agreement signed (demo)" ;;
    hardware_delivered) approve hardware_delivered sanne "ordered server delivered to the rack (demo)" ;;
    buddycheck)  # a second engineer, never the lead engineer (joris), signs off the checks
      $orc actions list "$delivery"
      approve buddycheck noor "every check passed; results reviewed (demo)" ;;
    customer_confirmation) approve customer_confirmation sanne "customer confirmed the handover (demo)" ;;
    write_freeze)  # the lead engineer declares the freeze on the old hosting before the final sync
      approve write_freeze joris "old shop frozen for the final sync, DNS TTL lowered (demo)" ;;
    go_live) approve go_live sanne "go-live checks green, DNS switch agreed (demo)" ;;
    evaluation)  # the lead engineer records what went well and what could be better
      step "evaluation: recorded by joris, signing with $people/joris"
      $orc evaluate "$delivery" --file examples/evaluation.yaml --sign-with "$people/joris" ;;
    ops_acceptance) approve ops_acceptance ops "final report read, alert routes checked (demo)" ;;
    *) break ;;
  esac
  step "resume"
  rc=0; $orc resume "$spec" || rc=$?
done
[ "$rc" -eq 0 ] || exit "$rc"

step "status of $delivery"
$orc status "$delivery"
step "the same run again: every step is skipped"
$orc run "$spec" --through-phase "$through"
