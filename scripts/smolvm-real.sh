#!/usr/bin/env bash
# The real smolvm CLIs the tests run against, installed by the setup_smolvm target's own installer
# (tests/integration/targets/setup_smolvm: the pinned versions, smol-machines' `smolmachines`
# wheels, only smol/smol-vmm kept as a file named `smolvm`) into .build/smolvm. Downloaded once,
# then reused.
#   scripts/smolvm-real.sh          # install every pinned version; print "VERSION PATH" lines
source "$(dirname "$0")/lib.sh"

"$VENV/bin/python" "$SMOLVM_SETUP_TARGET/files/install_smolvm.py" "$SMOLVM_REAL_DIR" "${SMOLVM_REAL_VERSIONS[@]}"
