#!/usr/bin/env bash
# The whole test run: set-up, then each stage in order, then one summary line.
#   scripts/test.sh                      # every stage
#   scripts/test.sh units integration    # chosen stages
#   scripts/test.sh integration:bottle_alias molecule:default   # one target / scenario
#   scripts/test.sh sanity:plugins/modules/x.py                 # sanity on chosen paths
# Stages: harness sanity conformance installed integration lint build release molecule reliability.
# `installed` runs the unit tests and the plain (not destructive) integration targets from the
# installed tarball, beside the stages after it; `integration` then runs the destructive targets.
# `units` (the unit tests from the checkout) runs when named.
# Opt-in stage, run only when named or when BOTTLE_REAL_SMOLMACHINE is set: real_smolvm (a launch
# booting a real guest; SKIPPED, counted apart, with the reasons when this machine cannot boot one).
# The stages that launch bottles or connect to bottle addresses (integration, molecule, reliability)
# run inside the network namespace of scripts/netns.sh; see in_netns below.
source "$(dirname "$0")/lib.sh"

passed=0
failed=0
skipped=0
failures=()

# A stage's command exits with this when it could not run here (it logs why): SKIPPED, never passed.
SKIP_STATUS=77

# `stage_beside NAME COMMAND...`: start a stage that needs nothing of the next ones and runs beside
# them (its output goes to .build/NAME.log, shown when it fails); `collect_beside` counts it.
beside_pids=()
beside_names=()
stage_beside() {
  local name=$1; shift
  log "$name: runs beside the next stages; output in $BUILD/$name.log"
  (
    start=$SECONDS
    status=0
    "$@" || status=$?
    echo "$((SECONDS - start))" > "$BUILD/$name.seconds"
    exit "$status"
  ) > "$BUILD/$name.log" 2>&1 &
  beside_pids+=("$!")
  beside_names+=("$name")
}

collect_beside() {
  local i
  for i in "${!beside_pids[@]}"; do
    local name=${beside_names[$i]} status=0
    wait "${beside_pids[$i]}" || status=$?
    local took
    took=$(cat "$BUILD/$name.seconds" 2>/dev/null || echo "?")
    if [ "$status" -eq 0 ]; then
      passed=$((passed + 1))
      log "$name: passed ($took s, beside the stages after it)"
    else
      failed=$((failed + 1))
      failures+=("$name")
      tail -n 60 "$BUILD/$name.log" >&2
      log "$name: FAILED ($took s; output: $BUILD/$name.log)"
    fi
  done
}

stage() {  # stage NAME COMMAND... : run, count, keep going
  local name=$1; shift
  if { [ "$1" = in_netns ] || [ "$1" = needs_netns ]; } && ! netns_ready "$name"; then
    return 0
  fi
  log "$name"
  local start=$SECONDS status=0
  "$@" || status=$?
  if [ "$status" -eq 0 ]; then
    passed=$((passed + 1))
    log "$name: passed ($((SECONDS - start)) s)"
  elif [ "$status" -eq "$SKIP_STATUS" ]; then
    skipped=$((skipped + 1))
    log "$name: SKIPPED ($((SECONDS - start)) s)"
  else
    failed=$((failed + 1))
    failures+=("$name")
    log "$name: FAILED ($((SECONDS - start)) s)"
  fi
}

# `stage NAME in_netns FUNCTION ARGS...` runs FUNCTION (one of this file's) in a fresh test.sh
# inside the namespace, so that every process it starts, the addresses it adds to lo, the ports the
# engine publishes and every connection stay there. Only a command run so reaches a bottle address.
in_netns() { "$ROOT/scripts/netns.sh" run bash "$ROOT/scripts/test.sh" __call "$@"; }

# `stage NAME needs_netns COMMAND...`: run COMMAND where test.sh runs, only when the namespace stages can.
needs_netns() { "$@"; }

