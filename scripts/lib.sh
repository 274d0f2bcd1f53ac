# shellcheck shell=bash disable=SC2034  # sourced; the variables are used by the scripts that source it
# Shared settings for the scripts under scripts/. Sourced, not run.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD="$ROOT/.build"
VENV="$ROOT/.venv"
# Where the collection is copied for ansible-test (it needs .../ansible_collections/<ns>/<name>).
COLLECTIONS_ROOT="${BOTTLE_COLLECTIONS_ROOT:-$BUILD/collections}"
COLLECTION_DIR="$COLLECTIONS_ROOT/ansible_collections/bot_bottle/smolmachines"
# community.docker and its dependency, extracted from the `ansible` wheel (no Galaxy here).
DEPS_ROOT="$BUILD/deps"
ANSIBLE_BUNDLE_VERSION=12.3.0
# The Docker engine the scripts start when none answers; a short path keeps the socket under 108 bytes.
ENGINE_DIR="${BOTTLE_ENGINE_DIR:-/tmp/bot-bottle-engine}"
ENGINE_SOCK="unix://$ENGINE_DIR/docker.sock"
# The network namespace the engine and every stage that connects to a bottle address run in
# (scripts/netns.sh): bottle addresses lie outside 127/8, and nothing here may connect to one from
# the machine's own network.
NETNS="${BOTTLE_NETNS:-bot-bottle}"
NETNS_PATH="/var/run/netns/$NETNS"
# Present while the namespace is one the harness created (tmpfs, like /var/run/netns itself).
NETNS_STAMP="/run/bot-bottle-netns.$NETNS.created-here"
# The real smolvm CLIs the tests run against (scripts/smolvm-real.sh): the versions pinned once, in
# the setup_smolvm target's defaults (1.7.7, 1.9.1, 1.32.2).
SMOLVM_SETUP_TARGET="$ROOT/tests/integration/targets/setup_smolvm"
mapfile -t SMOLVM_REAL_VERSIONS < <(sed -n 's/^  - \([0-9][0-9.]*\)$/\1/p' "$SMOLVM_SETUP_TARGET/defaults/main.yml")
SMOLVM_REAL_DIR="$BUILD/smolvm"
TEST_IMAGE="bot-bottle/test-bundle:1"
TEST_PYTHON_IMAGE="bot-bottle/test-python:2"
PYTHON="${PYTHON:-python3.11}"
command -v "$PYTHON" >/dev/null 2>&1 || PYTHON=python3

export PATH="$VENV/bin:$PATH"
export ANSIBLE_COLLECTIONS_PATH="$COLLECTIONS_ROOT:$DEPS_ROOT"

# ansible-test keeps its caches (the pip bootstrap script, sanity venvs) under ~/.ansible/test and
# reads no other setting for them (ansible_test/_util/target/setup/requirements.py expands
# ~/.ansible/test/cache), so the harness runs it with HOME inside the checkout; XDG_CONFIG_HOME keeps
# the user's own pip configuration (~/.config/pip) in force.
ANSIBLE_TEST_HOME="$BUILD/ansible-test-home"
ansible_test() {
  local user_config="${XDG_CONFIG_HOME:-$HOME/.config}"
  HOME="$ANSIBLE_TEST_HOME" XDG_CONFIG_HOME="$user_config" ansible-test "$@"
}

log() { printf '==> %s\n' "$*" >&2; }

# Why the network namespace cannot be used here, or nothing when it can.
netns_unusable_reason() {
  if [ "$(uname -s)" != Linux ]; then
    echo "network namespaces exist only on Linux"
  elif [ "$(id -u)" -ne 0 ]; then
    echo "creating and entering the network namespace $NETNS needs root"
  elif ! command -v ip >/dev/null 2>&1 || ! command -v nsenter >/dev/null 2>&1; then
    echo "ip (iproute2) and nsenter (util-linux) are needed for the network namespace"
  fi
}

# DOCKER_HOST as the engine script left it, when a caller did not set one.
load_docker_host() {
  if [ -z "${DOCKER_HOST:-}" ] && [ -s "$BUILD/docker-host" ]; then
    DOCKER_HOST=$(cat "$BUILD/docker-host")
    export DOCKER_HOST
  fi
}
