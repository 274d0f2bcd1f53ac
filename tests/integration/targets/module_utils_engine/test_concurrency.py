# Copyright: (c) 2026, bot-bottle developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Many launches at once, in separate processes, against the real Docker engine, never share an alias.

Each round starts 16 processes that each build their own Docker client and allocator, then wait on
their stdin; once all of them are ready the test writes one line to every stdin, so they all read
Docker and the lease table at the same moment. Two bundle containers already hold aliases of the
pool, so the 16 processes must share exactly the 16 aliases that are left.

The pool is a random /24 of 127/8 per test run: every container on the shared engine counts as a
holder, so a fixed pool could meet another test's containers.

Issue 12, item 6: 32 processes with lock_path == lease_path are all refused before any allocation;
32 processes split over two lock paths on one table still get 32 different aliases (the table's own
lock serialises them).
"""

from __future__ import annotations

import ipaddress
import json
import os
import random
import subprocess
import sys
import uuid

import pytest

WORKERS = 16
ROUNDS = 5
BASE = f"127.{random.randint(100, 250)}.{random.randint(1, 250)}."
FIRST, LAST = BASE + "16", BASE + "33"
HELD = {"held-1": BASE + "16", "held-2": BASE + "20"}
STORM = 32

WORKER = r"""
import json, os, sys
from ansible_collections.bot_bottle.smolmachines.plugins.module_utils.alias_allocator import AliasAllocator
from ansible_collections.bot_bottle.smolmachines.plugins.module_utils.docker_state import (
    PublisherReader, docker_client)
from ansible_collections.bot_bottle.smolmachines.plugins.module_utils.leases import LeaseError, LeaseStore
from ansible_collections.bot_bottle.smolmachines.plugins.module_utils.pool import AliasPool

slug, prefix, lock_path, lease_path, first, last = sys.argv[1:7]
host = os.environ["DOCKER_HOST"]
reader = PublisherReader(docker_client({"docker_host": host, "timeout": 60}), prefix, host)
try:
    allocator = AliasAllocator(AliasPool(first, last), reader, LeaseStore(lease_path), lock_path, 900)
except LeaseError as exc:
    allocator, refusal = None, str(exc)
print("ready", flush=True)
sys.stdin.readline()
if allocator is None:
    print(json.dumps({"slug": slug, "refused": refusal}), flush=True)
else:
    outcome = allocator.ensure_present(slug)
    print(json.dumps({"slug": slug, "alias": outcome.facts["alias"], "source": outcome.facts["source"]}), flush=True)
"""


@pytest.fixture(scope="module")
def bundles(engine, bundle_image):
    """Two running bundle containers holding aliases of the pool, under a prefix of this test's own."""
    prefix = f"hx{uuid.uuid4().hex[:8]}-sidecars-"
    containers = []
    try:
        for slug, alias in HELD.items():
            containers.append(engine.containers.run(bundle_image, name=prefix + slug, detach=True,
                                                    ports={"9099/tcp": (alias, None)}))
        yield prefix
    finally:
        for container in containers:
            container.remove(force=True)


def allocate_all_at_once(prefix, workdir, lock_paths=None, workers=WORKERS, first=FIRST, last=LAST):
    lease_path = str(workdir / "leases.json")
    lock_paths = lock_paths or [str(workdir / "smolmachines.lock")]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    processes = [
        subprocess.Popen([sys.executable, "-c", WORKER, f"bottle-{i}", prefix, lock_paths[i % len(lock_paths)],
                          lease_path, first, last],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        for i in range(workers)
    ]
    try:
        for process in processes:
            ready = process.stdout.readline()
            assert ready == "ready\n", process.stderr.read()
        # Every worker now blocks on its stdin: release them together.
        for process in processes:
            process.stdin.write("go\n")
            process.stdin.flush()
        results = []
        for process in processes:
            out, err = process.communicate(timeout=120)
            assert process.returncode == 0, err
            results.append(json.loads(out))
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait()
    if not os.path.exists(lease_path):
        return results, None
    with open(lease_path, encoding="utf-8") as handle:
        table = json.load(handle)
    return results, table


@pytest.mark.parametrize("round_number", range(1, ROUNDS + 1))
def test_sixteen_simultaneous_launches_get_sixteen_different_aliases(bundles, tmp_path, round_number):
    results, table = allocate_all_at_once(bundles, tmp_path)

    aliases = [r["alias"] for r in results]
    free = {BASE + str(i) for i in range(16, 34)} - set(HELD.values())
    assert len(set(aliases)) == WORKERS
    assert set(aliases) == free
    assert {r["source"] for r in results} == {"allocated"}
    assert len(table["leases"]) == WORKERS
    assert {(lease["slug"], lease["alias"]) for lease in table["leases"]} == {
        (r["slug"], r["alias"]) for r in results}


def test_a_storm_with_lock_path_equal_to_lease_path_is_refused_before_any_allocation(bundles, tmp_path):
    # Issue 12, item 6: the atomic replace swapped the locked file; 32 processes got 10 to 21 aliases.
    results, table = allocate_all_at_once(bundles, tmp_path, lock_paths=[str(tmp_path / "leases.json")],
                                          workers=STORM)
    assert len(results) == STORM
    assert all(r["refused"].startswith(f"lock_path and lease_path both name {tmp_path}/leases.json")
               for r in results)
    assert table is None
    assert list(tmp_path.iterdir()) == []


def test_a_storm_over_two_lock_paths_on_one_table_gets_distinct_aliases(bundles, tmp_path):
    # Two lock paths on one table: the table's own lock (beside it) serialises them.
    wide_last = str(ipaddress.IPv4Address(FIRST) + 40)
    results, table = allocate_all_at_once(bundles, tmp_path, workers=STORM, last=wide_last,
                                          lock_paths=[str(tmp_path / "one.lock"), str(tmp_path / "two.lock")])
    aliases = [r["alias"] for r in results]
    assert len(set(aliases)) == STORM
    assert not set(aliases) & set(HELD.values())
    assert {(lease["slug"], lease["alias"]) for lease in table["leases"]} == {(r["slug"], r["alias"]) for r in results}
