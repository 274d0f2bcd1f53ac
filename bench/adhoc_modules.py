# Copyright: (c) 2026, bot-bottle developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Benchmark: an ad-hoc call of each module against `ansible localhost -m ansible.builtin.ping`.

Each module is called with arguments that make a realistic call that changes nothing:

- loopback_pool: the default pool on Linux (the kernel's local route already delivers it);
- bottle_alias, leased: a slug that already holds a lease (lease and lock files in a temporary
  directory, a random container prefix so no other bundle on the engine counts);
- bottle_alias, bound: a slug whose bundle container runs and publishes on its alias;
- bottle_alias, absent: releasing a slug that holds nothing (a second teardown);
- bottle_alias_info: the same pool, leases and prefix;
- smolvm_allowlist: a stopped machine in a smolvm stand-in DB (0.8.0) already holding the list;
- smolvm_machine: state=present on that existing machine (the stand-in as the executable).

Every round runs each call once, in an order rotated by one each round, so drift in the machine's
load spreads over all of them; the figures are medians over the rounds and the ratio of each
module's median to ping's (the target is at most 1.10). Each call is measured twice over: wall
time, and CPU time (user + system of the ansible process and everything it waited for: the forked
worker and the module's own process), which other work on a shared machine inflates far less.
All ad-hoc commands run with the same environment (interpreter named, so no discovery; the
stand-in's PATH and XDG_DATA_HOME; DOCKER_HOST).

Then, with --payload-runs > 0, where a module's extra cost comes from:
- the controller building the module's AnsiballZ payload (module_common.modify_module, in a fresh
  process as ansible does it for every task);
- the module side alone: each call's payload, kept with ANSIBLE_KEEP_REMOTE_FILES=1, run directly
  (`python AnsiballZ_<module>.py`), and its costliest imports (`python -X importtime`);
- for smolvm_machine, the two stand-in processes it runs per call (`smolvm --version`,
  `smolvm machine ls --json`), Python programs where the real smolvm is a native binary;
- what importing the Docker SDK costs in a fresh interpreter, against the standard library's HTTP
  client.

--baseline-collections runs every call a second time, interleaved, against another copy of the
collection (say, before a change); --only keeps the calls whose label holds a given word.

    ANSIBLE_COLLECTIONS_PATH=<copy root>:.build/deps DOCKER_HOST=... \\
        .venv/bin/python bench/adhoc_modules.py --runs 15 --json bench/results/adhoc_modules.json
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
import uuid

from _common import IMAGE, STANDINS, LoadWatch, ansible_env, check_collection, machine, measured, median_ms, run

NAMESPACE = "bot_bottle.smolmachines"
TARGET = 1.10
STANDIN_VERSION = "0.8.0"
ALLOWED = "127.0.0.16"
MODULE_UTILS = "ansible_collections.bot_bottle.smolmachines.plugins.module_utils."
# The controller's share that depends on the module: building its AnsiballZ payload (the module,
# the module_utils it imports, found by walking their ASTs), timed in a fresh process each time as
# ansible-core 2.19 does it for every task (its cache lives in a per-process directory).
BUILD_SNIPPET = """
import os, sys, time
from ansible.plugins.loader import init_plugin_loader, module_loader
init_plugin_loader(os.environ['ANSIBLE_COLLECTIONS_PATH'].split(os.pathsep))
from ansible.executor.module_common import modify_module
from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar
name = sys.argv[1]
path = module_loader.find_plugin_with_context(name).plugin_resolved_path
interpreter = dict(ansible_python_interpreter=sys.executable, ansible_playbook_python=sys.executable)
start, start_cpu = time.perf_counter(), time.process_time()
modify_module(module_name=name, module_path=path, module_args={}, templar=Templar(loader=DataLoader()),
              task_vars=interpreter, module_compression='ZIP_DEFLATED', environment={}, remote_is_local=True)
print(time.perf_counter() - start, time.process_time() - start_cpu)
"""


def adhoc_argv(module: str, args: dict | None) -> list:
    argv = ["ansible", "localhost", "-m", module]
    if args:
        argv += ["-a", json.dumps(args)]
    return argv


def adhoc_result(output: str) -> dict:
    """The module's result from the ad-hoc (minimal callback) output `localhost | SUCCESS => {...}`."""
    head, sep, body = output.partition("=>")
    if not sep or not ("SUCCESS" in head or "CHANGED" in head):
        raise RuntimeError(f"the ad-hoc call did not succeed:\n{output}")
    return json.loads(body)


class Case:
    def __init__(self, label, module, args=None, expect=None, env=None):
        self.label = label
        self.module = module
        self.args = args
        self.expect = expect or {}
        self.env = env  # None: the benchmark's environment
        self.payload = None
        # measure -> list of (wall, cpu) seconds
        self.samples = {"adhoc": [], "payload": [], "build": []}

    def argv(self):
        return adhoc_argv(self.module, self.args)

    def median(self, measure, index=0):
        values = [sample[index] for sample in self.samples[measure]]
        return statistics.median(values) if values else None

    def check(self, result: dict):
        if result.get("changed") or result.get("failed"):
            raise RuntimeError(f"{self.label}: expected a call that changes nothing, got {result}")
        for key, value in self.expect.items():
            if result.get(key) != value:
                raise RuntimeError(f"{self.label}: expected {key}={value!r}, got {result.get(key)!r} in {result}")


def prepare(work: str, env: dict, prefix: str, engine, containers: list):
    """Build the state every call finds (containers it starts go into `containers`); the cases."""
    standin = os.path.join(STANDINS, "smolvm")
    leases = dict(prefix=prefix, lease_path=os.path.join(work, "leases.json"),
                  lock_path=os.path.join(work, "smolmachines.lock"))
    cases = [Case("ansible.builtin.ping", "ansible.builtin.ping", expect=dict(ping="pong"))]
    if platform.system() == "Linux":
        cases.append(Case("loopback_pool", f"{NAMESPACE}.loopback_pool", dict(state="present"),
                          expect=dict(method="linux", added=[])))

    # A lease that outlives the benchmark, taken by a first call that changes the table.
    leased = dict(leases, slug="bench-leased", lease_ttl=86400)
    first = adhoc_result(run(adhoc_argv(f"{NAMESPACE}.bottle_alias", leased), env).stdout)
    assert first["changed"] and first["source"] == "allocated", first
    cases.append(Case("bottle_alias (leased)", f"{NAMESPACE}.bottle_alias", leased,
                      expect=dict(source="leased", alias=first["alias"])))

    # A running bundle that binds the next free alias, as after a launch.
    info = adhoc_result(run(adhoc_argv(f"{NAMESPACE}.bottle_alias_info", leases), env).stdout)
    bound_alias = next(a["alias"] for a in info["aliases"] if a["status"] == "free")
    containers.append(engine.containers.run(IMAGE, command=["sleep", "2147483647"], name=f"{prefix}bench-bound",
                                            detach=True, ports={"9099/tcp": (bound_alias, None)}))
    cases.append(Case("bottle_alias (bound)", f"{NAMESPACE}.bottle_alias", dict(leases, slug="bench-bound"),
                      expect=dict(source="bound", alias=bound_alias)))
    # A release with nothing to release, as a second teardown does: no Docker call is needed.
    cases.append(Case("bottle_alias (absent)", f"{NAMESPACE}.bottle_alias", dict(leases, slug="bench-gone", state="absent"),
                      expect=dict(source="none", alias=None)))
    cases.append(Case("bottle_alias_info", f"{NAMESPACE}.bottle_alias_info", leases))

    # A stopped machine whose record already holds the allowlist (smolvm 0.8.0 dropped it on
    # create --from; the first module call patches it).
    pack = os.path.join(work, "agent.smolmachine")
    with open(pack, "w", encoding="utf-8") as handle:
        json.dump({"image": "python:3.12-alpine", "cmd": ["python3", "app.py"]}, handle)
    run([standin, "machine", "create", "bench-vm", "--from", pack, "--net", "--allow-cidr", f"{ALLOWED}/32"], env)
    allowlist = dict(name="bench-vm", allowed_cidrs=[ALLOWED])
    patched = adhoc_result(run(adhoc_argv(f"{NAMESPACE}.smolvm_allowlist", allowlist), env).stdout)
    assert patched["changed"], patched
    cases.append(Case("smolvm_allowlist", f"{NAMESPACE}.smolvm_allowlist", allowlist,
                      expect=dict(machine_state="created")))
    cases.append(Case("smolvm_machine", f"{NAMESPACE}.smolvm_machine",
                      dict(name="bench-vm", state="present", executable=standin, smolmachine=pack, net=True,
                           allow_cidrs=[ALLOWED]),
                      expect=dict(commands=[])))
    return cases


def interleaved(cases, runs, measure, load):
    """Run measure(case) once per case per round, rotating the order each round."""
    for round_number in range(runs):
        load.sample()
        shift = round_number % len(cases)
        for case in cases[shift:] + cases[:shift]:
            measure(case)
    load.sample()


def keep_payloads(cases, work, env):
    """Each case's AnsiballZ payload, left behind by one call with ANSIBLE_KEEP_REMOTE_FILES=1."""
    for index, case in enumerate(cases):
        remote = os.path.join(work, "kept", str(index))
        run(case.argv(), dict(case.env or env, ANSIBLE_KEEP_REMOTE_FILES="1", ANSIBLE_REMOTE_TEMP=remote))
        found = glob.glob(os.path.join(remote, "*", "AnsiballZ_*.py"))
        if len(found) != 1:
            raise RuntimeError(f"{case.label}: expected one kept AnsiballZ payload under {remote}, found {found}")
        case.payload = found[0]


def top_imports(case, env, limit=6):
    """The payload's costliest imports (cumulative ms), from one `python -X importtime` run."""
    stderr = run([sys.executable, "-X", "importtime", case.payload], env).stderr
    rows = []
    for line in stderr.splitlines():
        if not line.startswith("import time:") or "cumulative" in line:
            continue
        _self, cumulative, name = (part.strip() for part in line[len("import time:"):].split("|"))
        if name.startswith(MODULE_UTILS) or (
                "." not in name and name not in ("encodings", "site")) or name in (
                "ansible.module_utils.basic", "docker.api.client", "requests", "urllib3"):
            rows.append((int(cumulative) / 1000, name))
    rows.sort(reverse=True)
    return rows[:limit]


# What a Docker read costs to import in a fresh interpreter that already has what every module
# loads: the Docker SDK, against the standard library's HTTP client (the other way to make the
# one list request over a Unix socket).
IMPORT_VARIANTS = (
    ("ansible.module_utils.basic", "import ansible.module_utils.basic"),
    ("+ docker (the SDK)", "import ansible.module_utils.basic, docker"),
    ("+ http.client, socket, json", "import ansible.module_utils.basic, http.client, socket, json"),
)


def import_costs(env, runs):
    samples = {label: [] for label, _code in IMPORT_VARIANTS}
    for _run in range(runs):
        for label, code in IMPORT_VARIANTS:
            samples[label].append(measured([sys.executable, "-c", code], env).cpu)
    return samples


def standin_cost(env, runs):
    """What the two stand-in processes smolvm_machine runs per call cost (the real smolvm is native)."""
    standin = os.path.join(STANDINS, "smolvm")
    samples = []
    for _run in range(runs):
        version = measured([standin, "--version"], env)
        listing = measured([standin, "machine", "ls", "--json"], env)
        samples.append((version.wall + listing.wall, version.cpu + listing.cpu))
    return samples


def report(cases, args, load, standin, imports, imported):
    ping = cases[0]

    def cell(case, measure, index=0):
        value = case.median(measure, index)
        return "-" if value is None else f"{value * 1000:.0f}"

    def ratio(case, measure, index=0):
        return case.median(measure, index) / ping.median(measure, index)

    print(f"Machine: {machine()}. Load during the run: {load.describe()}.")
    print(f"Medians of {args.runs} interleaved rounds of ad-hoc calls, {args.payload_runs} of payload runs and "
          f"of AnsiballZ builds. CPU = user + system time of the process and everything it waited for.\n")
    print("| call | ad hoc, wall (ms) | vs ping | ad hoc, CPU (ms) | vs ping | within 10% "
          "| AnsiballZ build, CPU (ms) | payload alone, wall (ms) | payload alone, CPU (ms) |")
    print("|---|---:|---:|---:|---:|:---:|---:|---:|---:|")
    for case in cases:
        wall, cpu = ratio(case, "adhoc"), ratio(case, "adhoc", 1)
        verdict = "yes" if wall <= TARGET else ("CPU only" if cpu <= TARGET else "NO")
        print(f"| {case.label} | {cell(case, 'adhoc')} | {wall:.2f} | {cell(case, 'adhoc', 1)} | {cpu:.2f} "
              f"| {verdict} | {cell(case, 'build', 1)} | {cell(case, 'payload')} | {cell(case, 'payload', 1)} |")
    if standin:
        print(f"\nThe two smolvm stand-in processes smolvm_machine runs per call (`smolvm --version`, "
              f"`smolvm machine ls --json`): {median_ms([w for w, _c in standin]):.0f} ms wall, "
              f"{median_ms([c for _w, c in standin]):.0f} ms CPU (median of {len(standin)}).")
    if imports:
        print("\nCostliest imports inside each payload (cumulative ms, one `python -X importtime` run):\n")
        for label, rows in imports.items():
            print(f"- {label}: " + ", ".join(f"{name.replace(MODULE_UTILS, 'module_utils.')} {ms:.0f}"
                                             for ms, name in rows))
    if imported:
        base = statistics.median(imported[IMPORT_VARIANTS[0][0]])
        print(f"\nCPU time of `python -c 'import ...'` in a fresh process (median of {args.payload_runs}):\n")
        print("| imports | CPU (ms) | over ansible.module_utils.basic alone (ms) |")
        print("|---|---:|---:|")
        for label, values in imported.items():
            print(f"| {label} | {median_ms(values):.0f} | {(statistics.median(values) - base) * 1000:+.0f} |")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as handle:
            json.dump(dict(machine=machine(), load=load.samples, runs=args.runs, payload_runs=args.payload_runs,
                           cases=[dict(label=c.label, module=c.module, args=c.args, samples=c.samples)
                                  for c in cases],
                           standin=standin, imports=imports, imported=imported), handle, indent=2)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--runs", type=int, default=15, help="interleaved ad-hoc rounds (default 15)")
    parser.add_argument("--payload-runs", type=int, default=15,
                        help="interleaved rounds of the payloads run directly and of the AnsiballZ builds "
                             "(default 15; 0 skips them)")
    parser.add_argument("--only", help="comma-separated words: only the calls whose label holds one of "
                                       "them (ping always runs)")
    parser.add_argument("--baseline-collections",
                        help="an ANSIBLE_COLLECTIONS_PATH holding another version of the collection (say, before "
                             "a change): every call but ping also runs against it, interleaved, labelled baseline")
    parser.add_argument("--json", help="also write every sample to this file")
    args = parser.parse_args()

    import docker  # pylint: disable=import-outside-toplevel

    work = tempfile.mkdtemp(prefix="bench-adhoc-")
    env = ansible_env(work, XDG_DATA_HOME=os.path.join(work, "xdg"), SMOLVM_STANDIN_VERSION=STANDIN_VERSION,
                      DOCKER_HOST=os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock"))
    check_collection(env)
    engine = docker.DockerClient(base_url=env["DOCKER_HOST"], version="auto")
    prefix = f"bench{uuid.uuid4().hex[:6]}-sidecars-"
    containers = []
    load = LoadWatch()
    standin, imports, imported = [], {}, {}
    try:
        cases = prepare(work, env, prefix, engine, containers)
        if args.only:
            words = args.only.split(",")
            cases = [cases[0]] + [case for case in cases[1:] if any(word in case.label for word in words)]
        if args.baseline_collections:
            baseline_env = dict(env, ANSIBLE_COLLECTIONS_PATH=args.baseline_collections)
            cases += [Case(f"{case.label}, baseline", case.module, case.args, case.expect, baseline_env)
                      for case in cases[1:]]

        def adhoc(case):
            result = measured(case.argv(), case.env or env)
            case.check(adhoc_result(result.stdout))
            case.samples["adhoc"].append((result.wall, result.cpu))

        def payload(case):
            result = measured([sys.executable, case.payload], env)
            case.check(json.loads(result.stdout))
            case.samples["payload"].append((result.wall, result.cpu))

        def build(case):
            result = measured([sys.executable, "-c", BUILD_SNIPPET, case.module], case.env or env)
            wall, cpu = (float(value) for value in result.stdout.split())
            case.samples["build"].append((wall, cpu))

        for case in cases:  # warm the page cache and check every call before timing any
            adhoc(case)
            case.samples["adhoc"].clear()
        interleaved(cases, args.runs, adhoc, load)
        if args.payload_runs:
            keep_payloads(cases, work, env)
            interleaved(cases, args.payload_runs, payload, load)
            interleaved(cases, args.payload_runs, build, load)
            if any(case.module.endswith(".smolvm_machine") for case in cases):
                standin = standin_cost(env, args.payload_runs)
            imports = {case.label: top_imports(case, env) for case in cases}
            imported = import_costs(env, args.payload_runs)
    finally:
        for container in containers:
            container.remove(force=True)
        shutil.rmtree(work, ignore_errors=True)
    report(cases, args, load, standin, imports, imported)
    return 0


if __name__ == "__main__":
    sys.exit(main())
