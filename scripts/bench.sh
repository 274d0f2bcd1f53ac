#!/usr/bin/env bash
# Run the benchmarks in bench/ against the local engine. Each prints Markdown tables (also kept in
# bench/results/<name>.md) and writes every sample to bench/results/<name>.json; the tables in
# docs/performance.md are copied from them by hand, with the load the run saw.
#   bash scripts/bench.sh                           # every benchmark with its default settings
#   bash scripts/bench.sh adhoc_modules --runs 5    # one benchmark, with its own options
# Benchmarks: alias_allocation, adhoc_modules, launch_profile (see the top of each file).
# Each runs inside the network namespace of scripts/netns.sh (as root, Linux), with the engine that
# lives there, so the bottles it launches and any connection to them stay off the machine's network.
source "$(dirname "$0")/lib.sh"
BENCHES=(alias_allocation adhoc_modules launch_profile)

run_bench() {
  local name=$1
  shift
  log "bench $name (load average: $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || uptime))"
  "$ROOT/scripts/netns.sh" run env PYTHONPATH="$COLLECTIONS_ROOT" python "bench/$name.py" --json "bench/results/$name.json" "$@" \
    | tee "bench/results/$name.md"
}

# ansible.posix (launch_profile's profile_tasks callback) from the same pinned `ansible` wheel the
# tests take community.docker from; fetched here, outside the namespace, which has no PyPI.
ensure_bench_deps() {
  local deps="$BUILD/bench-deps" stamp="$BUILD/bench-deps/.from-ansible-$ANSIBLE_BUNDLE_VERSION" tmp
  [ -e "$stamp" ] && return 0
  log "extracting ansible.posix from ansible==$ANSIBLE_BUNDLE_VERSION for the benchmarks"
  tmp=$(mktemp -d)
  "$VENV/bin/pip" download -q --disable-pip-version-check --no-deps --only-binary :all: \
    "ansible==$ANSIBLE_BUNDLE_VERSION" -d "$tmp"
  rm -rf "$deps" && mkdir -p "$deps"
  "$VENV/bin/python" - "$tmp" "$deps" <<'PY'
import glob, os, sys, zipfile
wheel, = glob.glob(os.path.join(sys.argv[1], "ansible-*.whl"))
with zipfile.ZipFile(wheel) as archive:
    archive.extractall(sys.argv[2], [n for n in archive.namelist() if n.startswith("ansible_collections/ansible/posix/")])
PY
  rm -rf "$tmp"
  touch "$stamp"
}

selected=()
if [ $# -gt 0 ]; then
  if [ ! -f "$ROOT/bench/$1.py" ] || [[ $1 == _* ]]; then
    log "no benchmark named '$1'; expected one of: ${BENCHES[*]}"
    exit 2
  fi
  selected=("$1")
  shift
else
  selected=("${BENCHES[@]}")
fi

"$ROOT/scripts/setup.sh"
load_docker_host
reason=$(netns_unusable_reason)
[ -z "$reason" ] || { log "bench: $reason; run it as root"; exit 1; }
"$ROOT/scripts/netns.sh" engine-check
"$ROOT/scripts/sync-collection.sh"
ensure_bench_deps
mkdir -p "$ROOT/bench/results"
cd "$ROOT" || exit 1
for name in "${selected[@]}"; do
  run_bench "$name" "$@"
done
