#!/usr/bin/env bash
# Everything the tests and the demo need on a fresh machine, each step skipped when already done:
# the venv with pinned packages, community.docker without Galaxy, ansible-test's offline pip
# bootstrap, the pinned real smolvm CLIs, the network namespace (scripts/netns.sh), a running Docker
# engine and the locally built test image.
source "$(dirname "$0")/lib.sh"
mkdir -p "$BUILD"

# Debian packages the tests use: the engine, the static busybox of the test image, shellcheck for
# ansible-test's shellcheck sanity test, the sqlite3 CLI that tests read smolvm's DB with.
DEBIAN_PACKAGES=(docker.io busybox-static shellcheck sqlite3 iproute2)

ensure_debian_packages() {
  local missing=() p
  if ! command -v dpkg >/dev/null 2>&1; then
    log "not a Debian system: make sure docker, shellcheck, sqlite3 and a static busybox are installed"
    return 0
  fi
  for p in "${DEBIAN_PACKAGES[@]}"; do
    dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" -ne 0 ]; then
    log "missing Debian packages: ${missing[*]}; install them (as root) and re-run"
    return 1
  fi
  log "installing Debian packages: ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

ensure_venv() {
  local want have=""
  want=$(sha256sum "$ROOT/requirements-dev.txt" | cut -d' ' -f1)
  [ -f "$VENV/.requirements.sha256" ] && have=$(cat "$VENV/.requirements.sha256")
  [ "$want" = "$have" ] && return 0
  log "creating the venv from requirements-dev.txt"
  [ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check -r "$ROOT/requirements-dev.txt"
  echo "$want" > "$VENV/.requirements.sha256"
}

# Galaxy is out of reach: take community.docker and its dependency from the `ansible` wheel on PyPI.
ensure_community_docker() {
  local stamp="$DEPS_ROOT/.from-ansible-$ANSIBLE_BUNDLE_VERSION"
  [ -f "$stamp" ] && return 0
  log "extracting community.docker from ansible==$ANSIBLE_BUNDLE_VERSION"
  local tmp
  tmp=$(mktemp -d)
  "$VENV/bin/pip" download -q --disable-pip-version-check --no-deps \
    "ansible==$ANSIBLE_BUNDLE_VERSION" -d "$tmp"
  rm -rf "$DEPS_ROOT"
  mkdir -p "$DEPS_ROOT"
  (cd "$DEPS_ROOT" && "$VENV/bin/python" -m zipfile -e "$tmp"/ansible-*.whl "$tmp/x" >/dev/null)
  mkdir -p "$DEPS_ROOT/ansible_collections/community"
  for c in community/docker community/library_inventory_filtering_v1; do
    mv "$tmp/x/ansible_collections/$c" "$DEPS_ROOT/ansible_collections/$c"
  done
  rm -rf "$tmp"
  touch "$stamp"
}

# ansible-test fetches a pip bootstrap script from a host we cannot reach; it looks in this cache
# first, under the HOME the harness gives it (ansible_test in lib.sh), never the user's ~/.ansible.
ensure_get_pip() {
  local cache="$ANSIBLE_TEST_HOME/.ansible/test/cache/get_pip_24_2.py"
  [ -f "$cache" ] && cmp -s "$ROOT/scripts/get_pip_offline.py" "$cache" && return 0
  mkdir -p "$(dirname "$cache")"
  cp "$ROOT/scripts/get_pip_offline.py" "$cache"
}

ensure_debian_packages
ensure_venv
ensure_community_docker
ensure_get_pip
"$ROOT/scripts/smolvm-real.sh" > "$BUILD/smolvm-real.txt"
netns_reason=$(netns_unusable_reason)
if [ -z "$netns_reason" ]; then
  "$ROOT/scripts/netns.sh" ensure
else
  log "no network namespace: $netns_reason; the stages that launch bottles will be skipped"
fi
"$ROOT/scripts/engine.sh" start
load_docker_host
"$ROOT/scripts/images.sh"
