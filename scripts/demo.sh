#!/usr/bin/env bash
# `make demo`: set up (venv, community.docker, Docker engine, test image), launch two bottles with
# the collection's launch playbook (the bottle role), print each bottle's alias, host ports and
# VM allowlist, then tear both down with the teardown playbook.
#
# smolvm: a real smolvm on PATH is used when BOTTLE_SMOLMACHINE names a packed .smolmachine for it
# to boot. Otherwise the smolvm stand-in (tests/standins/smolvm) plays smolvm 1.32.2 (virtio-net
# under an allowlist), booting a minimal pack made by tests/standins/smolmachine_pack.py, with its
# state database in a temporary directory. The demo says which one runs.
# The bottles take their addresses from the role's default pool (198.18.0.16-198.18.0.31 held on
# lo); BOTTLE_BUNDLE_IMAGE picks the sidecar bundle image (default: the locally built test image).
#
# On Linux everything after the set-up runs inside the network namespace of scripts/netns.sh (as
# root), with the engine that lives there: the bottles' addresses, the ports published on them and
# every connection to them stay off the machine's own network.
set -euo pipefail
export BOTTLE_COLLECTIONS_ROOT="${BOTTLE_COLLECTIONS_ROOT:-$(cd "$(dirname "$0")/.." && pwd)/.build/demo}"
source "$(dirname "$0")/lib.sh"

if [ -z "${BOTTLE_DEMO_IN_NETNS:-}" ]; then
  bash "$ROOT/scripts/setup.sh"
  load_docker_host
  if [ "$(uname -s)" = Linux ]; then
    reason=$(netns_unusable_reason)
    [ -z "$reason" ] || { log "make demo: $reason; run it as root"; exit 1; }
    "$ROOT/scripts/netns.sh" engine-check
    log "the demo runs inside network namespace $NETNS (sudo nsenter --net=$NETNS_PATH bash to look around)"
    export BOTTLE_DEMO_IN_NETNS=1
    exec "$ROOT/scripts/netns.sh" run bash "$ROOT/scripts/demo.sh" "$@"
  fi
  log "no network namespaces on $(uname -s): the demo runs on this machine's own network"
fi
load_docker_host
bash "$ROOT/scripts/sync-collection.sh"

# Show what changes, not every check the role makes.
export ANSIBLE_DISPLAY_OK_HOSTS=false ANSIBLE_DISPLAY_SKIPPED_HOSTS=false
export ANSIBLE_LOCALHOST_WARNING=false ANSIBLE_INVENTORY_UNPARSED_WARNING=false

work=$(mktemp -d)
launched=()
ansible_args=()
# Adding loopback aliases needs root outside Linux; the role asks for it only when one is missing.
[ "$(uname -s)" = Linux ] || ansible_args+=(--ask-become-pass)

teardown() {
  local slug
  for slug in ${launched[@]+"${launched[@]}"}; do
    log "tearing down $slug"
    ansible-playbook bot_bottle.smolmachines.teardown ${ansible_args[@]+"${ansible_args[@]}"} -e "@$work/vars.yml" \
      -e "bottle_slug=$slug" || log "teardown of $slug failed; run the cleanup playbook"
  done
  rm -rf "$work"
}
trap teardown EXIT

# bot-bottle's slugs: the agent's name and five random base-36 characters.
random_suffix() {
  "$VENV/bin/python" -c 'import secrets, string; print("".join(secrets.choice(string.ascii_lowercase + string.digits) for _ in range(5)))'
}

# The newest smolvm pinned here: an allowlisted VM runs on virtio-net, so bottle addresses lie
# outside 127/8.
STANDIN_VERSION=1.32.2
real_version=""
if command -v smolvm >/dev/null 2>&1; then
  # The PyPI package named smolvm is another program; smolvm itself prints `smolvm X.Y.Z`.
  real_version=$(smolvm --version 2>/dev/null | sed -n 's/^smolvm \([0-9][0-9.]*\)$/\1/p' | head -n1) || true
fi
if [ -n "$real_version" ] && [ -f "${BOTTLE_SMOLMACHINE:-}" ]; then
  log "using the real smolvm $real_version at $(command -v smolvm), booting $BOTTLE_SMOLMACHINE"
  cat > "$work/vars.yml" <<YAML
