# Copyright: (c) 2026, bot-bottle developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Benchmark: one bottle launch and teardown broken down per task, a relaunch that changes nothing,
and 1, 4 and 8 launches at once.

Everything runs the collection's playbooks as a user does (`ansible-playbook
bot_bottle.smolmachines.launch|teardown -e @vars -e bottle_slug=...`) against the real Docker
engine, the test image as the sidecar bundle, and the smolvm stand-in at 0.8.0 (so the allowlist
patch really happens) with its state in a temporary XDG_DATA_HOME.

- Sequential: --runs times, with a new slug each time: launch, the same launch again (must report
  changed=0), teardown; each with Ansible's ansible.posix.profile_tasks callback (unsorted, every
  task). ansible.posix comes from the pinned `ansible` wheel whose community.docker the tests use,
  extracted by scripts/bench.sh into .build/bench-deps (a bench-only path; the collection does not need it).
- Concurrent: for each level (default 1, 4, 8), --concurrent-runs times: that many launch playbooks
  started at the same moment for distinct slugs (separate ansible-playbook processes), then as many
  teardowns at once. Total wall time from the first start to the last exit, and each process's own
  time. Each round checks that the launched bottles got distinct aliases.

The pool is a random /27 of 127.0.0.0/8 (second octet 40-239, as the test suites pick theirs), or
of 198.18.0.0/16 with --smolvm-version 1.1.3 or later (virtio-net; run inside the harness's network
namespace, as scripts/bench.sh does), the
lease and lock files are temporary, and the slugs start with a random run id, so nothing here
meets another user of the shared engine. Every bottle is torn down at the end, and any container or
network left with the run id is removed.

    PYTHONPATH=<copy root> ANSIBLE_COLLECTIONS_PATH=<copy root>:.build/deps DOCKER_HOST=... \\
        .venv/bin/python bench/launch_profile.py --runs 5 --concurrent-runs 3
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import os
import re
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

from ansible_collections.bot_bottle.smolmachines.plugins.module_utils.smolvm_cli import backend_with_allowlist
from _common import (BUILD, IMAGE, STANDINS, LoadWatch, ansible_env, check_collection, docker_summary, machine,
                     measured)

BENCH_DEPS = os.path.join(BUILD, "bench-deps")
POSIX = "ansible_collections/ansible/posix/"
RECAP = re.compile(r"^\S+\s*: ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)\s+skipped=(\d+)"
                   r"\s+rescued=(\d+)\s+ignored=(\d+)")
TASK_LINE = re.compile(r"^(?P<name>.+?) -+ (?P<seconds>\d+\.\d+)s$")
ROLE_PREFIX = "bot_bottle.smolmachines.bottle : "


def ensure_posix() -> str:
    """ansible.posix (for the profile_tasks callback), which scripts/bench.sh extracts from the pinned
    `ansible` wheel into .build/bench-deps before it enters the network namespace (no PyPI there)."""
    if not os.path.exists(os.path.join(BENCH_DEPS, POSIX, "MANIFEST.json")):
        sys.exit(f"ansible.posix is not under {BENCH_DEPS}: run the benchmark through scripts/bench.sh")
    return BENCH_DEPS


class Playbook:
    """One finished ansible-playbook run: its times, its PLAY RECAP and profile_tasks' task times."""

    def __init__(self, kind, slug, result):
        self.kind = kind
        self.slug = slug
        self.wall = result.wall
        self.cpu = result.cpu
        self.output = result.stdout
        self.returncode = result.returncode
        recaps = [RECAP.match(line) for line in result.stdout.splitlines()]
        recaps = [m for m in recaps if m]
        self.recap = dict(zip(("ok", "changed", "unreachable", "failed", "skipped", "rescued", "ignored"),
                              (int(g) for g in recaps[-1].groups()))) if recaps else {}
        self.tasks = self._profile(result.stdout)

    @staticmethod
    def _profile(output):
        lines = output.splitlines()
        try:
            start = next(i for i, line in enumerate(lines) if line.startswith("TASKS RECAP"))
        except StopIteration:
            return []
        tasks = []
        for line in lines[start + 1:]:
            match = TASK_LINE.match(line.strip())
            if match and not line.startswith("="):
                tasks.append((match.group("name").replace(ROLE_PREFIX, ""), float(match.group("seconds"))))
        return tasks

    def check(self, changed: bool | None):
        if self.returncode != 0 or not self.recap or self.recap["failed"] or self.recap["unreachable"]:
            raise RuntimeError(f"{self.kind} of {self.slug} failed (exit {self.returncode}):\n{self.output[-4000:]}")
        if changed is not None and bool(self.recap["changed"]) != changed:
            raise RuntimeError(f"{self.kind} of {self.slug}: expected changed {'> 0' if changed else '= 0'}, "
                               f"got {self.recap}:\n{self.output[-4000:]}")
        return self


class Lab:
    def __init__(self, work: str, docker_host: str, smolvm_version: str):
        self.work = work
        self.run_id = "hp" + secrets.token_hex(3)
        # From 1.1.3 an allowlisted guest runs on virtio-net, where 127/8 is its own: the role then
        # needs a pool outside it (a 198.18 /27 on the namespace's lo, added by the role).
        version = tuple(int(part) for part in smolvm_version.split("."))
        base = (f"198.18.{1 + secrets.randbelow(254)}" if backend_with_allowlist(version) == "virtio-net"
                else f"127.{40 + secrets.randbelow(200)}.{secrets.randbelow(256)}")
        start = 32 * secrets.randbelow(8)
        self.pool = (f"{base}.{start + 1}", f"{base}.{start + 30}")
        smolmachine = os.path.join(work, "agent.smolmachine")
        # A real pack (smolvm 1.4.0 and later, and the stand-in playing them, refuse anything else).
        subprocess.run([sys.executable, os.path.join(STANDINS, "smolmachine_pack.py"), smolmachine,
                        "--image", "bot-bottle/agent:bench", "--cmd", "sleep", "infinity"], check=True)
        # As the demo launches a bottle: three bundle ports, the guest told where the git and MCP
        # sidecars are. The test image's daemons ignore SIGTERM (sh as PID 1), so a teardown waits
        # out the whole stop timeout: 1 s, as in the tests and the demo. Not 0: community.docker
        # treats 0 as unset and Docker then waits its default 10 s.
        variables = {
            "bottle_smolmachine": smolmachine,
            "bottle_bundle_image": IMAGE,
            "bottle_bundle_ports": [9099, 9418, 9100],
            "bottle_guest_url_env": {"GIT_URL": {"port": 9418, "scheme": "git"}, "MCP_URL": 9100},
            "bottle_bundle_stop_timeout": 1,
            "bottle_smolvm_executable": os.path.join(STANDINS, "smolvm"),
            "bottle_pool_first": self.pool[0],
            "bottle_pool_last": self.pool[1],
            "bottle_lease_path": os.path.join(work, "state", "leases.json"),
            "bottle_lock_path": os.path.join(work, "state", "smolmachines.lock"),
            "bottle_wait_timeout": 20,
            "bottle_docker_host": docker_host,
            "bottle_environment": {
                "XDG_DATA_HOME": os.path.join(work, "data"),
                "SMOLVM_STANDIN_VERSION": smolvm_version,
                "PATH": os.pathsep.join([os.path.dirname(sys.executable), os.environ.get("PATH", "")]),
            },
            "bottle_cleanup_match": f"^{self.run_id}-",
        }
        self.vars_file = os.path.join(work, "vars.json")
        with open(self.vars_file, "w", encoding="utf-8") as handle:
            json.dump(variables, handle)
        self.env = ansible_env(work, extra_collections=ensure_posix(), DOCKER_HOST=docker_host,
                               ANSIBLE_RETRY_FILES_ENABLED="false")
        self.profiled_env = dict(self.env, ANSIBLE_CALLBACKS_ENABLED="ansible.posix.profile_tasks",
                                 PROFILE_TASKS_SORT_ORDER="none", PROFILE_TASKS_TASK_OUTPUT_LIMIT="all")
        self.launched = set()

    def slug(self, name: str) -> str:
        return f"{self.run_id}-{name}"

    def output_path(self, slug: str) -> str:
        return os.path.join(self.work, f"{slug}.json")

    def argv(self, kind: str, slug: str) -> list:
        argv = ["ansible-playbook", f"bot_bottle.smolmachines.{kind}", "-e", f"@{self.vars_file}",
                "-e", f"bottle_slug={slug}"]
        if kind == "launch":
            argv += ["-e", f"bottle_launch_output={self.output_path(slug)}"]
        return argv

    def play(self, kind: str, slug: str, profiled: bool = False) -> Playbook:
        if kind == "launch":
            self.launched.add(slug)
        result = Playbook(kind, slug, measured(self.argv(kind, slug), self.profiled_env if profiled else self.env,
                                               check=False))
        if kind == "teardown" and result.returncode == 0:
            self.launched.discard(slug)
        return result

    def alias(self, slug: str) -> str:
        with open(self.output_path(slug), encoding="utf-8") as handle:
            return json.load(handle)["alias"]

    def at_once(self, kind: str, slugs: list) -> tuple:
        """Start one playbook per slug at the same moment; (total wall, [Playbook])."""
        start = time.perf_counter()
        with concurrent.futures.ThreadPoolExecutor(max_workers=len(slugs)) as pool:
            plays = list(pool.map(lambda slug: self.play(kind, slug), slugs))
        return time.perf_counter() - start, plays

    def sweep(self, engine):
        """Tear down what is left, then remove any container or network of this run by name."""
        for slug in sorted(self.launched):
            self.play("teardown", slug)
        for container in engine.containers.list(all=True, filters={"name": self.run_id}):
            if container.name.startswith(f"bot-bottle-sidecars-{self.run_id}-"):
                container.remove(force=True)
        for network in engine.networks.list(filters={"name": self.run_id}):
            if network.name.startswith(f"bot-bottle-bundle-{self.run_id}-"):
                network.remove()


def sequential(lab: Lab, runs: int, load: LoadWatch) -> dict:
    plays = {"launch": [], "relaunch": [], "teardown": []}
    for index in range(runs):
        load.sample()
        slug = lab.slug(f"s{index}")
        plays["launch"].append(lab.play("launch", slug, profiled=True).check(changed=True))
        plays["relaunch"].append(lab.play("launch", slug, profiled=True).check(changed=False))
        plays["teardown"].append(lab.play("teardown", slug, profiled=True).check(changed=True))
        print(f"sequential {index + 1}/{runs}: launch {plays['launch'][-1].wall:.1f} s, relaunch "
              f"{plays['relaunch'][-1].wall:.1f} s, teardown {plays['teardown'][-1].wall:.1f} s",
              file=sys.stderr, flush=True)
    return plays


def failure_reason(play: Playbook) -> str:
    """The first error line of a failed playbook run."""
    for line in play.output.splitlines():
        if line.startswith("[ERROR]:"):
            return line[len("[ERROR]:"):].strip()
    return f"exit {play.returncode}"


def concurrent_launches(lab: Lab, levels: list, runs: int, load: LoadWatch) -> dict:
    """Launches at once. A launch that fails is recorded with its error, not hidden: with smolvm
    before 1.7.5 concurrent commands can find the state database locked."""
    results = {}
    for level in levels:
        rows = results.setdefault(level, [])
        for index in range(runs):
            load.sample()
            slugs = [lab.slug(f"c{level}r{index}n{n}") for n in range(level)]
            launch_total, launches = lab.at_once("launch", slugs)
            launched = [play for play in launches if play.returncode == 0]
            for play in launched:
                play.check(changed=True)
            failed = [dict(slug=play.slug, wall=play.wall, error=failure_reason(play))
                      for play in launches if play.returncode != 0]
            aliases = [lab.alias(play.slug) for play in launched]
            if len(set(aliases)) != len(aliases):
                raise RuntimeError(f"{level} launches at once got aliases {aliases}: not distinct")
            load.sample()
            teardown_total, teardowns = lab.at_once("teardown", slugs)
            for play in teardowns:
                play.check(changed=None)
            # What the role's rescue left of a failed launch: the teardown's changed count.
            left = {play.slug: play.recap["changed"] for play in teardowns}
            for failure in failed:
                failure["teardown_changed"] = left[failure["slug"]]
            rows.append(dict(launch_total=launch_total, launch_each=[p.wall for p in launched],
                             launch_cpu=[p.cpu for p in launched], failed=failed, teardown_total=teardown_total,
                             teardown_each=[p.wall for p in teardowns]))
            print(f"{level} at once, round {index + 1}/{runs}: launches {launch_total:.1f} s "
                  f"({len(failed)} failed), teardowns {teardown_total:.1f} s", file=sys.stderr, flush=True)
            for failure in failed:
                print(f"  launch of {failure['slug']} failed after {failure['wall']:.1f} s: {failure['error']} "
                      f"(its teardown changed {failure['teardown_changed']} things)", file=sys.stderr, flush=True)
    return results


def task_table(plays: dict, kinds: tuple):
    """Per-task medians across runs, in execution order (the first run's order)."""
    order = []
    samples = {}
    for kind in kinds:
        for play in plays[kind]:
            seen = {}
            for name, seconds in play.tasks:
                seen[name] = seen.get(name, 0) + 1
                key = (name, seen[name])
                if key not in samples:
                    samples[key] = {}
                    order.append(key)
                samples[key].setdefault(kind, []).append(seconds)
    header = " | ".join(f"{kind} (s)" for kind in kinds)
    print(f"| task | {header} |")
    print("|---|" + "---:|" * len(kinds))
    for key in order:
        name = key[0] if key[1] == 1 else f"{key[0]} (#{key[1]})"
        cells = " | ".join(f"{statistics.median(samples[key][kind]):.2f}" if kind in samples[key] else "-"
                           for kind in kinds)
        print(f"| {name} | {cells} |")
    totals = " | ".join(f"{statistics.median(p.wall for p in plays[kind]):.2f}" for kind in kinds)
    cpus = " | ".join(f"{statistics.median(p.cpu for p in plays[kind]):.2f}" for kind in kinds)
    counts = " | ".join(str(len(plays[kind][0].tasks)) for kind in kinds)
    print(f"| **whole ansible-playbook run, wall** | {totals} |")
    print(f"| whole run, CPU (user + system) | {cpus} |")
    print(f"| tasks profiled (includes and skipped ones count) | {counts} |")


def report(args, plays, results, load, docker_text):
    print(f"Machine: {machine()}; {docker_text}; smolvm stand-in {args.smolvm_version}. "
          f"Load during the run: {load.describe()}.\n")
    if plays:
        print(f"Sequential: medians of {args.runs} runs, each a new slug: launch, the same launch again "
              f"(changed=0), teardown.\n")
        task_table(plays, ("launch", "relaunch"))
        print()
        task_table(plays, ("teardown",))
    if results:
        print(f"\nConcurrent: medians of {args.concurrent_runs} rounds per level; per-launch figures over the "
              f"launches that succeeded.\n")
        print("| launches at once | launches: total wall (s) | per launch, median (s) | per launch, slowest (s) "
              "| per launch, CPU (s) | total / launches (s) | failed launches | teardowns at once: total wall (s) |")
        print("|---:|---:|---:|---:|---:|---:|---:|---:|")
        for level, rows in results.items():
            total = statistics.median(r["launch_total"] for r in rows)
            walls = [r["launch_each"] for r in rows if r["launch_each"]]
            each = statistics.median(statistics.median(w) for w in walls) if walls else float("nan")
            slowest = statistics.median(max(w) for w in walls) if walls else float("nan")
            cpu = statistics.median(c for r in rows for c in r["launch_cpu"]) if walls else float("nan")
            failed = sum(len(r["failed"]) for r in rows)
            teardown = statistics.median(r["teardown_total"] for r in rows)
            print(f"| {level} | {total:.1f} | {each:.1f} | {slowest:.1f} | {cpu:.1f} | {total / level:.2f} "
                  f"| {failed} of {level * len(rows)} | {teardown:.1f} |")
        errors = sorted({f["error"] for rows in results.values() for r in rows for f in r["failed"]})
        for error in errors:
            print(f"\nA failed launch said: {error}")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as handle:
            json.dump(dict(machine=machine(), docker=docker_text, load=load.samples,
                           sequential={kind: [dict(wall=p.wall, cpu=p.cpu, recap=p.recap, tasks=p.tasks)
                                              for p in kind_plays] for kind, kind_plays in plays.items()},
                           concurrent={str(level): rows for level, rows in results.items()}), handle, indent=2)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--runs", type=int, default=5, help="sequential launch/relaunch/teardown runs (default 5)")
    parser.add_argument("--levels", default="1,4,8", help="launches at once (default 1,4,8)")
    parser.add_argument("--concurrent-runs", type=int, default=3, help="rounds per level (default 3)")
    parser.add_argument("--smolvm-version", default="0.8.0",
                        help="the version the smolvm stand-in plays (default 0.8.0: create --from drops the "
                             "allowlist and the role patches it)")
    parser.add_argument("--json", help="also write every sample to this file")
    args = parser.parse_args()
    levels = [int(level) for level in args.levels.split(",") if level]

    import docker  # pylint: disable=import-outside-toplevel

    docker_host = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
    engine = docker.DockerClient(base_url=docker_host, version="auto")
    docker_text = docker_summary(engine)
    work = tempfile.mkdtemp(prefix="bench-launch-")
    load = LoadWatch()
    plays, results = {}, {}
    lab = None
    try:
        lab = Lab(work, docker_host, args.smolvm_version)
        check_collection(lab.env)
        if args.runs:
            plays = sequential(lab, args.runs, load)
        if levels and args.concurrent_runs:
            results = concurrent_launches(lab, levels, args.concurrent_runs, load)
        load.sample()
    finally:
        if lab is not None:
            lab.sweep(engine)
        shutil.rmtree(work, ignore_errors=True)
    report(args, plays, results, load, docker_text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
