#!/usr/bin/env bash
# The playbooks as users run them, by their FQCN, against smolvm 1.32.2 (the stand-in booting a real
# .smolmachine pack) with the default pool 198.18.0.16-198.18.0.31 (inside the test namespace): the
# pool on a group of dev machines, launch in check mode (nothing is created), launch, launch again
# (no change), cleanup in check mode (reaps nothing), cleanup (reaps only what is provably this
# user's and orphaned, leaves the rest alone with a reason), teardown twice.
# Each state is checked by state.yml, which reads Docker and the stand-in's smolvm directly; the
# cleanup's verdicts are read from ansible-playbook's JSON output (cleanup_verdict.py, through callback_plugins/event_lines.py).
set -eux

vars_file=$(cd ../.. && pwd)/integration_config.yml
here=$(pwd)
tmp=$(mktemp -d)
run_id=bp$(od -An -N3 -tx1 /dev/urandom | tr -d ' \n')
whole=${run_id}-whole
half=${run_id}-half
mine=${run_id}-mine        # Docker parts labelled with this user's smolvm DB, no VM: reaped
foreign=${run_id}-foreign  # Docker parts with no owner label, no VM here: left alone
leased=${run_id}-leased    # labelled parts of a slug holding a live lease: left alone
common=()
DOCKER_HOST=$(sed -n 's/^docker_host: "\(.*\)"$/\1/p' "$vars_file")
export DOCKER_HOST

cleanup() {
  for slug in "$whole" "$half"; do
    ansible-playbook bot_bottle.smolmachines.teardown "${common[@]}" -e "bottle_slug=$slug" >/dev/null || true
  done
  for slug in "$mine" "$foreign" "$leased"; do
    docker rm -f "bot-bottle-sidecars-$slug" >/dev/null 2>&1 || true
    docker network rm "bot-bottle-bundle-$slug" >/dev/null 2>&1 || true
  done
  rm -rf "$tmp"
}
trap cleanup EXIT

ansible-playbook -i "$INVENTORY_PATH" -e "@$vars_file" ../setup_docker/playbook.yml

standins=$(sed -n 's/^bottle_standins: "\(.*\)"$/\1/p' "$vars_file")
image=$(sed -n 's/^bottle_test_image: "\(.*\)"$/\1/p' "$vars_file")
# smolvm >= 1.4.0 boots only a real pack.
python "$standins/smolmachine_pack.py" "$tmp/agent.smolmachine" --image bot-bottle/agent:test
db=$tmp/data/smolvm/server/smolvm.db
cat > "$tmp/vars.yml" <<YAML
---
ansible_python_interpreter: "{{ ansible_playbook_python }}"
bottle_smolmachine: $tmp/agent.smolmachine
bottle_bundle_image: "{{ bottle_test_image }}"
bottle_smolvm_executable: "{{ bottle_standins }}/smolvm"
bottle_docker_host: "{{ docker_host }}"
# The default pool for smolvm >= 1.1.3, spelt out so that this test does not depend on the role's default.
bottle_pool_first: 198.18.0.16
bottle_pool_last: 198.18.0.31
bottle_lease_path: $tmp/leases.json
bottle_lock_path: $tmp/smolmachines.lock
bottle_bundle_stop_timeout: 1
bottle_wait_timeout: 20
bottle_environment:
  XDG_DATA_HOME: $tmp/data
  SMOLVM_STANDIN_VERSION: 1.32.2
  # The stand-in's \`#!/usr/bin/env python\` must find the interpreter running these tests.
  PATH: "{{ ansible_playbook_python | dirname }}:{{ lookup('env', 'PATH') }}"
bottle_cleanup_match: ^$run_id-
YAML
common=(-e "@$vars_file" -e "@$tmp/vars.yml")
smolvm() { XDG_DATA_HOME=$tmp/data SMOLVM_STANDIN_VERSION=1.32.2 python "$standins/smolvm" "$@"; }

