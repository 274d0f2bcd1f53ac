# Copyright: (c) 2026, bot-bottle developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Benchmark: allocating a bottle's alias with 0, 16, 64 and 256 running bundle containers.

For each count it starts that many bundle containers (each publishing one port on its own alias of
the pool 127.0.1.0-127.0.3.255), then times, on the same containers:

- allocation: what bottle_alias does per call, minus Ansible's start-up: a Docker client (one
  version request), the exclusive lock, ONE list request, the lease table, the choice and the lease
  write, in a fresh lease directory each run so that every run does the same work;
- read: the list request alone, on a client built beforehand;
- original: what seed_loopback_alias.py did, one `docker ps` plus one `docker inspect` subprocess
  per running bundle.

It prints the medians and the ratios as a Markdown table (docs/performance.md holds one) and can
write every sample as JSON. It creates and removes its own containers (a random name prefix).

    DOCKER_HOST=unix:///tmp/bot-bottle-engine/docker.sock .venv/bin/python bench/alias_allocation.py
"""

from __future__ import annotations

import argparse
import concurrent.futures
import itertools
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid

from _common import IMAGE, LoadWatch, import_collection, machine, timed

FIRST, LAST = "127.0.1.0", "127.0.3.255"
BIG_LAST = "127.1.0.255"  # 65,536 aliases from FIRST, the most a pool may hold


def original_in_use(prefix: str) -> set:
    """The original's _aliases_in_use(), with its prefix as a parameter (and without failing open)."""
    names = subprocess.run(["docker", "ps", "--format", "{{.Names}}", "--filter", f"name={prefix}"],
                           capture_output=True, text=True, check=True).stdout.split()
    in_use = set()
    for name in names:
        out = subprocess.run(["docker", "inspect", name, "--format", "{{json .HostConfig.PortBindings}}"],
                             capture_output=True, text=True, check=True).stdout
        for mappings in (json.loads(out or "{}") or {}).values():
            for mapping in mappings or []:
                if mapping.get("HostIp"):
                    in_use.add(mapping["HostIp"])
    return in_use


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--counts", default="0,16,64,256", help="running bundle counts (default 0,16,64,256)")
    parser.add_argument("--runs", type=int, default=15, help="timed allocations per count (default 15)")
    parser.add_argument("--original-runs", type=int, default=5, help="timed original readings per count (default 5)")
    parser.add_argument("--parallel", type=int, default=8, help="containers created or removed at once (default 8)")
    parser.add_argument("--json", help="also write every sample to this file")
    args = parser.parse_args()
    counts = sorted(int(c) for c in args.counts.split(","))

    shim = import_collection()
    # pylint: disable=import-outside-toplevel
    import docker
    from ansible_collections.bot_bottle.smolmachines.plugins.module_utils.alias_allocator import AliasAllocator
    from ansible_collections.bot_bottle.smolmachines.plugins.module_utils.docker_state import (
        BundleReader, docker_client)
    from ansible_collections.bot_bottle.smolmachines.plugins.module_utils.leases import LeaseStore
    from ansible_collections.bot_bottle.smolmachines.plugins.module_utils.pool import AliasPool

    host = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
    os.environ["DOCKER_HOST"] = host  # the docker CLI of the original approach reads it too
    engine = docker.DockerClient(base_url=host, version="auto", timeout=120)
    info = engine.info()
    pool = AliasPool(FIRST, LAST)
    big_pool = AliasPool(FIRST, BIG_LAST)
    if counts[-1] >= len(pool):
        parser.error(f"at most {len(pool) - 1} containers fit the pool {pool.describe()}")
    aliases = pool.addresses()
    prefix = f"bench{uuid.uuid4().hex[:6]}-sidecars-"
    work = tempfile.mkdtemp(prefix="bench-alias-")
    running = []
    results = []
    load = LoadWatch()

    def start(index):
        return engine.containers.run(IMAGE, command=["sleep", "2147483647"], name=f"{prefix}b{index}",
                                     detach=True, ports={"9099/tcp": (aliases[index], None)})

    run_ids = itertools.count()

    def allocate(in_pool=pool):
        directory = os.path.join(work, f"run{next(run_ids)}")
        reader = BundleReader(docker_client({"docker_host": host}), prefix, host)
        allocator = AliasAllocator(in_pool, reader, LeaseStore(os.path.join(directory, "leases.json")),
                                   os.path.join(directory, "smolmachines.lock"), 900)
        return allocator.ensure_present("bench-new").alias

    try:
        reader = BundleReader(engine, prefix, host)
        with concurrent.futures.ThreadPoolExecutor(max_workers=args.parallel) as pool_of_threads:
            for count in counts:
                started = time.perf_counter()
                running.extend(pool_of_threads.map(start, range(len(running), count)))
                setup = time.perf_counter() - started
                # Both approaches must see the same thing before either is timed.
                expected = set(aliases[:count])
                assert {a for b in reader.read() for a in b.aliases} == expected
                assert original_in_use(prefix) == expected
                assert allocate() == aliases[count]
                load.sample()
                allocation = timed(allocate, args.runs)
                read = timed(reader.read, args.runs)
                original = timed(lambda: original_in_use(prefix), args.original_runs)
                load.sample()
                row = dict(bundles=count, allocation=allocation, read=read, original=original, setup_s=setup)
                results.append(row)
                if count == counts[-1]:
                    # The same bundles, the widest pool allowed: the choice must not slow down.
                    assert allocate(big_pool) == aliases[count]
                    row["allocation_big_pool"] = timed(lambda: allocate(big_pool), args.runs)
                print(f"{count:4d} bundles: allocation {statistics.median(allocation) * 1000:8.1f} ms, "
                      f"read {statistics.median(read) * 1000:7.1f} ms, "
                      f"original {statistics.median(original) * 1000:8.1f} ms "
                      f"(started in {setup:.1f} s)", file=sys.stderr, flush=True)
    finally:
        with concurrent.futures.ThreadPoolExecutor(max_workers=args.parallel) as pool_of_threads:
            list(pool_of_threads.map(lambda c: c.remove(force=True), running))
        shutil.rmtree(work, ignore_errors=True)
        shutil.rmtree(shim, ignore_errors=True)

    base = statistics.median(results[0]["allocation"])
    print(f"Machine: {machine()}; Docker {info.get('ServerVersion')} "
          f"({info.get('Driver')} storage), API {engine.version().get('ApiVersion')}; docker SDK {docker.__version__}.")
    print(f"Medians of {args.runs} allocations and reads, {args.original_runs} original readings per row; "
          f"load {load.describe()}.\n")
    print("| running bundles | allocation (ms) | of which the list call (ms) | original: ps + inspect each (ms) "
          "| original / allocation | allocation vs 0 bundles |")
    print("|---:|---:|---:|---:|---:|---:|")
    for row in results:
        allocation, read, original = (statistics.median(row[k]) for k in ("allocation", "read", "original"))
        print(f"| {row['bundles']} | {allocation * 1000:.1f} | {read * 1000:.1f} | {original * 1000:.1f} "
              f"| {original / allocation:.1f}x | {allocation / base:.2f}x |")
    last = results[-1]
    print(f"\nWith the widest pool allowed ({big_pool.describe()}) and {last['bundles']} running bundles, "
          f"the allocation takes {statistics.median(last['allocation_big_pool']) * 1000:.1f} ms "
          f"(pool of {len(pool)}: {statistics.median(last['allocation']) * 1000:.1f} ms).")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as handle:
            json.dump(dict(machine=machine(), docker=info.get("ServerVersion"), load=load.samples, results=results), handle, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
