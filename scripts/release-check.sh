#!/usr/bin/env bash
# What a release publishes, checked the way Galaxy, ansible-builder and antsibull-changelog see it:
# 1. the tarball built from $COLLECTION_DIR holds no developer-only content and has COPYING and
#    meta/execution-environment.yml;
# 2. galaxy-importer (offline, no ansible-test) accepts it with no warning and no error;
# 3. `ansible-builder introspect` on the installed tarball lists exactly meta/ee-requirements.txt
#    and meta/ee-bindep.txt for this collection;
# 4. `antsibull-changelog release`, run in a throwaway copy, writes the release notes, and while
#    nothing has been released they describe a first release (see changelogs/config.yaml).
# Run by `scripts/test.sh release`, which syncs $COLLECTION_DIR first.
source "$(dirname "$0")/lib.sh"

OUT="$BUILD/release"
# Ansible's own files (tmp, galaxy_cache) stay in here, not in the user's ~/.ansible.
export ANSIBLE_HOME="$OUT/ansible-home"

fail() { log "release: $*"; exit 1; }

build_tarball() {
  rm -rf "$OUT"
  mkdir -p "$OUT/dist" "$OUT/tmp" "$OUT/ansible-home"
  (cd "$COLLECTION_DIR" && ansible-galaxy collection build --output-path "$OUT/dist" >/dev/null)
  TARBALL=$(ls "$OUT"/dist/*.tar.gz)
}

check_contents() {
  local listing unwanted
  listing=$(tar -tzf "$TARBALL")
  unwanted=$(grep -E '^(molecule|bench|tests/reliability|scripts|\.ci|\.build|\.venv)(/|$)|^(docs/performance\.md|Makefile|requirements-dev\.txt|CONTRIBUTING\.md)$' \
    <<<"$listing" || true)
  [ -z "$unwanted" ] || fail "developer-only files in $(basename "$TARBALL"): $(tr '\n' ' ' <<<"$unwanted")"
  local wanted
  for wanted in COPYING meta/execution-environment.yml meta/ee-requirements.txt meta/ee-bindep.txt \
      tests/unit/requirements.txt changelogs/changelog.yaml; do
    grep -qxF "$wanted" <<<"$listing" || fail "$wanted is missing from $(basename "$TARBALL")"
  done
}

run_galaxy_importer() {
  local log_file="$OUT/galaxy-importer.log" rc=0
  (cd "$OUT" && GALAXY_IMPORTER_CONFIG="$ROOT/scripts/galaxy-importer.cfg" \
    GALAXY_IMPORTER_TMP_ROOT_DIR="$OUT/tmp" GALAXY_IMPORTER_ANSIBLE_LOCAL_TMP="$OUT/ansible-home/tmp" \
    python -m galaxy_importer.main "$TARBALL") >"$log_file" 2>&1 || rc=$?
  # Galaxy shows every WARNING and ERROR line to the publisher; zero of them is the bar.
  if [ "$rc" -ne 0 ] || grep -qE '^(WARNING|ERROR|CRITICAL)' "$log_file" \
      || ! grep -qx 'Importer processing completed successfully' "$log_file"; then
    grep -E '^(WARNING|ERROR|CRITICAL)|Traceback' "$log_file" >&2 || tail -n 20 "$log_file" >&2
    fail "galaxy-importer did not accept $(basename "$TARBALL") cleanly (rc $rc; log: $log_file)"
  fi
  log "galaxy-importer: accepted with no warnings"
}

run_introspect() {
  local installed="$OUT/installed"
  # --force: the synced copy on ANSIBLE_COLLECTIONS_PATH has the same version, so without it
  # ansible-galaxy says "already installed" and installs nothing.
  ansible-galaxy collection install --offline --no-deps --force -p "$installed" "$TARBALL" >/dev/null 2>&1
  ansible-builder introspect --sanitize "$installed" > "$OUT/introspect.yml"
  cat "$OUT/introspect.yml" >&2
  python - "$OUT/introspect.yml" "$COLLECTION_DIR/meta" <<'PY'
import pathlib, sys, yaml
listed = yaml.safe_load(pathlib.Path(sys.argv[1]).read_text())
meta = pathlib.Path(sys.argv[2])
suffix = "  # from collection bot_bottle.smolmachines"
for kind, name in (("python", "ee-requirements.txt"), ("system", "ee-bindep.txt")):
    want = [line.strip() for line in (meta / name).read_text().splitlines()
            if line.strip() and not line.startswith("#")]
    got = [entry[: -len(suffix)] for entry in listed.get(kind) or [] if entry.endswith(suffix)]
    if got != want:
        sys.exit(f"ansible-builder introspect lists {kind} {got}, meta/{name} says {want}")
PY
}

check_release_notes() {
  local copy="$OUT/changelog-copy"
  local collection="$copy/ansible_collections/bot_bottle/smolmachines"
  mkdir -p "$collection"
  # With its .git: antsibull-changelog asks git which files the collection has, and the copy lies
  # inside this checkout's ignored .build/.
  tar -C "$COLLECTION_DIR" --exclude=./tests/output -cf - . | tar -C "$collection" -xf -
  (cd "$collection" && ANSIBLE_COLLECTIONS_PATH="$copy:$DEPS_ROOT" antsibull-changelog release >"$OUT/antsibull-changelog.log" 2>&1) \
    || { cat "$OUT/antsibull-changelog.log" >&2; fail "antsibull-changelog release failed"; }
  python - "$COLLECTION_DIR" "$collection" <<'PY'
import pathlib, sys, yaml
before = yaml.safe_load(pathlib.Path(sys.argv[1], "changelogs/changelog.yaml").read_text())
after_dir = pathlib.Path(sys.argv[2])
version = yaml.safe_load((after_dir / "galaxy.yml").read_text())["version"]
release = yaml.safe_load((after_dir / "changelogs/changelog.yaml").read_text())["releases"][version]
changes = release.get("changes", {})
problems = []
if not changes.get("release_summary"):
    problems.append(f"{version} has no release_summary")
if not before.get("releases"):
    # A first release has no history: a fragment saying what "changed", was fixed or removed
    # describes the unreleased code, not the release. Fold it into the release summary.
    for section, entries in changes.items():
        if section not in ("release_summary", "known_issues"):
            problems.append(f"first release {version} has a {section!r} section: {entries}")
    new = {m["name"] for m in release.get("modules", [])}
    shipped = {p.stem for p in (after_dir / "plugins/modules").glob("*.py") if p.stem != "__init__"}
    if shipped - new:
        problems.append(f"modules missing from the New Modules of {version} "
                        f"(module-level version_added: {version}?): {sorted(shipped - new)}")
if problems:
    sys.exit("release notes:\n  " + "\n  ".join(problems))
PY
  log "release notes of $(sed -n 's/^version: //p' "$COLLECTION_DIR/galaxy.yml"): $(grep -c '' "$collection/CHANGELOG.rst") lines, first-release rules hold"
}

build_tarball
check_contents
run_galaxy_importer
run_introspect
check_release_notes