state() {  # state SLUG PARTS...: exactly these parts of the bottle exist
  local slug=$1; shift
  local parts=""
  [ $# -eq 0 ] || parts=$(printf '"%s",' "$@")
  ansible-playbook state.yml "${common[@]}" -e "state_slug=$slug" -e "{\"state_parts\": [${parts%,}]}"
}

recap_changed() {  # the changed= count of the last PLAY RECAP in a log
  grep -A1 'PLAY RECAP' "$1" | grep -o 'changed=[0-9]*' | tail -n1 | cut -d= -f2
}

# Everything on the engine and in smolvm's state that is not one of this run's hand-made parts:
# compared before and after each cleanup, nothing in it may change but what the cleanup reports.
engine_snapshot() {
  { docker ps -a --format '{{.ID}} {{.Names}} {{.State}}'; docker network ls --format '{{.ID}} {{.Name}}'
    smolvm machine ls --json; } | sort
}

# The pool on every dev machine of a group: the addresses end up on lo as /32s (added with become
# the first time in this namespace), and a second run changes nothing.
cat > "$tmp/inventory" <<INI
[dev_machines]
localhost ansible_connection=local
INI
ansible-playbook -i "$tmp/inventory" bot_bottle.smolmachines.provision_dev_machines "${common[@]}"
for octet in $(seq 16 31); do
  ip -4 -o address show dev lo | grep -q " 198\.18\.0\.$octet/32 "
done
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
python - "$tmp/whole.json" <<'PY'
import ipaddress, json, sys
alias = json.load(open(sys.argv[1]))["alias"]
assert ipaddress.ip_address("198.18.0.16") <= ipaddress.ip_address(alias) <= ipaddress.ip_address("198.18.0.31"), alias
PY

# The same launch again changes nothing.
ansible-playbook bot_bottle.smolmachines.launch "${common[@]}" -e "bottle_slug=$whole" | tee "$tmp/again.log"
[ "$(recap_changed "$tmp/again.log")" = 0 ]

# A second bottle loses its VM behind the role's back: only that one is half.
ansible-playbook bot_bottle.smolmachines.launch "${common[@]}" -e "bottle_slug=$half"
smolvm machine delete --name "bot-bottle-$half" -f
state "$half" container network
# Whether the role labels its Docker parts with the smolvm DB they belong to decides whether cleanup
# may prove the half bottle this user's.
half_label=$(docker inspect -f '{{index .Config.Labels "bot_bottle.smolmachines.smolvm_db"}}' "bot-bottle-sidecars-$half")
if [ "$half_label" = "$db" ]; then half_verdict=reaped; else half_verdict=left_alone; fi

# Docker parts made by hand, as another user's launch (no label) or this user's (the label) would
# leave them; one of them holds a live lease, as a launch under way does.
for slug in "$mine" "$foreign" "$leased"; do
  labels=()
  [ "$slug" = "$foreign" ] || labels=(--label "bot_bottle.smolmachines.smolvm_db=$db")
  docker network create "${labels[@]}" "bot-bottle-bundle-$slug" >/dev/null
  docker create "${labels[@]}" --name "bot-bottle-sidecars-$slug" --network "bot-bottle-bundle-$slug" \
    "$image" >/dev/null
done
ansible localhost -m bot_bottle.smolmachines.bottle_alias "${common[@]}" \
  -a "slug=$leased first=198.18.0.16 last=198.18.0.31 lease_path=$tmp/leases.json lock_path=$tmp/smolmachines.lock docker_host=$DOCKER_HOST smolvm_db_path=$db"
engine_snapshot > "$tmp/before"

expect() {  # expect LOG: the cleanup's verdicts are exactly these
  python "$here/cleanup_verdict.py" "$1" \
    --reaped "$([ "$half_verdict" = reaped ] && echo "$half: container, network")" \
    --reaped "$mine: container, network" \
    --left-alone "$([ "$half_verdict" = left_alone ] && echo "$half: container, network: not in this user's smolvm state")" \
    --left-alone "$foreign: container, network: not in this user's smolvm state" \
    --left-alone "$leased: container, network: live alias lease"
}

# Cleanup in check mode reports the same verdicts and reaps nothing.
ANSIBLE_CALLBACK_PLUGINS=$here/callback_plugins ANSIBLE_STDOUT_CALLBACK=event_lines \
  ansible-playbook bot_bottle.smolmachines.cleanup --check "${common[@]}" > "$tmp/cleanup-check.json"
expect "$tmp/cleanup-check.json"
engine_snapshot > "$tmp/after-check"
diff "$tmp/before" "$tmp/after-check"

# Cleanup reaps only the parts it proved this user's and orphaned; everything else stays as it was.
ANSIBLE_CALLBACK_PLUGINS=$here/callback_plugins ANSIBLE_STDOUT_CALLBACK=event_lines \
  ansible-playbook bot_bottle.smolmachines.cleanup "${common[@]}" > "$tmp/cleanup.json"
expect "$tmp/cleanup.json"
state "$whole" machine container network
[ "$(docker inspect -f '{{.State.Running}}' "bot-bottle-sidecars-$whole")" = true ]
if [ "$half_verdict" = reaped ]; then state "$half"; else state "$half" container network; fi
for slug in "$foreign" "$leased"; do
  docker inspect "bot-bottle-sidecars-$slug" "bot-bottle-bundle-$slug" >/dev/null
done
if docker inspect "bot-bottle-sidecars-$mine" >/dev/null 2>&1; then exit 1; fi
if docker network inspect "bot-bottle-bundle-$mine" >/dev/null 2>&1; then exit 1; fi
engine_snapshot > "$tmp/after"
# Exactly the reaped bottles' container and network went; nothing appeared, nothing else changed.
reaped_names="bot-bottle-(sidecars|bundle)-$mine"
[ "$half_verdict" = left_alone ] || reaped_names="bot-bottle-(sidecars|bundle)-($mine|$half)"
diff <(grep -Ev " $reaped_names( |\$)" "$tmp/before") "$tmp/after"

# Teardown, twice: the second has nothing to do.
ansible-playbook bot_bottle.smolmachines.teardown "${common[@]}" -e "bottle_slug=$whole"
state "$whole"
ansible-playbook bot_bottle.smolmachines.teardown "${common[@]}" -e "bottle_slug=$whole" | tee "$tmp/teardown-again.log"
[ "$(recap_changed "$tmp/teardown-again.log")" = 0 ]
