#!/usr/bin/env bash
# Copy the checkout (tracked and untracked-but-not-ignored files) to
# $COLLECTION_DIR: ansible-test wants a real ansible_collections/<ns>/<name> tree, not a symlink.
source "$(dirname "$0")/lib.sh"
rm -rf "$COLLECTION_DIR"
mkdir -p "$COLLECTION_DIR"
(cd "$ROOT" && git ls-files -z --cached --others --exclude-standard \
  | while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done \
  | tar --null -T - -cf -) | tar -C "$COLLECTION_DIR" -xf -
# The copy lies inside this checkout's ignored .build/; ansible-test would ask the outer repository
# which files exist and find none. An index of its own makes the copy's files visible.
(cd "$COLLECTION_DIR" && git init -q && git add -A)
# ansible-test integration ignores ANSIBLE_COLLECTIONS_PATH and looks only beside this collection,
# so community.docker has to stand there too.
ln -sfn "$DEPS_ROOT/ansible_collections/community" "$COLLECTIONS_ROOT/ansible_collections/community"
