#!/bin/sh
# Long soak of the executor's property tests: random plans, verdicts,
# target faults (lost Apply replies, failed Observes), journal failures,
# control calls and interrupts, checked against the invariants in
# ARCHITECTURE.md. One command:
#
#   ./scripts/soak-executor.sh            # 1,000,000 cases each
#   CHECKS=50000 ./scripts/soak-executor.sh
#
# A failure prints the schedule and leaves a rapid failure file under
# strategy/testdata/rapid/ to replay it (see the test output).
set -eu
cd "$(dirname "$0")/.."
CHECKS=${CHECKS:-1000000}
exec go test -count=1 -timeout 0 -run 'TestPropertyInvariants|TestDecideProperties' ./strategy/ -args -rapid.checks="$CHECKS"
