#!/usr/bin/env bash
# The lab demo from a fresh clone: 3 control-plane "nodes", a real API server, the floating IP, a failover.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
exec node dist/lab/cli.js demo "$@"
