#!/usr/bin/env bash
# Make sure a Docker engine answers: the one DOCKER_HOST names, else the system's,
# else one started here from Debian's docker.io (installed when missing). An engine started here
# runs inside the network namespace of scripts/netns.sh, so the ports it publishes on bottle
# addresses stay off the machine's own network; a reused engine may not, and the log says so.
#   scripts/engine.sh start   # prints nothing; writes .build/docker-host
#   scripts/engine.sh stop    # stops the engine only if this script started it
source "$(dirname "$0")/lib.sh"

answers() { DOCKER_HOST="$1" docker version --format '{{.Server.Version}}' >/dev/null 2>&1; }

# One log line on whether the engine lives in the namespace; test.sh refuses the namespace stages
# against one that does not.
report_namespace() {
  local reason
  reason=$(netns_unusable_reason)
  if [ -n "$reason" ]; then
    log "reusing the engine at $1; $reason, so the stages that launch bottles will be skipped"
  elif [ -e "$NETNS_PATH" ] && DOCKER_HOST="$1" "$ROOT/scripts/netns.sh" engine-check 2>/dev/null; then
    log "reusing the engine at $1; it runs in network namespace $NETNS"
  else
    log "reusing the engine at $1; it does NOT run in network namespace $NETNS, so the stages that launch bottles will refuse to run against it (an engine this script starts runs there: unset DOCKER_HOST, or stop this one with scripts/engine.sh stop)"
  fi
}

install_engine() {
  command -v dockerd >/dev/null 2>&1 && command -v docker >/dev/null 2>&1 && return 0
  log "installing Debian's docker.io"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends docker.io >/dev/null
}

start() {
  mkdir -p "$BUILD"
  local candidate
  for candidate in "${DOCKER_HOST:-}" unix:///var/run/docker.sock "$ENGINE_SOCK"; do
    [ -n "$candidate" ] || continue
    if command -v docker >/dev/null 2>&1 && answers "$candidate"; then
      echo "$candidate" > "$BUILD/docker-host"
      report_namespace "$candidate"
      return 0
    fi
  done
  if [ -n "${DOCKER_HOST:-}" ]; then
    log "DOCKER_HOST=$DOCKER_HOST does not answer; starting a local engine instead"
  fi
  install_engine
  "$ROOT/scripts/netns.sh" ensure
  mkdir -p "$ENGINE_DIR"
  log "starting dockerd (vfs storage) at $ENGINE_SOCK in network namespace $NETNS"
  setsid nohup nsenter --net="$NETNS_PATH" -- dockerd --storage-driver=vfs \
    --data-root "$ENGINE_DIR/data" --exec-root "$ENGINE_DIR/exec" \
    -H "$ENGINE_SOCK" --pidfile "$ENGINE_DIR/docker.pid" \
    >"$ENGINE_DIR/dockerd.log" 2>&1 < /dev/null &
  touch "$ENGINE_DIR/started-here"
  for _ in $(seq 1 120); do
    if answers "$ENGINE_SOCK"; then
      echo "$ENGINE_SOCK" > "$BUILD/docker-host"
      return 0
    fi
    sleep 0.5
  done
  log "dockerd did not answer within 60 s; its log:"
  tail -n 20 "$ENGINE_DIR/dockerd.log" >&2
  return 1
}

stop() {
  [ -f "$ENGINE_DIR/started-here" ] || return 0
  if [ -s "$ENGINE_DIR/docker.pid" ]; then
    local pid
    pid=$(cat "$ENGINE_DIR/docker.pid")
    kill "$pid" 2>/dev/null || true
    # dockerd removes its pid file once it has shut down.
    for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
  fi
  rm -f "$ENGINE_DIR/started-here" "$BUILD/docker-host"
}

case "${1:-start}" in
  start) start ;;
  stop) stop ;;
  *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
