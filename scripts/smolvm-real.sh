#!/usr/bin/env bash
# The real smolvm CLIs the tests run against, from smol-machines' own `smolmachines` wheels on PyPI
# (NOT the unrelated PyPI package `smolvm`). Each wheel carries the CLI as smol/smol-vmm; only that
# file is kept, copied to a file named `smolvm` (under any other name, or through a symlink,
# smolvm >= 1.20 prints an extra `note:` line on stderr). Downloaded once, then reused.
#   scripts/smolvm-real.sh          # install every pinned version; print "VERSION PATH" lines
source "$(dirname "$0")/lib.sh"

install_version() {
  local version=$1 dir="$SMOLVM_REAL_DIR/$1"
  if [ -x "$dir/smolvm" ] && [ "$("$dir/smolvm" --version 2>/dev/null)" = "smolvm $version" ]; then
    return 0
  fi
  log "installing the real smolvm $version from the smolmachines wheel"
  local tmp
  tmp=$(mktemp -d)
  "$VENV/bin/pip" download -q --disable-pip-version-check --no-deps --only-binary :all: \
    "smolmachines==$version" -d "$tmp"
  mkdir -p "$dir"
  "$VENV/bin/python" - "$tmp" "$dir/smolvm" <<'PY'
import glob, os, sys, zipfile
wheel, = glob.glob(os.path.join(sys.argv[1], "smolmachines-*.whl"))
with zipfile.ZipFile(wheel) as archive:
    data = archive.read("smol/smol-vmm")
with open(sys.argv[2] + ".part", "wb") as out:
    out.write(data)
os.chmod(sys.argv[2] + ".part", 0o755)
os.replace(sys.argv[2] + ".part", sys.argv[2])
PY
  rm -rf "$tmp"
  [ "$("$dir/smolvm" --version)" = "smolvm $version" ] || { log "smolvm $version does not run"; return 1; }
}

for v in "${SMOLVM_REAL_VERSIONS[@]}"; do
  install_version "$v"
  echo "$v $SMOLVM_REAL_DIR/$v/smolvm"
done
