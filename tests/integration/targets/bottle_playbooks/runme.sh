#!/usr/bin/env bash
# The playbooks as users run them, by their FQCN: the pool on a group of dev machines, launch in
# check mode (nothing is created), launch, launch again (no change), cleanup in check mode (lists,
# removes nothing), cleanup (reaps the half bottle, leaves the whole one alone), teardown twice.
# Each state is checked by state.yml, which reads Docker and the smolvm stand-in directly.
set -eux

vars_file=$(cd ../.. && pwd)/integration_config.yml
tmp=$(mktemp -d)
run_id=bp$(od -An -N3 -tx1 /dev/urandom | tr -d ' \n')
whole=${run_id}-whole
half=${run_id}-half
common=()

cleanup() {
  for slug in "$whole" "$half"; do
    ansible-playbook bot_bottle.smolmachines.teardown "${common[@]}" -e "bottle_slug=$slug" >/dev/null || true
  done
  rm -rf "$tmp"
}
trap cleanup EXIT

echo '{"image": "bot-bottle/agent:test"}' > "$tmp/agent.smolmachine"
octet=$(( $(od -An -N1 -tu1 /dev/urandom) % 200 + 40 ))
standins=$(sed -n 's/^bottle_standins: "\(.*\)"$/\1/p' "$vars_file")
cat > "$tmp/vars.yml" <<YAML
---
ansible_python_interpreter: "{{ ansible_playbook_python }}"
bottle_smolmachine: $tmp/agent.smolmachine
bottle_bundle_image: "{{ bottle_test_image }}"
bottle_smolvm_executable: "{{ bottle_standins }}/smolvm"
bottle_docker_host: "{{ docker_host }}"
bottle_pool_first: 127.$octet.2.1
bottle_pool_last: 127.$octet.2.8
bottle_lease_path: $tmp/leases.json
bottle_lock_path: $tmp/smolmachines.lock
bottle_bundle_stop_timeout: 1
bottle_wait_timeout: 20
bottle_environment:
  XDG_DATA_HOME: $tmp/data
  SMOLVM_STANDIN_VERSION: 0.8.0
  # The stand-in's \`#!/usr/bin/env python\` must find the interpreter running these tests.
  PATH: "{{ ansible_playbook_python | dirname }}:{{ lookup('env', 'PATH') }}"
bottle_cleanup_match: ^$run_id-
YAML
common=(-e "@$vars_file" -e "@$tmp/vars.yml")

state() {  # state SLUG PARTS...: exactly these parts of the bottle exist
  local slug=$1; shift
  local parts=""
  [ $# -eq 0 ] || parts=$(printf '"%s",' "$@")
  ansible-playbook state.yml "${common[@]}" -e "state_slug=$slug" -e "{\"state_parts\": [${parts%,}]}"
}

recap_changed() {  # the changed= count of the last PLAY RECAP in a log
  grep -A1 'PLAY RECAP' "$1" | grep -o 'changed=[0-9]*' | tail -n1 | cut -d= -f2
}

# The pool on every dev machine of a group: on Linux the kernel's local route already covers it,
# so nothing changes and nothing asks for privileges.
cat > "$tmp/inventory" <<INI
[dev_machines]
localhost ansible_connection=local
INI
ansible-playbook -i "$tmp/inventory" bot_bottle.smolmachines.provision_dev_machines "${common[@]}" \
  | tee "$tmp/provision.log"
[ "$(recap_changed "$tmp/provision.log")" = 0 ]

# Check mode predicts the bottle and creates nothing.
ansible-playbook bot_bottle.smolmachines.launch --check "${common[@]}" -e "bottle_slug=$whole"
state "$whole"

# A real launch, with the fact written for the caller.
ansible-playbook bot_bottle.smolmachines.launch "${common[@]}" -e "bottle_slug=$whole" \
  -e "bottle_launch_output=$tmp/whole.json"
state "$whole" machine container network
ansible-playbook state.yml "${common[@]}" -e "state_slug=$whole" -e '{"state_parts": []}' \
  -e "state_fact_file=$tmp/whole.json" --tags fact

# The same launch again changes nothing.
ansible-playbook bot_bottle.smolmachines.launch "${common[@]}" -e "bottle_slug=$whole" | tee "$tmp/again.log"
[ "$(recap_changed "$tmp/again.log")" = 0 ]

# A second bottle loses its VM behind the role's back: only that one is half.
ansible-playbook bot_bottle.smolmachines.launch "${common[@]}" -e "bottle_slug=$half"
XDG_DATA_HOME=$tmp/data SMOLVM_STANDIN_VERSION=0.8.0 \
  python3 "$standins/smolvm" machine delete "bot-bottle-$half" -f
state "$half" container network

# Cleanup in check mode lists it and removes nothing.
ansible-playbook bot_bottle.smolmachines.cleanup --check "${common[@]}" | tee "$tmp/cleanup-check.log"
grep -q "\"$half: container, network\"" "$tmp/cleanup-check.log"
if grep -q "\"$whole: " "$tmp/cleanup-check.log"; then exit 1; fi
state "$half" container network
state "$whole" machine container network

# Cleanup reaps the half bottle and leaves the whole one alone; a second cleanup has nothing to do.
ansible-playbook bot_bottle.smolmachines.cleanup "${common[@]}"
state "$half"
state "$whole" machine container network
ansible-playbook bot_bottle.smolmachines.cleanup "${common[@]}" | tee "$tmp/cleanup-again.log"
grep -q '"no orphaned bottle parts"' "$tmp/cleanup-again.log"

# Teardown, twice: the second has nothing to do.
ansible-playbook bot_bottle.smolmachines.teardown "${common[@]}" -e "bottle_slug=$whole"
state "$whole"
ansible-playbook bot_bottle.smolmachines.teardown "${common[@]}" -e "bottle_slug=$whole" | tee "$tmp/teardown-again.log"
[ "$(recap_changed "$tmp/teardown-again.log")" = 0 ]
