# Copyright: (c) 2026, bot-bottle developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Helpers the benchmarks in bench/ share: the checkout made importable, timing, the machine and
its load, and the environment for running Ansible on the collection copy.

Not a test and not part of the collection's content; the scripts next to it import it by name
(`python bench/<script>.py` puts bench/ on sys.path).
"""

from __future__ import annotations

import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.path.join(ROOT, ".build")
IMAGE = "bot-bottle/test-bundle:1"
STANDINS = os.path.join(ROOT, "tests", "standins")
# Where scripts/sync-collection.sh copies the collection and where scripts/setup.sh puts
# community.docker, unless the caller says otherwise (ANSIBLE_COLLECTIONS_PATH).
DEFAULT_COLLECTIONS_PATH = os.pathsep.join(
    [os.environ.get("BOTTLE_COLLECTIONS_ROOT", os.path.join(BUILD, "collections")), os.path.join(BUILD, "deps")])


def import_collection():
    """Make the checkout importable as ansible_collections.bot_bottle.smolmachines."""
    shim = tempfile.mkdtemp(prefix="bench-collections-")
    os.makedirs(os.path.join(shim, "ansible_collections", "bot_bottle"))
    os.symlink(ROOT, os.path.join(shim, "ansible_collections", "bot_bottle", "smolmachines"))
    sys.path.insert(0, shim)
    return shim


def timed(function, runs: int) -> list:
    samples = []
    for _run in range(runs):
        start = time.perf_counter()
        function()
        samples.append(time.perf_counter() - start)
    return samples


def median_ms(samples) -> float:
    return statistics.median(samples) * 1000


def machine() -> str:
    cpu = platform.processor() or "unknown CPU"
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return f"{platform.system()} {platform.release()}, {os.cpu_count()} x {cpu}, Python {platform.python_version()}"


def load_average() -> float | None:
    """The 1-minute load average now (other helpers' test runs share the CPUs)."""
    try:
        return round(os.getloadavg()[0], 2)
    except OSError:
        return None


class LoadWatch:
    """The 1-minute load averages seen at each sample() call, summarised as min-max."""

    def __init__(self):
        self.samples = []

    def sample(self):
        value = load_average()
        if value is not None:
            self.samples.append(value)

    def describe(self) -> str:
        if not self.samples:
            return "unknown"
        return f"{min(self.samples):.1f} to {max(self.samples):.1f} (1-minute load average on {os.cpu_count()} CPUs)"


def collections_path() -> str:
    return os.environ.get("ANSIBLE_COLLECTIONS_PATH") or DEFAULT_COLLECTIONS_PATH


def ansible_env(work: str, extra_collections: str | None = None, **extra) -> dict:
    """The environment every Ansible process of a benchmark runs with.

    The interpreter is named (no discovery, the same for every call), the stand-ins' `#!/usr/bin/env
    python` finds this interpreter, the warnings about the implicit localhost are off, and Ansible's
    temporary files stay under `work`.
    """
    env = dict(os.environ)
    paths = collections_path()
    if extra_collections:
        paths = os.pathsep.join([paths, extra_collections])
    env.update(
        ANSIBLE_COLLECTIONS_PATH=paths,
        ANSIBLE_PYTHON_INTERPRETER=sys.executable,
        ANSIBLE_LOCALHOST_WARNING="false",
        ANSIBLE_INVENTORY_UNPARSED_WARNING="false",
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_LOCAL_TEMP=os.path.join(work, "ansible-local"),
        ANSIBLE_REMOTE_TEMP=os.path.join(work, "ansible-remote"),
        PATH=os.pathsep.join([os.path.dirname(sys.executable), os.environ.get("PATH", "")]),
    )
    env.update(extra)
    return env


def check_collection(env: dict) -> None:
    """Fail early, naming the fix, when the collection copy or community.docker is missing."""
    for relative in ("bot_bottle/smolmachines/galaxy.yml", "community/docker"):
        if not any(os.path.exists(os.path.join(p, "ansible_collections", relative))
                   for p in env["ANSIBLE_COLLECTIONS_PATH"].split(os.pathsep) if p):
            sys.exit(f"ansible_collections/{relative} is not under ANSIBLE_COLLECTIONS_PATH="
                     f"{env['ANSIBLE_COLLECTIONS_PATH']}; run scripts/bench.sh (it syncs the copy) "
                     f"or scripts/sync-collection.sh first")


class Measured:
    """A finished process: its output, its wall time, and the CPU time (user + system) it and every
    process it waited for used, which the other processes sharing the machine inflate far less."""

    def __init__(self, argv, returncode, stdout, stderr, wall, cpu):
        self.argv = argv
        self.returncode = returncode
        self.stdout = stdout
        self.stderr = stderr
        self.wall = wall
        self.cpu = cpu


def measured(argv, env: dict, check: bool = True) -> Measured:
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        process = subprocess.Popen(argv, env=env, stdout=out, stderr=err)  # pylint: disable=consider-using-with
        # wait4 rather than wait: its resource usage covers the process and all it reaped (for
        # ansible: the forked worker and, through it, the module's own process).
        _pid, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - start
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        result = Measured(argv, process.returncode, out.read().decode(errors="replace"),
                          err.read().decode(errors="replace"), wall, usage.ru_utime + usage.ru_stime)
    if check and result.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} exited {result.returncode}:\n{result.stdout}\n{result.stderr}")
    return result


def run(argv, env: dict, check: bool = True, **kwargs) -> subprocess.CompletedProcess:
    result = subprocess.run(argv, env=env, capture_output=True, text=True, check=False, **kwargs)
    if check and result.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} exited {result.returncode}:\n{result.stdout}\n{result.stderr}")
    return result


def docker_summary(client) -> str:
    info = client.info()
    import docker  # pylint: disable=import-outside-toplevel
    return (f"Docker {info.get('ServerVersion')} ({info.get('Driver')} storage), API "
            f"{client.version().get('ApiVersion')}; docker SDK {docker.__version__}")
