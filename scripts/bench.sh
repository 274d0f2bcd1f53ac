#!/usr/bin/env bash
# Run the benchmarks in bench/ against the local engine; figures go to bench/results/ and the
# tables in docs/performance.md are written from them by hand.
source "$(dirname "$0")/lib.sh"
"$ROOT/scripts/setup.sh"
load_docker_host
"$ROOT/scripts/sync-collection.sh"
mkdir -p "$ROOT/bench/results"
cd "$ROOT" || exit 1
PYTHONPATH="$COLLECTIONS_ROOT" python bench/alias_allocation.py --json bench/results/alias_allocation.json "$@"
