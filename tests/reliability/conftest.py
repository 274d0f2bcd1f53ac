# Copyright: (c) 2026, bot-bottle developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fixtures of the reliability suite: bottles launched, torn down and reaped by the collection's
playbooks, run as real ansible-playbook processes against the real Docker engine and the smolvm
stand-in (0.8.0, the version that drops --allow-cidr, so every launch patches the allowlist).

Each test gets a `lab`: a temporary directory for smolvm's data (XDG_DATA_HOME), the alias lock
and lease files and the packed machine; a random run id that starts every slug; and a pool of 14
aliases in a random /28 of 127.0.0.0/8, so that test runs sharing the engine do not meet. What a
test leaves behind (playbook processes, stand-in helpers, containers, networks, the directory) is
removed when it ends, passed or failed; the engine's name filters are searches, so names are
compared exactly before anything is removed.

Nothing waits by sleeping. A process's progress is read from its output as it comes, or from a
FIFO a stand-in hook writes to; the time limit only bounds a hung run, which is then killed.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import re
import secrets
import select
import shutil
import signal
import socket
import sqlite3
import struct
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import unquote_plus

import docker
import pytest
import yaml

COLLECTION_DIR = Path(__file__).resolve().parents[2]
STANDIN = COLLECTION_DIR / "tests" / "standins" / "smolvm"
INTEGRATION_CONFIG = COLLECTION_DIR / "tests" / "integration" / "integration_config.yml"
DEFAULT_IMAGE = "bot-bottle/test-bundle:1"
HOLD_LOCK_COMMAND = "__standin-hold-lock"

# Seconds one playbook run may take before it counts as hung and is killed. A launch takes a few
# seconds alone and well under a minute among eight on two busy cores.
RUN_TIMEOUT = 240
# Seconds to wait for a stand-in hook to report that a launch reached it.
HOOK_TIMEOUT = 120

# The label by which cleanup proves Docker parts this user's: the smolvm DB they belong to.
OWNER_LABEL = "bot_bottle.smolmachines.smolvm_db"
MACHINE = "bot-bottle-{}"
CONTAINER = "bot-bottle-sidecars-{}"
NETWORK = "bot-bottle-bundle-{}"

# The test-only stdout callback that prints one JSON event a line (task start, result, stats), as
# each happens: the suite reads these events, never the default callback's human output.
EVENT_CALLBACKS = COLLECTION_DIR / "tests" / "integration" / "targets" / "bottle_playbooks" / "callback_plugins"