bottle_smolvm_executable: $(command -v smolvm)
bottle_smolmachine: $BOTTLE_SMOLMACHINE
YAML
else
  if [ -n "$real_version" ]; then
    log "smolvm $real_version is on PATH, but BOTTLE_SMOLMACHINE does not name a packed .smolmachine for it to boot"
  else
    log "no smolvm on PATH"
  fi
  log "using the smolvm STAND-IN (tests/standins/smolvm, as smolvm $STANDIN_VERSION): no VM really boots; its state lives in $work/data"
  "$VENV/bin/python" "$COLLECTION_DIR/tests/standins/smolmachine_pack.py" "$work/agent.smolmachine" \
    --image bot-bottle/agent:demo --cmd sleep infinity
  cat > "$work/vars.yml" <<YAML
bottle_smolvm_executable: $COLLECTION_DIR/tests/standins/smolvm
bottle_smolmachine: $work/agent.smolmachine
bottle_environment:
  XDG_DATA_HOME: $work/data
  SMOLVM_STANDIN_VERSION: "$STANDIN_VERSION"
  # The stand-in's `#!/usr/bin/env python` must find the venv's interpreter (zstandard, sqlite3).
  PATH: "$VENV/bin:$PATH"
YAML
fi
cat >> "$work/vars.yml" <<YAML
# The default pool for smolvm >= 1.1.3 (docs/docsite/rst/guide_addresses.rst, "Which pool for which smolvm"), spelt out for roles
# whose default is still the TSI-era 127.0.0.16-31.
bottle_pool_first: 198.18.0.16
bottle_pool_last: 198.18.0.31
bottle_bundle_image: ${BOTTLE_BUNDLE_IMAGE:-$TEST_IMAGE}
bottle_bundle_ports: [9099, 9418, 9100]
bottle_guest_url_env:
  GIT_URL: {port: 9418, scheme: git}
  MCP_URL: 9100
YAML
# The test image's daemons run under `sh -c`, which ignores SIGTERM: do not wait 10 s for them.
[ -n "${BOTTLE_BUNDLE_IMAGE:-}" ] || echo "bottle_bundle_stop_timeout: 1" >> "$work/vars.yml"

for agent in researcher reviewer; do
  slug="$agent-$(random_suffix)"
  log "launching bottle $slug"
  launched+=("$slug")
  ansible-playbook bot_bottle.smolmachines.launch \
    ${ansible_args[@]+"${ansible_args[@]}"} -e "@$work/vars.yml" -e "bottle_slug=$slug" \
    -e "bottle_launch_output=$work/$slug.json"
done

echo
"$VENV/bin/python" - "$work" "${launched[@]}" <<'PY'
import json
import sys

work, slugs = sys.argv[1], sys.argv[2:]


def describe_probe(probe):
    """One cell for the role's egress probe (smolvm_probe's results); a role may not report one."""
    if probe is None:
        return "(this role reports no probe)"
    results = probe.get("results") if isinstance(probe, dict) else probe
    if not isinstance(results, list):
        return json.dumps(probe, sort_keys=True)
    cells = []
    for result in results:
        as_expected = result.get("reached") == (result.get("expected") == "reachable")
        verb = "reached" if result.get("reached") else "not reached"
        cells.append(f"{result.get('host')}:{result.get('port')} {verb}{'' if as_expected else ' (WRONG)'}")
    return ", ".join(cells) or "(no targets)"


rows = [("slug", "address", "ports (container->host)", "allowlist", "probe")]
for slug in slugs:
    with open(f"{work}/{slug}.json", encoding="utf-8") as handle:
        bottle = json.load(handle)
    ports = " ".join(f"{port}->{host}" for port, host in bottle["ports"].items())
    rows.append((bottle["slug"], bottle["alias"], ports, ", ".join(bottle["allowlist"]),
                 describe_probe(bottle.get("probe"))))
widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
for index, row in enumerate(rows):
    print("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())
    if index == 0:
        print("  ".join("-" * width for width in widths))
PY
echo
