#!/usr/bin/env bash
# The whole test suite from a fresh clone: set-up, then type check, lint, format check and all tests.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
npm test