class Run:
    """One ansible-playbook process in its own session. Its output (stdout and stderr) is read as
    it comes, into `lines` and a log file, and each JSON event line also into `events`;
    wait_for() blocks until an event matches. Past `timeout` a watchdog kills the whole run
    (kill()), which ends the output and every wait."""

    def __init__(self, argv, env, cwd, log_path, timeout=RUN_TIMEOUT):
        self.argv = argv
        self.log_path = log_path
        self.lines = []
        self.events = []
        self.timed_out = False
        self.killed = False
        self._done = False
        self._cond = threading.Condition()
        self.proc = subprocess.Popen(argv, env=env, cwd=cwd, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                     start_new_session=True)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self._watchdog = threading.Timer(timeout, self._expire)
        self._watchdog.daemon = True
        self._watchdog.start()

    def _read(self):
        with open(self.log_path, "w", encoding="utf-8") as log:
            for line in self.proc.stdout:
                log.write(line)
                event = _event(line)
                with self._cond:
                    self.lines.append(line.rstrip("\n"))
                    if event is not None:
                        self.events.append(event)
                    self._cond.notify_all()
        with self._cond:
            self._done = True
            self._cond.notify_all()

    def _expire(self):
        self.timed_out = True
        self.kill()

    def kill(self):
        """SIGKILL the playbook and every process it started.

        Ansible runs each task in a worker process that it puts in a session of its own, with the
        module and the commands it runs (smolvm) in the worker's process group: killing the
        playbook's group alone would leave the worker running the task. The playbook's group is
        stopped first, so that no new worker appears while the tree is read."""
        self.killed = True
        try:
            os.killpg(self.proc.pid, signal.SIGSTOP)
        except ProcessLookupError:
            return
        tree = _descendants(self.proc.pid)
        groups = {self.proc.pid} | {_group_of(pid) for pid in tree}
        for group in groups - {None}:
            try:
                os.killpg(group, signal.SIGKILL)
            except ProcessLookupError:
                pass
        for pid in tree:
            _wait_exited(pid)

    def wait(self) -> int:
        rc = self.proc.wait()
        self._reader.join()
        self._watchdog.cancel()
        assert not self.timed_out, f"{self.describe()} hung and was killed after {RUN_TIMEOUT} s:\n{self.tail()}"
        return rc

    def wait_for(self, status, task=None, msg=None) -> dict:
        """The first result event with this status (and task name, and words in its msg); fails if
        the output ends without one."""
        seen = 0
        with self._cond:
            while True:
                for event in self.events[seen:]:
                    if (event["event"] == "result" and event["status"] == status
                            and (task is None or _task_is(event, task))
                            and (msg is None or msg in str(event["result"].get("msg", "")))):
                        return event
                seen = len(self.events)
                if self._done:
                    raise AssertionError(f"{self.describe()} ended without a {status} result"
                                         f" of {task!r} saying {msg!r}:\n{self.tail()}")
                self._cond.wait()

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    def describe(self) -> str:
        return " ".join(self.argv[:2] + [a for a in self.argv if a.startswith("bottle_slug=")])

    def tail(self, count=40) -> str:
        return "\n".join(self.lines[-count:])

    def report(self) -> str:
        """What went wrong, for an assertion message: the failure and the output's end."""
        try:
            failure = self.failure()
        except (AssertionError, ValueError):
            failure = "(no failure message)"
        return f"{self.describe()}: {failure}\n{self.tail(15)}"

    def results(self, name=None) -> list:
        """The result events (of tasks named `name`), in order."""
        return [event for event in self.events
                if event["event"] == "result" and (name is None or _task_is(event, name))]

    def task_results(self, name) -> list:
        """The result words (ok, changed, fatal, skipping, ...) of the tasks named `name`."""
        return [event["status"] for event in self.results(name)]

    def shown(self, name) -> object:
        """The msg of the one result of the debug task named `name`."""
        found = [event["result"]["msg"] for event in self.results(name)]
        assert len(found) == 1, f"{self.describe()}: {name!r} ran {len(found)} times:\n{self.tail()}"
        return found[0]

    def failure(self) -> str:
        """The message of the last failed task (the role re-raises the one that stopped it)."""
        fatal = [event for event in self.results() if event["status"] == "fatal"]
        assert fatal, f"{self.describe()} printed no failure:\n{self.tail()}"
        return fatal[-1]["result"].get("msg", "")


def _event(line: str):
    """The JSON event a line of output holds, or None (warnings and the like)."""
    if not line.startswith("{"):
        return None
    try:
        return json.loads(line)
    except ValueError:
        return None


def _task_is(event: dict, name: str) -> bool:
    """Whether a result event is of the task `name` (a role's task may carry `role : `)."""
    return event["task"] == name or event["task"].endswith(f" : {name}")


def _descendants(root: int) -> list:
    """The pids of every live process below `root`, read from /proc."""
    children = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="ascii", errors="replace") as handle:
                stat = handle.read()
        except OSError:
            continue
        # The command name, in parentheses, may hold spaces: the fields after it are fixed.
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(parent, []).append(int(entry))
    found, pending = [], [root]
    while pending:
        for child in children.get(pending.pop(), []):
            found.append(child)
            pending.append(child)
    return found


def _wait_exited(pid: int, timeout: float = 30) -> None:
    """Block until process `pid` (not a child of ours) has exited: its pidfd turns readable."""
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return
    try:
        if not select.select([fd], [], [], timeout)[0]:
            raise AssertionError(f"process {pid} still runs {timeout} s after SIGKILL")
    finally:
        os.close(fd)


