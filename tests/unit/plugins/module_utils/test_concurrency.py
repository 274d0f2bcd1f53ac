# Copyright: (c) 2026, bot-bottle developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Many launches at once, in separate processes, against the real Docker engine, never share an alias.

Each round starts 16 processes that each build their own Docker client and allocator, then wait on
their stdin; once all of them are ready the test writes one line to every stdin, so they all read
Docker and the lease table at the same moment. Two bundle containers already hold aliases of the
pool, so the 16 processes must share exactly the 16 aliases that are left.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid

import pytest

WORKERS = 16
ROUNDS = 5
FIRST, LAST = "127.0.0.16", "127.0.0.33"
HELD = {"held-1": "127.0.0.16", "held-2": "127.0.0.20"}

WORKER = r"""
import json, os, sys
from ansible_collections.bot_bottle.smolmachines.plugins.module_utils.alias_allocator import AliasAllocator
from ansible_collections.bot_bottle.smolmachines.plugins.module_utils.docker_state import (
    BundleReader, docker_client)
from ansible_collections.bot_bottle.smolmachines.plugins.module_utils.leases import LeaseStore
from ansible_collections.bot_bottle.smolmachines.plugins.module_utils.pool import AliasPool

slug, prefix, lock_path, lease_path, first, last = sys.argv[1:7]
host = os.environ["DOCKER_HOST"]
reader = BundleReader(docker_client({"docker_host": host, "timeout": 60}), prefix, host)
allocator = AliasAllocator(AliasPool(first, last), reader, LeaseStore(lease_path), lock_path, 900)
print("ready", flush=True)
sys.stdin.readline()
outcome = allocator.ensure_present(slug)
print(json.dumps({"slug": slug, "alias": outcome.alias, "source": outcome.source}), flush=True)
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


def allocate_all_at_once(prefix, workdir):
    lock_path, lease_path = str(workdir / "smolmachines.lock"), str(workdir / "leases.json")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    processes = [
        subprocess.Popen([sys.executable, "-c", WORKER, f"bottle-{i}", prefix, lock_path, lease_path, FIRST, LAST],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        for i in range(WORKERS)
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
    with open(lease_path, encoding="utf-8") as handle:
        table = json.load(handle)
    return results, table


@pytest.mark.parametrize("round_number", range(1, ROUNDS + 1))
def test_sixteen_simultaneous_launches_get_sixteen_different_aliases(bundles, tmp_path, round_number):
    results, table = allocate_all_at_once(bundles, tmp_path)

    aliases = [r["alias"] for r in results]
    free = {f"127.0.0.{i}" for i in range(16, 34)} - set(HELD.values())
    assert len(set(aliases)) == WORKERS
    assert set(aliases) == free
    assert {r["source"] for r in results} == {"allocated"}
    assert len(table["leases"]) == WORKERS
    assert {(lease["slug"], lease["alias"]) for lease in table["leases"]} == {
        (r["slug"], r["alias"]) for r in results}
