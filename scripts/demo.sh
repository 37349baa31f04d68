#!/usr/bin/env bash
# The demo: a delivery of examples/full.yaml (load balancer, 2 web hosts, 1 database) against the
# lab, through the phases implemented so far. Safe to run again: finished steps are skipped.
set -euo pipefail
cd "$(dirname "$0")/.."
orc=.venv/bin/orchestrator
spec=${SPEC:-examples/full.yaml}
through=${THROUGH_PHASE:-3}
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "lab: NetBox, package mirror, bridge (lab up is idempotent)"
$orc lab up

step "spec: validate $spec"
$orc validate "$spec"
delivery=$(.venv/bin/python -c 'import sys; from orchestrator.spec import load_spec; print(load_spec(sys.argv[1]).id)' "$spec")
manager=$(.venv/bin/python -c 'import sys; from orchestrator.spec import load_spec; print(load_spec(sys.argv[1]).delivery_manager.name)' "$spec")

step "run phases 1..$through"
rc=0; $orc run "$spec" --through-phase "$through" || rc=$?
if [ "$rc" -eq 3 ]; then
  step "gate: the delivery manager confirms the signed quote and data processing agreement"
  $orc approve "$delivery" preconditions --by "$manager" --comment "quote and DPA signed (demo)"
  step "resume"
  $orc resume "$spec"
elif [ "$rc" -ne 0 ]; then
  exit "$rc"
fi

step "status of $delivery"
$orc status "$delivery"
step "the same run again: every step is skipped"
$orc run "$spec" --through-phase "$through"