netns_state=""   # "", ready, or the reason the namespace stages cannot run
netns_refused=false
# Whether a namespace stage may run; counts and logs it as SKIPPED or FAILED when it may not.
netns_ready() {
  if [ -z "$netns_state" ]; then
    netns_state=$(netns_unusable_reason)
    if [ -z "$netns_state" ]; then
      if netns_state=$("$ROOT/scripts/netns.sh" engine-check 2>&1); then
        netns_state=ready
      else
        netns_refused=true
        netns_state=${netns_state#==> }
      fi
    fi
  fi
  [ "$netns_state" = ready ] && return 0
  if $netns_refused; then  # the engine publishes on the machine's own network: never run against it
    failed=$((failed + 1))
    failures+=("$1")
    log "$1: FAILED, refused: $netns_state"
  else
    skipped=$((skipped + 1))
    log "$1: SKIPPED: $netns_state"
  fi
  return 1
}

write_integration_config() {
  mkdir -p "$COLLECTION_DIR/tests/integration"
  cat > "$COLLECTION_DIR/tests/integration/integration_config.yml" <<YAML
---
docker_host: "$DOCKER_HOST"
bottle_standins: "$COLLECTION_DIR/tests/standins"
bottle_test_image: "$TEST_IMAGE"
bottle_test_python_image: "$TEST_PYTHON_IMAGE"
bottle_real_smolmachine: "${BOTTLE_REAL_SMOLMACHINE:-}"
# The pinned real smolvm CLIs (scripts/smolvm-real.sh): version -> path.
bottle_real_smolvms:
$(while read -r version path; do printf '  "%s": "%s"\n' "$version" "$path"; done < "$BUILD/smolvm-real.txt")
YAML
}

run_sanity() { (cd "$COLLECTION_DIR" && ansible_test sanity --venv --python 3.11 --color no "$@"); }

run_units() {
  (cd "$COLLECTION_DIR" && PYTHONPATH="$COLLECTIONS_ROOT:$DEPS_ROOT" \
    python -m pytest -p no:ansible -p no:cacheprovider -q -n 2 tests/unit)
}

# --allow-destructive: the targets that start containers or add addresses to lo are marked
# destructive, and this run keeps both inside the harness's engine and network namespace.
run_integration_target() {
  (cd "$COLLECTION_DIR" && ansible_test integration --local --python 3.11 --color no --allow-destructive "$1")
}

# The real launch (tests/integration/targets/real_smolvm, `unsupported`): it fails saying
# "real_smolvm cannot run here: REASONS" when a prerequisite is missing; that is a skip, not a pass.
run_real_smolvm() {
  local out="$BUILD/real_smolvm.log" status=0
  (cd "$COLLECTION_DIR" && ansible_test integration --local --python 3.11 --color no --allow-destructive \
    --allow-unsupported real_smolvm) 2>&1 | tee "$out" || status=$?
  [ "$status" -eq 0 ] && return 0
  local reasons
  reasons=$(grep -o 'real_smolvm cannot run here: [^"]*' "$out" | head -n1)
  if [ -n "$reasons" ]; then
    log "$reasons"
    return "$SKIP_STATUS"
  fi
  return "$status"
}

# `integration_targets [destructive]`: every target ansible-test runs by itself, or only those marked
# destructive (the others are what a plain `ansible-test integration` runs: the installed stage does).
integration_targets() {
  local dir
  for dir in "$ROOT"/tests/integration/targets/*/; do
    local name
    name=$(basename "$dir")
    case "$name" in setup_*) continue ;; esac
    grep -qsE '^(disabled|hidden|unsupported)' "$dir/aliases" && continue
    [ "${1:-}" = destructive ] && ! grep -qsx destructive "$dir/aliases" && continue
    echo "$name"
  done
}

# The smolvm stand-in against one real smolvm version (tests/conformance, pytest); no Ansible needed.
run_conformance() {
  (cd "$ROOT" && python -m pytest -p no:cacheprovider -q -n 4 tests/conformance --smolvm-version "$1")
}

# ansible-lint; antsibull-changelog checks the changelog fragments (a bad one breaks a release);
# antsibull-docs checks the docsite guides (docs/docsite) and every plugin's documentation and
# markup, references to this collection and its dependencies included.
run_lint() {
  (cd "$COLLECTION_DIR" && ansible-lint --nocolor -q && antsibull-changelog lint \
    && antsibull-docs lint-collection-docs --plugin-docs --check-extra-docs-refs \
      --validate-collection-refs all --disallow-unknown-collection-refs .)
}

run_build() {
  local dist="$BUILD/dist" installed="$BUILD/installed"
  rm -rf "$dist" "$installed"
  mkdir -p "$dist"
  (cd "$COLLECTION_DIR" && ansible-galaxy collection build --output-path "$dist" >/dev/null) || return 1
  # --force: the synced copy of the same version on ANSIBLE_COLLECTIONS_PATH would make this a no-op.
  ansible-galaxy collection install --offline --no-deps --force -p "$installed" "$dist"/*.tar.gz \
    >/dev/null || return 1
  # Every plugin's documentation must render from the installed tarball, and only from there.
  local file type name
  for file in "$ROOT"/plugins/modules/*.py "$ROOT"/plugins/filter/*.py; do
    [ -e "$file" ] || continue
    name=$(basename "$file" .py)
    [ "$name" = __init__ ] && continue
    type=module
    case "$file" in */filter/*) type=filter ;; esac
    if [ "$type" = filter ] && ! grep -q '^DOCUMENTATION' "$file"; then continue; fi
    ANSIBLE_COLLECTIONS_PATH="$installed:$DEPS_ROOT" \
      ansible-doc -t "$type" --json "bot_bottle.smolmachines.$name" 2>/dev/null \
      | python -c 'import json, sys; sys.exit(0 if json.load(sys.stdin) else 1)' \
      || { log "ansible-doc -t $type bot_bottle.smolmachines.$name does not render from the tarball"; return 1; }
  done
}

# The collection as a user gets it: the built tarball installed with ansible-galaxy into a fresh
# directory (community.docker beside it, as Galaxy would put it), and ansible-test run there as
# shipped: `units --venv` installs tests/unit/requirements.txt itself; `integration` runs the targets
# not marked destructive, setup_smolvm installing the real smolvm CLIs they need.
# The copy lies outside this checkout: inside it, ansible-test would ask this git repository which
# files exist and find none (sync-collection.sh gives its copy a git index for that reason).
run_installed() {
  local top status=0
  top=$(mktemp -d /tmp/bot-bottle-installed.XXXXXX)
  mkdir -p "$top/dist"
  (cd "$COLLECTION_DIR" && ansible-galaxy collection build --output-path "$top/dist" >/dev/null) \
    && ANSIBLE_COLLECTIONS_PATH="$top" ansible-galaxy collection install --offline --no-deps -p "$top" \
      "$top"/dist/*.tar.gz >/dev/null \
    && ln -sfn "$DEPS_ROOT/ansible_collections/community" "$top/ansible_collections/community" \
    && (cd "$top/ansible_collections/bot_bottle/smolmachines" \
      && ANSIBLE_COLLECTIONS_PATH="$top" ansible_test units --venv --python 3.11 --color no \
      && ANSIBLE_COLLECTIONS_PATH="$top" ansible_test integration --python 3.11 --color no) || status=$?
  rm -rf "$top"
  return "$status"
}

# Parallel launches and injected faults against the real engine (tests/reliability, pytest).
run_reliability() {
  (cd "$COLLECTION_DIR" && PYTHONPATH="$COLLECTIONS_ROOT:$DEPS_ROOT" \
    python -m pytest -p no:ansible -p no:cacheprovider -q tests/reliability "$@")
}

run_molecule() {
  (cd "$COLLECTION_DIR" && molecule test -s "$1")
}

molecule_scenarios() {
  local dir
  for dir in "$ROOT"/molecule/*/; do
    [ -f "$dir/molecule.yml" ] && basename "$dir"
  done
}

main() {
  local stages=("$@")
  if [ ${#stages[@]} -eq 0 ]; then
    # `installed` runs the unit tests and the plain integration targets from the installed tarball,
    # beside the namespace stages; `integration` then runs the destructive targets only.
    stages=(harness sanity conformance installed integration lint build release molecule reliability)
    [ -z "${BOTTLE_REAL_SMOLMACHINE:-}" ] || stages+=(real_smolvm)
  fi
  "$ROOT/scripts/setup.sh"
  load_docker_host
  "$ROOT/scripts/sync-collection.sh"
  write_integration_config
  local s
  for s in "${stages[@]}"; do
    case "$s" in
      harness) stage harness needs_netns "$ROOT/scripts/netns.sh" selftest ;;
      sanity) stage sanity run_sanity ;;
      sanity:*) stage "$s" run_sanity "${s#sanity:}" ;;
      units) stage units run_units ;;
      conformance)
        local v
        for v in "${SMOLVM_REAL_VERSIONS[@]}"; do stage "conformance:$v" run_conformance "$v"; done ;;
      conformance:*) stage "$s" run_conformance "${s#conformance:}" ;;
      integration)
        local t which=""
        [[ " ${stages[*]} " == *" installed "* ]] && which=destructive
        for t in $(integration_targets $which); do stage "integration:$t" in_netns run_integration_target "$t"; done ;;
      integration:*) stage "$s" in_netns run_integration_target "${s#integration:}" ;;
      real_smolvm) stage real_smolvm in_netns run_real_smolvm ;;
      lint) stage lint run_lint ;;
      build) stage build run_build ;;
      installed) stage_beside installed run_installed ;;
      release) stage release "$ROOT/scripts/release-check.sh" ;;  # galaxy-importer, EE metadata, release notes
      molecule)
        local m
        for m in $(molecule_scenarios); do stage "molecule:$m" in_netns run_molecule "$m"; done ;;
      molecule:*) stage "$s" in_netns run_molecule "${s#molecule:}" ;;
      reliability) [ -d "$ROOT/tests/reliability" ] && stage reliability in_netns run_reliability ;;
      reliability:*) stage "$s" in_netns run_reliability -k "${s#reliability:}" ;;
      *) log "unknown stage $s"; failed=$((failed + 1)); failures+=("$s") ;;
    esac
  done
  collect_beside
  [ ${#failures[@]} -eq 0 ] || log "failed: ${failures[*]}"
  if [ "$skipped" -gt 0 ]; then
    echo "summary: $passed passed, $failed failed, $skipped skipped"
  else
    echo "summary: $passed passed, $failed failed"
  fi
  [ "$failed" -eq 0 ]
}

# Inside the namespace (in_netns): run one of the functions above, not the whole run.
if [ "${1:-}" = __call ]; then
  shift
  "$@"
  exit
fi
main "$@"