def alive(pid: int) -> bool:
    """Whether `pid` runs (a zombie, exited but not yet reaped by its parent, does not)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _group_of(pid: int):
    try:
        return os.getpgid(pid)
    except ProcessLookupError:
        return None


def _kill_groups_marked(marker: str) -> None:
    """SIGKILL every process group whose leader's command line holds `marker` (a lab's own
    directory): a safety net for workers a failed test left behind."""
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as handle:
                marked = marker.encode() in handle.read()
        except OSError:
            continue
        if marked and _group_of(int(entry)) == int(entry):
            try:
                os.killpg(int(entry), signal.SIGKILL)
            except ProcessLookupError:
                pass


class EngineCutter:
    """A Unix-socket proxy in front of the real Docker engine that stops "the engine" at one exact
    point of a launch: it forwards every connection until it sees the request bottle_alias makes
    (the one container list without filters: every running container may hold an address; the
    role's own lists filter on a name), serves that connection to its end, and refuses every
    connection made after it, as a stopped engine would. The listener is shut before the request
    is passed on, so no later connection can slip in."""

    REQUEST = re.compile(rb"(?:GET|POST|PUT|DELETE|HEAD) (\S+) HTTP/1\.[01]\r\n")

    def __init__(self, upstream: str, path: str):
        self.upstream = upstream
        self.path = path
        self.url = f"unix://{path}"
        self.requests = []
        self.tripped = threading.Event()
        self._lock = threading.Lock()
        self._sockets = []
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(path)
        self.listener.listen(16)
        self._acceptor = threading.Thread(target=self._accept, daemon=True)
        self._acceptor.start()

    def _accept(self):
        while True:
            try:
                client = self.listener.accept()[0]
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client):
        upstream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        with self._lock:
            self._sockets += [client, upstream]
        try:
            upstream.connect(self.upstream)
        except OSError:
            client.close()
            upstream.close()
            return
        back = threading.Thread(target=self._pump, args=(upstream, client, False), daemon=True)
        back.start()
        self._pump(client, upstream, True)
        back.join()
        client.close()
        upstream.close()

    def _pump(self, source, sink, watch):
        pending = b""
        try:
            while True:
                data = source.recv(65536)
                if not data:
                    break
                if watch:
                    pending = self._watch(pending + data)
                sink.sendall(data)
        except OSError:
            pass
        finally:
            try:
                sink.shutdown(socket.SHUT_WR)
            except OSError:
                pass

    def _watch(self, pending: bytes) -> bytes:
        end = 0
        for match in self.REQUEST.finditer(pending):
            target = unquote_plus(match.group(1).decode("latin-1"))
            self.requests.append(target)
            if ("/containers/json" in target and "filters=" not in target
                    and not self.tripped.is_set()):
                self.tripped.set()
                self._refuse()
            end = match.end()
        return pending[end:][-8192:]

    def _refuse(self):
        try:
            self.listener.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.listener.close()

    def close(self):
        self._refuse()
        with self._lock:
            for sock in self._sockets:
                try:
                    sock.close()
                except OSError:
                    pass


def _listening_sockets() -> set:
    """{(address, port), ...} of every listening TCP socket, read from /proc/net/tcp{,6}."""
    found = set()
    for name in ("tcp", "tcp6"):
        try:
            with open(f"/proc/net/{name}", encoding="ascii") as table:
                rows = table.read().splitlines()[1:]
        except FileNotFoundError:
            continue
        for row in rows:
            fields = row.split()
            if fields[3] != "0A":  # TCP_LISTEN
                continue
            address, port = fields[1].split(":")
            # Each 32-bit word is printed in host byte order.
            raw = b"".join(struct.pack("=I", int(address[i:i + 8], 16)) for i in range(0, len(address), 8))
            family = socket.AF_INET if len(raw) == 4 else socket.AF_INET6
            found.add((socket.inet_ntop(family, raw), int(port, 16)))
    return found


class Lab:
    """One test's world: its files, pool and slugs, the playbook runs, and independent readers of
    what exists (Docker through the SDK, smolvm's database through sqlite3, the lease file)."""

    def __init__(self, root: Path, client, image: str):
        self.root = root
        self.client = client
        self.image = image
        self.run_id = "rl" + secrets.token_hex(3)
        self.data = root / "data"
        self.db = self.data / "smolvm" / "server" / "smolvm.db"
        self.state = root / "state"
        self.lease_path = self.state / "leases.json"
        self.lock_path = self.state / "smolmachines.lock"
        self.smolmachine = root / "agent.smolmachine"
        # The stand-in's smolvm version: 0.8.0 drops --allow-cidr on `create --from`, so every
        # launch has to patch the allowlist.
        self.version = "0.8.0"
        self.smolmachine.write_text(json.dumps({"image": "bot-bottle/agent:test",
                                                "cmd": ["sleep", "infinity"]}))
        # A random /28 of 127.0.0.0/8 (second octet as the other test suites pick it, third octet
        # clear of theirs); .1 to .14 of it.
        base = f"127.{40 + secrets.randbelow(200)}.{3 + secrets.randbelow(252)}"
        start = 16 * secrets.randbelow(16)
        self.pool = [f"{base}.{start + i}" for i in range(1, 15)]
        self.runs = []
        self.cutters = []
        self.fifos = []
        self._files = 0

    # ---------------------------------------------------------------- names and inputs

    def slug(self, name: str) -> str:
        return f"{self.run_id}-{name}"

    def environment(self, **hooks) -> dict:
        """bottle_environment: the stand-in's data, version and interpreter, plus hooks."""
        env = {
            "XDG_DATA_HOME": str(self.data),
            "SMOLVM_STANDIN_VERSION": self.version,
            # The stand-in's `#!/usr/bin/env python` must find the interpreter running the tests.
            "PATH": f"{os.path.dirname(sys.executable)}:{os.environ.get('PATH', '')}",
        }
        env.update({key: str(value) for key, value in hooks.items()})
        return env

    def variables(self, **overrides) -> dict:
        variables = {
            "ansible_python_interpreter": "{{ ansible_playbook_python }}",
            "bottle_smolmachine": str(self.smolmachine),
            "bottle_bundle_image": self.image,
            "bottle_bundle_ports": [9099, 9418],
            "bottle_guest_url_env": {"GIT_URL": {"port": 9418, "scheme": "git"}},
            "bottle_smolvm_executable": str(STANDIN),
            "bottle_pool_first": self.pool[0],
            "bottle_pool_last": self.pool[-1],
            "bottle_lease_path": str(self.lease_path),
            "bottle_lock_path": str(self.lock_path),
            # The test sidecar runs under `sh -c`, which ignores SIGTERM as PID 1.
            "bottle_bundle_stop_timeout": 1,
            "bottle_wait_timeout": 20,
            # smolvm 0.8 (TSI) enforces no allowlist, so a probe of many bottles at once cannot pass;
            # the probe has its own tests (bottle_role, molecule). These are about locks and faults.
            "bottle_probe": False,
            "bottle_docker_host": os.environ["DOCKER_HOST"],
            "bottle_environment": self.environment(),
            # Cleanup must never reap another test run's bottles on the shared engine.
            "bottle_cleanup_match": f"^{self.run_id}-",
        }
        variables.update(overrides)
        return variables

    def _file(self, stem: str) -> Path:
        self._files += 1
        return self.root / f"{self._files:02d}-{stem}"

    # ---------------------------------------------------------------- running playbooks

    def start(self, playbook: str, slug: str | None = None, check: bool = False, **overrides) -> Run:
        """Start bot_bottle.smolmachines.<playbook> (launch, teardown, cleanup) in the background."""
        variables = self.variables(**overrides)
        label = f"{playbook}-{slug or 'all'}"
        if playbook == "launch" and slug is not None:
            variables["bottle_launch_output"] = str(self.fact_path(slug))
        vars_file = self._file(f"{label}.json")
        vars_file.write_text(json.dumps(variables))
        argv = ["ansible-playbook", f"bot_bottle.smolmachines.{playbook}", "-e", f"@{vars_file}"]
        if slug is not None:
            argv += ["-e", f"bottle_slug={slug}"]
        if check:
            argv.append("--check")
        env = dict(os.environ, PYTHONUNBUFFERED="1", ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0",
                   ANSIBLE_CALLBACK_PLUGINS=str(EVENT_CALLBACKS), ANSIBLE_STDOUT_CALLBACK="event_lines",
                   ANSIBLE_LOCALHOST_WARNING="false", ANSIBLE_INVENTORY_UNPARSED_WARNING="false",
                   ANSIBLE_RETRY_FILES_ENABLED="false")
        run = Run(argv, env, str(self.root), str(vars_file.with_suffix(".log")))
        self.runs.append(run)
        return run

    def run(self, playbook: str, slug: str | None = None, **overrides) -> Run:
        """Run a playbook to its end; `run.rc` holds its exit status."""
        run = self.start(playbook, slug, **overrides)
        run.rc = run.wait()
        return run

    def fact_path(self, slug: str) -> Path:
        return self.root / f"fact-{slug}.json"

    def fact(self, slug: str) -> dict:
        return json.loads(self.fact_path(slug).read_text())

    # ---------------------------------------------------------------- fault injection

    def fifo(self, stem: str) -> str:
        path = str(self._file(f"{stem}.fifo"))
        os.mkfifo(path, 0o600)
        self.fifos.append(path)
        return path

    def wait_for_hook(self, fifo: str, run: Run) -> int:
        """Block until a SMOLVM_STANDIN_BLOCK hook writes its pid to `fifo`; return the pid.
        Fails when the run ends first (the launch never reached the hook)."""
        # O_RDWR: opening does not wait for the stand-in, and the FIFO never reads as closed.
        fd = os.open(fifo, os.O_RDWR | os.O_NONBLOCK)
        deadline = time.monotonic() + HOOK_TIMEOUT
        try:
            said = b""
            while not said.endswith(b"\n"):
                # The wait is on the FIFO; the one-second slices only notice a launch that ended
                # (failed) before it reached the hook.
                if select.select([fd], [], [], 1)[0]:
                    said += os.read(fd, 64)
                elif run.proc.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(f"{run.describe()} did not reach the hook on {fifo}:\n"
                                         f"{run.tail()}")
            return int(said)
        finally:
            os.close(fd)

    def release(self, fifo: str) -> bool:
        """Let a SMOLVM_STANDIN_LOCK_AFTER_CREATE helper go; False when none holds the FIFO."""
        try:
            fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
        except OSError as exc:
            if exc.errno in (errno.ENXIO, errno.ENOENT):
                return False
            raise
        try:
            os.write(fd, b"x")
        finally:
            os.close(fd)
        return True

    def engine_cutter(self) -> EngineCutter:
        upstream = os.environ["DOCKER_HOST"]
        if not upstream.startswith("unix://"):
            pytest.skip(f"the engine cutter proxies a Unix socket; DOCKER_HOST={upstream}")
        cutter = EngineCutter(upstream[len("unix://"):], str(self._file("engine.sock")))
        self.cutters.append(cutter)
        return cutter

    def expire_lease(self, slug: str) -> None:
        """Make slug's lease run out now, as if its TTL had passed: rewritten under the allocation
        lock, the way bottle_alias writes the table."""
        with open(self.lock_path, "a+", encoding="utf-8") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            table = json.loads(self.lease_path.read_text())
            for lease in table["leases"]:
                if lease["slug"] == slug:
                    lease["expires_at"] = 0
            temporary = self.lease_path.with_suffix(".tmp")
            temporary.write_text(json.dumps(table))
            os.replace(temporary, self.lease_path)

    # ---------------------------------------------------------------- reading what exists

    def container(self, slug: str):
        name = CONTAINER.format(slug)
        found = [c for c in self.client.containers.list(all=True, filters={"name": name})
                 if c.name == name]
        return found[0] if found else None

    def network(self, slug: str):
        name = NETWORK.format(slug)
        found = [n for n in self.client.networks.list(names=[name]) if n.name == name]
        return found[0] if found else None

    def machines(self) -> dict:
        """Every VM record in smolvm's database, read with sqlite3 (read-only): {name: record}."""
        if not self.db.exists():
            return {}
        conn = sqlite3.connect(f"file:{self.db}?mode=ro", uri=True)
        try:
            rows = conn.execute("SELECT name, data, typeof(data) FROM vms").fetchall()
        finally:
            conn.close()
        records = {}
        for name, data, storage in rows:
            assert storage == "blob", f"{name} is stored as {storage}, which smolvm cannot read"
            records[name] = json.loads(bytes(data))
        return records

    def boot(self, slug: str):
        """The policy the stand-in booted the VM with at its last start, or None."""
        path = self.db.parent / "standin" / "boots" / f"{MACHINE.format(slug)}.json"
        return json.loads(path.read_text()) if path.exists() else None

    def leases(self) -> list:
        if not self.lease_path.exists():
            return []
        return json.loads(self.lease_path.read_text())["leases"]

    def lease(self, slug: str):
        found = [lease for lease in self.leases() if lease["slug"] == slug]
        return found[0] if found else None

    def left(self, slug: str) -> list:
        """Which parts of the bottle exist: a sorted list of container, lease, machine, network."""
        parts = {
            "container": self.container(slug) is not None,
            "network": self.network(slug) is not None,
            "machine": MACHINE.format(slug) in self.machines(),
            "lease": self.lease(slug) is not None,
        }
        return sorted(part for part, present in parts.items() if present)

    def db_unlocked(self) -> bool:
        conn = sqlite3.connect(str(self.db), timeout=0, isolation_level=None)
        try:
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("ROLLBACK")
            return True
        except sqlite3.OperationalError:
            return False
        finally:
            conn.close()

    def smolvm(self, *args) -> subprocess.CompletedProcess:
        """Run the stand-in as a user would, in this lab's data directory."""
        return subprocess.run([sys.executable, str(STANDIN), *args], env=dict(os.environ, **self.environment()),
                              stdin=subprocess.DEVNULL, capture_output=True, text=True, check=False,
                              timeout=60)

    listening_sockets = staticmethod(_listening_sockets)

    # ---------------------------------------------------------------- the end

    def close(self):
        for run in self.runs:
            if run.proc.poll() is None:
                run.kill()
            run.proc.wait()
        _kill_groups_marked(str(self.root))
        for fifo in self.fifos:
            self.release(fifo)
            self._kill_lock_holder(f"{fifo}.pid")
        for cutter in self.cutters:
            cutter.close()
        prefix = CONTAINER.format(self.run_id)
        for container in self.client.containers.list(all=True, filters={"name": prefix}):
            if container.name.startswith(prefix):
                container.remove(force=True)
        prefix = NETWORK.format(self.run_id)
        for network in self.client.networks.list(filters={"name": prefix}):
            if network.name.startswith(prefix):
                network.remove()
        shutil.rmtree(self.root, ignore_errors=True)

    @staticmethod
    def _kill_lock_holder(pid_file: str):
        try:
            with open(pid_file, encoding="ascii") as handle:
                pid = int(handle.read())
            with open(f"/proc/{pid}/cmdline", "rb") as handle:
                if HOLD_LOCK_COMMAND.encode() not in handle.read():
                    return
            os.kill(pid, signal.SIGKILL)
        except (OSError, ValueError):
            pass


@pytest.fixture(scope="session")
def docker_client():
    assert os.environ.get("DOCKER_HOST"), "run through scripts/test.sh, which exports DOCKER_HOST"
    client = docker.DockerClient(base_url=os.environ["DOCKER_HOST"], version="auto", timeout=60)
    yield client
    client.close()


@pytest.fixture(scope="session")
def test_image(docker_client):
    image = DEFAULT_IMAGE
    if INTEGRATION_CONFIG.exists():
        config = yaml.safe_load(INTEGRATION_CONFIG.read_text()) or {}
        image = config.get("bottle_test_image", image)
    docker_client.images.get(image)
    return image


@pytest.fixture
def lab(docker_client, test_image):
    # A short path: Unix sockets and FIFOs live in it (sun_path holds 108 bytes).
    root = Path(tempfile.mkdtemp(prefix="bb-rel-", dir="/tmp"))
    world = Lab(root, docker_client, test_image)
    try:
        yield world
    finally:
        world.close()
