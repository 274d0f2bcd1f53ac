#!/usr/bin/env bash
# The network namespace the harness runs its Docker engine in, and every stage that launches bottles
# or connects to a bottle address. Bottle addresses lie outside 127/8 (198.18.x); on the build
# machines nothing may connect to such an address from the machine's own network, so the addresses
# added to `lo`, the ports Docker publishes on them and the probes that connect to them all stay in
# this namespace, which has nothing but its own `lo`.
#   scripts/netns.sh ensure          # create it, with lo up, when missing
#   scripts/netns.sh run CMD...      # run CMD inside it
#   scripts/netns.sh engine-check    # exit 0 only if the engine DOCKER_HOST names listens inside it
#   scripts/netns.sh selftest        # prove a port published on a 198.18 address stays inside it
#   scripts/netns.sh delete          # remove it (refused while processes still run in it)
#   scripts/netns.sh cleanup         # delete it only if `ensure` created it
# The name is $BOTTLE_NETNS (default bot-bottle). Root only, Linux only.
# It is entered with nsenter, not `ip netns exec`: that one remounts /sys, and dockerd then fails
# with "Devices cgroup isn't mounted".
source "$(dirname "$0")/lib.sh"

die() { log "$*"; exit 1; }

# GET a URL, print the body; never through a proxy the environment names (it would leave the namespace).
FETCH='import sys, urllib.request
opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
sys.stdout.write(opener.open(sys.argv[1], timeout=2).read().decode())'

require_usable() {
  local reason
  reason=$(netns_unusable_reason)
  [ -z "$reason" ] || die "$reason"
}

require_present() {
  require_usable
  [ -e "$NETNS_PATH" ] || die "no network namespace $NETNS: run scripts/netns.sh ensure (as root)"
}

ensure() {
  require_usable
  if [ ! -e "$NETNS_PATH" ]; then
    log "creating network namespace $NETNS"
    ip netns add "$NETNS"
    mkdir -p "$(dirname "$NETNS_STAMP")"
    touch "$NETNS_STAMP"
  fi
  ip -n "$NETNS" link set lo up
}

run() {
  require_present
  exec nsenter --net="$NETNS_PATH" -- "$@"
}

# A unix socket belongs to the network namespace of the process that bound it, and `ss` lists only
# the sockets of its own namespace: the engine lives inside if its socket is listed from inside.
engine_check() {
  require_present
  local sock=""
  case "${DOCKER_HOST:-}" in
    unix://*) sock=${DOCKER_HOST#unix://} ;;
    *) die "the engine (DOCKER_HOST=${DOCKER_HOST:-unset}) is not a unix socket: cannot tell whether it runs in network namespace $NETNS" ;;
  esac
  if nsenter --net="$NETNS_PATH" -- ss -xlnH | awk -v want="$sock" '$5 == want {found = 1} END {exit !found}'; then
    return 0
  fi
  die "the engine at $DOCKER_HOST does not run in network namespace $NETNS: the ports it publishes would be on the machine's own network"
}

# Publish a port on a 198.18 address of the namespace's lo, reach it from inside, and find it
# neither listening nor holding that address in the namespace selftest runs in (the machine's own).
selftest() {
  load_docker_host
  engine_check
  local address name port body outside inside
  [ "$(stat -L -c %i /proc/self/ns/net)" != "$(stat -L -c %i "$NETNS_PATH")" ] \
    || die "selftest: run it from the machine's own network namespace, not from inside $NETNS"
  address="198.18.255.$((RANDOM % 250 + 2))"
  name="bb-netns-selftest-$RANDOM$RANDOM"
  # shellcheck disable=SC2064  # expand now: the values are fixed
  trap "docker rm -f '$name' >/dev/null 2>&1; ip -n '$NETNS' addr del '$address/32' dev lo 2>/dev/null" EXIT
  ip -n "$NETNS" addr add "$address/32" dev lo
  docker run -d --name "$name" -p "$address::80" "$TEST_IMAGE" httpd -f -p 80 -h /www >/dev/null
  port=$(docker port "$name" 80/tcp | sed -n "s/^$address:\([0-9]*\)$/\1/p")
  [ -n "$port" ] || die "selftest: Docker did not publish port 80 on $address: $(docker port "$name" 80/tcp)"
  # httpd may not listen yet when `docker run -d` returns: a bounded wait for its first answer.
  body=""
  for _ in $(seq 1 50); do
    body=$(nsenter --net="$NETNS_PATH" -- "$PYTHON" -c "$FETCH" "http://$address:$port/" 2>/dev/null) && break
    sleep 0.2
  done
  [ "$body" = "bot-bottle test sidecar" ] \
    || die "selftest: http://$address:$port/ did not answer from inside namespace $NETNS (got '$body')"
  # Listings first, so that a failing ss or ip stops the test instead of passing a negative check.
  inside=$(nsenter --net="$NETNS_PATH" -- ss -ltnH)
  outside=$(ss -ltnH)
  awk -v want="$address:$port" '$4 == want {found = 1} END {exit !found}' <<<"$inside" \
    || die "selftest: $address:$port is not listening inside namespace $NETNS"
  if awk -v want="$address:$port" '$4 == want {found = 1} END {exit !found}' <<<"$outside"; then
    die "selftest: $address:$port listens in the machine's own network namespace"
  fi
  outside=$(ip -o addr show dev lo)
  if grep -qF " $address/" <<<"$outside"; then
    die "selftest: $address is on the machine's own lo"
  fi
  docker rm -f "$name" >/dev/null
  ip -n "$NETNS" addr del "$address/32" dev lo
  trap - EXIT
  if ip -n "$NETNS" -o addr show dev lo | grep -qF " $address/"; then
    die "selftest: $address is still on lo in namespace $NETNS"
  fi
  log "selftest: $address:$port answered inside namespace $NETNS and is absent from the machine's own network"
}

delete() {
  require_usable
  if [ -e "$NETNS_PATH" ]; then
    local pids
    pids=$(ip netns pids "$NETNS" | paste -sd ' ')
    # Deleting only removes the name: the processes would keep an unreachable namespace alive.
    [ -z "$pids" ] || die "not deleting network namespace $NETNS: processes still run in it ($pids); stop the engine first (scripts/engine.sh stop)"
    log "deleting network namespace $NETNS"
    ip netns delete "$NETNS"
  fi
  rm -f "$NETNS_STAMP"
}

cleanup() {
  [ -f "$NETNS_STAMP" ] || return 0
  delete
}

case "${1:-}" in
  ensure) ensure ;;
  run) shift; [ $# -gt 0 ] || die "usage: $0 run CMD..."; run "$@" ;;
  engine-check) load_docker_host; engine_check ;;
  selftest) selftest ;;
  delete) delete ;;
  cleanup) cleanup ;;
  *) echo "usage: $0 ensure|run CMD...|engine-check|selftest|delete|cleanup" >&2; exit 2 ;;
esac
