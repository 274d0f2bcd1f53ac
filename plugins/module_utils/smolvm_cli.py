# Copyright: (c) 2026, bot-bottle developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The smolvm command line: finding it, reading its version, shaping and running its commands.

Everything that depends on which smolvm is installed lives here, so the modules and the role
never spell an argv themselves. Commands run through a callable passed in (AnsibleModule's
run_command in a module, a fake in unit tests), always as an argv list, never through a shell.

The facts used here come from smolvm's own source at 0.8.0 and 1.9.3 (reference/smolvm.md).
"""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import time

from ansible_collections.bot_bottle.smolmachines.plugins.module_utils.durations import is_seconds
from ansible_collections.bot_bottle.smolmachines.plugins.module_utils.smolvm_record import (
    LIVE_STATES as _RECORD_LIVE_STATES, is_live,
)

DEFAULT_EXECUTABLE = "smolvm"

# The one table of version-dependent argument shapes: how each subcommand takes the machine's
# name, newest shape first. Before 1.0.2 `create` and `delete` take the name as a positional
# argument (and `create` with no name invents one); start, stop and exec always took --name.
# 1.9.3 rejects a bare positional name everywhere.
NAME_SHAPES = (
    ((1, 0, 2), {"create": "flag", "delete": "flag", "start": "flag", "stop": "flag", "exec": "flag"}),
    ((0, 0, 0), {"create": "positional", "delete": "positional", "start": "flag", "stop": "flag",
                 "exec": "flag"}),
)

# `machine create --from FILE` returns before it resolves the egress flags in these versions
# (inclusive): --allow-cidr is accepted and silently dropped, allowed_cidrs is stored as null.
FROM_DROPS_EGRESS = ((0, 5, 12), (1, 7, 7))

# States in which a machine may have a live VM process that `machine stop` must end (every
# version's; `failed` with a live pid counts too, see smolvm_record.is_live).
LIVE_STATES = _RECORD_LIVE_STATES

# `machine create --label KEY=VALUE` exists from 1.8.0.
LABELS_SINCE = (1, 8, 0)
# From 1.1.3 a machine with an allowlist runs on virtio-net (the guest's 127/8 is its own); up to
# 1.1.2 an allowlist forces TSI (the guest's 127.0.0.16 is the host's, and nothing is enforced).
VIRTIO_NET_FOR_ALLOWLIST_SINCE = (1, 1, 3)
# `--state-dir` (global) and `machine update --reset-allow-list --allow-cidr`: absent at 1.20.2 and
# before, present at 1.32.2; a version between is asked (its --help).
NEWEST_WITHOUT_STATE_DIR = (1, 20, 2)
OLDEST_WITH_STATE_DIR = (1, 32, 2)
# `machine ls --json` shows allowed_cidrs (and omits the key when null) from this version on.
LS_SHOWS_ALLOWLIST_SINCE = (1, 32, 2)

STATES = ("present", "started", "stopped", "absent")

_VERSION_RE = re.compile(r"^smolvm\s+v?(\d+)\.(\d+)\.(\d+)(?:[-+][0-9A-Za-z.+-]*)?$")

# Guest readiness probe: first retry after 0.25 s, doubling, never more than 2 s apart.
PROBE_FIRST_DELAY = 0.25
PROBE_MAX_DELAY = 2.0

# What smolvm prints when SQLite answers SQLITE_BUSY (`Error: database error: database is
# locked`). Before 1.7.5 smolvm's create and start read the row and then write it in one deferred
# transaction: when another command committed in between, the write is refused at once (SQLite
# does not wait on a stale read snapshot), the transaction rolls back and nothing is written. From
# 1.7.5 it takes the write lock first (BEGIN IMMEDIATE) and says this only after its own 15 s
# busy timeout, again having written nothing. SQLITE_LOCKED ("database table is locked") is
# another error and is not matched.
DB_LOCKED = "database is locked"
# Seconds a command refused on the lock is retried for, from its first refusal.
DEFAULT_LOCK_TIMEOUT = 30
# Backoff between retries: 0.1 s doubling to 2 s, each scaled by a random 50-100 % so that the
# launches that collided do not all come back at the same moment.
LOCK_FIRST_DELAY = 0.1
LOCK_MAX_DELAY = 2.0


class SmolvmError(Exception):
    """Something about smolvm went wrong; the message says what and what to do.

    argv, rc, stdout and stderr are set when a smolvm command was involved, so the caller can
    hand smolvm's own words back to the user.
    """

    def __init__(self, message, argv=None, rc=None, stdout=None, stderr=None):
        super().__init__(message)
        self.argv = list(argv) if argv is not None else None
        self.rc = rc
        self.stdout = stdout
        self.stderr = stderr

    @property
    def facts(self):
        """The command facts worth returning next to the message (only those that are known)."""
        facts = {"cmd": self.argv, "rc": self.rc, "stdout": self.stdout, "stderr": self.stderr}
        return {key: value for key, value in facts.items() if value is not None}


class SmolvmNotFoundError(SmolvmError):
    """The smolvm executable is not there."""


class SmolvmVersionError(SmolvmError):
    """`smolvm --version` failed or printed something that is not `smolvm X.Y.Z`."""


class SmolvmCommandError(SmolvmError):
    """A smolvm command exited non-zero (1 for smolvm's own errors, 2 for argument errors)."""


class SmolvmLockedError(SmolvmCommandError):
    """A smolvm command was refused on smolvm's locked database until db_timeout ran out."""


class SmolvmOutputError(SmolvmError):
    """A smolvm command succeeded but its output, or the state it left, is not what it claims."""


class MachineSpecError(SmolvmError):
    """The requested machine cannot be created as asked (bad option values, missing file)."""


def find_executable(executable=DEFAULT_EXECUTABLE, path=None):
    """Return the absolute path of the smolvm executable.

    A value with a slash is a path and must name an executable file; a bare name is looked up
    on PATH (or on ``path`` when given).
    """
    executable = os.path.expanduser(str(executable or ""))
    if not executable:
        raise SmolvmNotFoundError("executable is empty; expected the name or path of smolvm")
    if os.sep in executable:
        if os.path.isfile(executable) and os.access(executable, os.X_OK):
            return os.path.abspath(executable)
        raise SmolvmNotFoundError(
            f"smolvm executable {executable} does not exist or is not executable; "
            f"install smolvm or set executable to the path of the smolvm binary")
    found = shutil.which(executable, path=path)
    if not found:
        searched = path if path is not None else os.environ.get("PATH", "")
        raise SmolvmNotFoundError(
            f"smolvm executable {executable!r} was not found on PATH ({searched}); "
            f"install smolvm or set executable to the path of the smolvm binary")
    return os.path.abspath(found)


def parse_version(text):
    """Parse `smolvm --version` output into a (major, minor, patch) tuple and its text.

    Raises SmolvmVersionError when the output is not `smolvm X.Y.Z`.
    """
    lines = [line.strip() for line in str(text or "").splitlines() if line.strip()]
    match = _VERSION_RE.match(lines[0]) if lines else None
    if not match:
        shown = lines[0] if lines else ""
        raise SmolvmVersionError(
            f"cannot read smolvm's version: `--version` printed {shown!r}, expected 'smolvm X.Y.Z'; "
            f"check that executable is smol-machines' smolvm (the PyPI package named smolvm is "
            f"a different program)", stdout=text)
    numbers = tuple(int(part) for part in match.groups())
    return numbers, lines[0].split(None, 1)[1].lstrip("v")


def version_text(version):
    return ".".join(str(part) for part in version)


def name_shape(version, subcommand):
    """How ``subcommand`` takes the machine name at ``version``: "flag" or "positional"."""
    for since, shapes in NAME_SHAPES:
        if tuple(version) >= since:
            return shapes[subcommand]
    raise AssertionError("NAME_SHAPES must end with a (0, 0, 0) row")


def from_drops_egress(version):
    """True when `machine create --from` at ``version`` silently drops --allow-cidr."""
    first, last = FROM_DROPS_EGRESS
    return first <= tuple(version) <= last


def backend_with_allowlist(version):
    """The network backend smolvm ``version`` gives a machine that has an allowlist."""
    return "virtio-net" if tuple(version) >= VIRTIO_NET_FOR_ALLOWLIST_SINCE else "tsi"


def validate_name(name):
    name = str(name or "")
    if not name:
        raise MachineSpecError("name is empty; expected the machine's name, e.g. bot-bottle-researcher")
    if name.startswith("-"):
        raise MachineSpecError(
            f"name {name!r} starts with '-', which smolvm would read as an option; "
            f"choose a name that starts with a letter or digit")
    return name


class CreateOptions:
    """What `machine create` is asked for, validated and in the form the argv needs."""

    def __init__(self, smolmachine=None, image=None, net=False, allow_cidrs=None, env=None,
                 cpus=None, mem=None, labels=None):
        if smolmachine and image:
            raise MachineSpecError("smolmachine and image are mutually exclusive; give one of them")
        self.smolmachine = os.path.abspath(os.path.expanduser(smolmachine)) if smolmachine else None
        self.image = image or None
        self.net = bool(net)
        self.allow_cidrs = list(allow_cidrs or [])
        self.env = _env_pairs(env)
        self.cpus = _bounded("cpus", cpus, 1, 255)
        self.mem = _bounded("mem", mem, 1, 4294967295)
        self.labels = label_pairs(labels)

    def check_source(self):
        """Fail before anything runs when the packed .smolmachine is not a readable file."""
        if self.smolmachine is None:
            return
        if not os.path.isfile(self.smolmachine):
            raise MachineSpecError(
                f"smolmachine {self.smolmachine} does not exist or is not a file; expected the "
                f"packed .smolmachine to create the machine from (smolvm pack create ... -o NAME); "
                f"build it first or fix the path")
        if not os.access(self.smolmachine, os.R_OK):
            raise MachineSpecError(f"smolmachine {self.smolmachine} is not readable by this user")

    def flags(self, with_labels=True):
        argv = []
        if self.smolmachine:
            argv += ["--from", self.smolmachine]
        if self.image:
            argv += ["--image", self.image]
        if self.cpus is not None:
            argv += ["--cpus", str(self.cpus)]
        if self.mem is not None:
            argv += ["--mem", str(self.mem)]
        if self.net:
            argv.append("--net")
        for cidr in self.allow_cidrs:
            argv += ["--allow-cidr", cidr]
        for key, value in self.env:
            argv += ["-e", f"{key}={value}"]
        if with_labels:
            for key, value in self.labels:
                argv += ["--label", f"{key}={value}"]
        return argv


def _bounded(option, value, low, high):
    if value is None:
        return None
    if isinstance(value, bool):
        raise MachineSpecError(f"{option}={value!r} is not a number; expected an integer from {low} to {high}")
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise MachineSpecError(
            f"{option}={value!r} is not a number; expected an integer from {low} to {high}") from None
    if not low <= number <= high:
        raise MachineSpecError(f"{option}={number} is out of range; expected an integer from {low} to {high}")
    return number


def label_pairs(labels):
    pairs = []
    for key, value in (labels or {}).items():
        key = str(key)
        if not key or "=" in key or any(ch.isspace() or ord(ch) < 32 for ch in key):
            raise MachineSpecError(
                f"labels key {key!r} is not a label name; keys must be non-empty, without '=', "
                f"spaces or control characters")
        if isinstance(value, (bool, dict, list)) or value is None:
            raise MachineSpecError(f"labels {key}={value!r} is not a string; quote the value in YAML")
        value = str(value)
        if any(ord(ch) < 32 for ch in value):
            raise MachineSpecError(f"labels {key}={value!r} contains a control character")
        pairs.append((key, value))
    return pairs


def _env_pairs(env):
    pairs = []
    for key, value in (env or {}).items():
        key = str(key)
        if not key or "=" in key:
            raise MachineSpecError(
                f"env key {key!r} is not a variable name; keys must be non-empty and contain no '='")
        if isinstance(value, bool) or value is None or isinstance(value, (dict, list)):
            raise MachineSpecError(
                f"env {key}={value!r} is not a string; quote the value in YAML (e.g. \"true\", \"1\")")
        pairs.append((key, str(value)))
    return pairs


class SmolvmCli:
    """One smolvm executable at one version, and the commands this collection runs with it.

    ``run`` is called with an argv list and returns (rc, stdout, stderr); it must not use a shell.
    """

    def __init__(self, executable, run, version, state_dir=None):
        self.executable = executable
        self._run = run
        self.version = tuple(version)
        self.state_dir = os.path.abspath(os.path.expanduser(state_dir)) if state_dir else None
        self._help = {}

    @classmethod
    def discover(cls, run, executable=DEFAULT_EXECUTABLE, path=None, state_dir=None):
        """Find smolvm and read its version, so every later argv has the right shape."""
        resolved = find_executable(executable, path=path)
        argv = [resolved, "--version"]
        rc, out, err = run(argv)
        if rc != 0:
            raise SmolvmVersionError(
                f"`{resolved} --version` failed (exit {rc}): {_smolvm_words(err, out)}; check that "
                f"executable is smol-machines' smolvm", argv=argv, rc=rc, stdout=out, stderr=err)
        version, _text = parse_version(out)
        cli = cls(resolved, run, version)
        if state_dir:
            cli.use_state_dir(state_dir)
        return cli

    # what this version has -------------------------------------------------------------------

    def _help_mentions(self, words, flag):
        """Whether `smolvm WORDS --help` lists `flag` (asked once per run, for versions between
        the ones measured)."""
        key = tuple(words)
        if key not in self._help:
            _rc, out, err = self._run([self.executable] + list(words) + ["--help"])
            self._help[key] = (out or "") + (err or "")
        return re.search(r"(^|\s)" + re.escape(flag) + r"\b", self._help[key]) is not None

    def _has_newer_flag(self, words, flag):
        if self.version <= NEWEST_WITHOUT_STATE_DIR:
            return False
        if self.version >= OLDEST_WITH_STATE_DIR:
            return True
        return self._help_mentions(words, flag)

    @property
    def has_state_dir(self):
        return self._has_newer_flag([], "--state-dir")

    @property
    def has_labels(self):
        return self.version >= LABELS_SINCE

    @property
    def has_update_allow_list(self):
        """`machine update --reset-allow-list --allow-cidr` (smolvm's own way to set a list)."""
        return self._has_newer_flag(["machine", "update"], "--reset-allow-list")

    def use_state_dir(self, state_dir):
        """Pass `--state-dir` to every command, or refuse where this smolvm has no such flag."""
        if not self.has_state_dir:
            raise MachineSpecError(
                f"state_dir={state_dir!r} cannot be used with smolvm {self.version_string}: its "
                f"--state-dir flag exists from a version after 1.20.2 (1.32.2 has it); set "
                f"SMOLVM_DATA_DIR in the task's environment instead (smolvm >= 1.2.5 on Linux), "
                f"or upgrade smolvm")
        self.state_dir = os.path.abspath(os.path.expanduser(state_dir))

    def shown_allowlist(self, machine):
        """The allowlist `ls --json` shows for `machine` (an ls object); LookupError where this
        smolvm does not show it."""
        if "allowed_cidrs" in machine:
            return machine["allowed_cidrs"]
        if self.version >= LS_SHOWS_ALLOWLIST_SINCE:
            return None  # shown, and omitted because it is null
        raise LookupError("machine ls --json does not show allowed_cidrs at this version")

    @property
    def version_string(self):
        return version_text(self.version)

    # argv shapes -----------------------------------------------------------------------------

    def _base(self):
        argv = [self.executable]
        if self.state_dir:
            argv += ["--state-dir", self.state_dir]
        return argv

    def _named(self, subcommand, name):
        argv = self._base() + ["machine", subcommand]
        if name_shape(self.version, subcommand) == "flag":
            return argv + ["--name", name]
        return argv + [name]

    def create_argv(self, name, options):
        return self._named("create", name) + options.flags(with_labels=self.has_labels)

    def update_allowlist_argv(self, name, cidrs):
        argv = self._base() + ["machine", "update", "--name", name, "--reset-allow-list"]
        for cidr in cidrs:
            argv += ["--allow-cidr", cidr]
        return argv

    def start_argv(self, name):
        return self._named("start", name)

    def stop_argv(self, name):
        return self._named("stop", name)

    def delete_argv(self, name):
        # Without -f smolvm asks, and on a closed stdin prints "Cancelled" and exits 0.
        return self._named("delete", name) + ["-f"]

    def probe_argv(self, name):
        return self.exec_argv(name, ["true"])

    def exec_argv(self, name, command):
        return self._named("exec", name) + ["--"] + [str(part) for part in command]

    def list_argv(self):
        return self._base() + ["machine", "ls", "--json"]

    # running ---------------------------------------------------------------------------------

    def run(self, argv):
        """Run ``argv``; return stdout, or raise SmolvmCommandError carrying smolvm's stderr."""
        rc, out, err = self._run(argv)
        if rc != 0:
            what = " ".join(argv[1:3]) if len(argv) > 2 else argv[0]
            raise SmolvmCommandError(f"smolvm {what} failed (exit {rc}): {_smolvm_words(err, out)}",
                                     argv=argv, rc=rc, stdout=out, stderr=err)
        return out

    def try_run(self, argv):
        """Run ``argv`` and return (rc, stdout, stderr) whatever the exit code."""
        return self._run(argv)

    def list_machines(self):
        """Every machine as `machine ls --json` shows it: a list of dicts."""
        argv = self.list_argv()
        out = self.run(argv)
        try:
            machines = json.loads(out)
        except ValueError as exc:
            raise SmolvmOutputError(
                f"`smolvm machine ls --json` did not print JSON ({exc}); output began "
                f"{out[:200]!r}", argv=argv, stdout=out) from None
        if not isinstance(machines, list) or not all(isinstance(m, dict) for m in machines):
            raise SmolvmOutputError(
                f"`smolvm machine ls --json` printed {type(machines).__name__} JSON, expected an "
                f"array of machine objects; output began {out[:200]!r}", argv=argv, stdout=out)
        return machines

    def get_machine(self, name):
        """The `machine ls --json` object of machine ``name``, or None when there is none."""
        for machine in self.list_machines():
            if machine.get("name") == name:
                return machine
        return None


def _has_fields(expected, machine):
    """Whether ``machine`` (an `ls` object or None) still has every field of ``expected``."""
    if expected is None or machine is None:
        return expected is None and machine is None
    return all(machine.get(key) == value for key, value in expected.items())


def _describe_listing(machine):
    if machine is None:
        return "not listed"
    return f"listed in state {machine.get('state')!r} with pid {machine.get('pid')!r}"


class _Backoff:
    """The waits between a command's attempts: `first` seconds, doubling up to `most`, each scaled
    by `spread()`, and never past the deadline that start() sets."""

    def __init__(self, sleep, clock, first, most, spread=lambda: 1.0):
        self._sleep = sleep
        self._clock = clock
        self._delay = first
        self._most = most
        self._spread = spread
        self._deadline = None

    def start(self, timeout):
        """Sets the deadline `timeout` seconds from now, at the first call only."""
        if self._deadline is None:
            self._deadline = self._clock() + timeout

    def remaining(self):
        return self._deadline - self._clock()

    def wait(self):
        self._sleep(min(self._delay * self._spread(), self.remaining()))
        self._delay = min(self._delay * 2, self._most)


def _smolvm_words(stderr, stdout=""):
    text = (stderr or "").strip() or (stdout or "").strip()
    return text if text else "(smolvm printed nothing)"


class MachineManager:
    """Bring one machine to a wanted state: read once, decide, act (unless check mode), report.

    ``commands`` and ``changed`` stay readable after a failure, so the caller can report what
    already ran.
    """

    def __init__(self, cli, sleep=time.sleep, clock=time.monotonic, jitter=random.random,
                 db_path=None, alive=None):
        self.cli = cli
        self._db_path = db_path
        self._alive = alive
        self._sleep = sleep
        self._clock = clock
        self._jitter = jitter
        self._lock_timeout = DEFAULT_LOCK_TIMEOUT
        # The machine as it must still be listed when a command is refused on the lock: the
        # whole `ls` object read before the first command, then the fields each command that
        # succeeded is known to leave (None: not listed).
        self._expected = None
        self.commands = []
        self.changed = False
        self.lock_retries = 0
        self.warnings = []

    @property
    def db_path(self):
        # Named in lock errors only. Imported here: smolvm_db loads sqlite3, which a call that
        # meets no lock has no use for (docs/performance.md counts every import).
        if self._db_path:
            return self._db_path
        from ansible_collections.bot_bottle.smolmachines.plugins.module_utils.smolvm_db import (  # pylint: disable=import-outside-toplevel
            default_db_path,
        )
        return default_db_path(state_dir=self.cli.state_dir, smolvm_version=self.cli.version)

    def _live(self, machine):
        if machine is None:
            return False
        if self._alive is None:
            return is_live(machine.get("state"), machine.get("pid"))
        return is_live(machine.get("state"), machine.get("pid"), self._alive)

    def ensure(self, name, state="present", options=None, wait=False, wait_timeout=60,
               check_mode=False, lock_timeout=DEFAULT_LOCK_TIMEOUT, allowlist_mismatch="warn"):
        name = validate_name(name)
        if state not in STATES:
            raise MachineSpecError(f"state={state!r} is not one of {', '.join(STATES)}")
        if wait and not is_seconds(wait_timeout):
            raise MachineSpecError(
                f"wait_timeout={wait_timeout!r} is not a positive number of seconds; "
                f"expected e.g. 60")
        if not is_seconds(lock_timeout, zero_ok=True):
            raise MachineSpecError(
                f"db_timeout={lock_timeout!r} is not a number of seconds of 0 or more; "
                f"expected e.g. {DEFAULT_LOCK_TIMEOUT} (0 retries nothing)")
        self._lock_timeout = lock_timeout
        options = options or CreateOptions()
        before = self.cli.get_machine(name)
        before_state = before.get("state", "unknown") if before else "absent"
        current = before_state
        self._expected = dict(before) if before is not None else None

        if state == "absent":
            if before is not None:
                # smolvm 0.8 deletes a running machine's record without stopping its VM
                # process; stop it first so no VM outlives its record.
                if self._live(before):
                    self._act(name, self.cli.stop_argv(name), check_mode, {"state": "stopped"})
                self._act(name, self.cli.delete_argv(name), check_mode, None)
                if not check_mode:
                    self._delete_until_gone(name)
                current = "absent"
        else:
            if before is None:
                options.check_source()
                self._act(name, self.cli.create_argv(name, options), check_mode,
                          {"state": "created", "pid": None})
                self._warn_dropped_egress(name, options, check_mode, starts=state == "started")
                self._warn_unlabelled(options)
                current = "created"
            else:
                self._warn_differences(name, before, options)
                self._compare_allowlist(name, before, options, allowlist_mismatch)
            if state == "started" and current != "running":
                self._act(name, self.cli.start_argv(name), check_mode, {"state": "running"})
                current = "running"
            elif state == "stopped" and self._live(before):
                self._act(name, self.cli.stop_argv(name), check_mode, {"state": "stopped"})
                current = "stopped"

        after = before
        if not check_mode:
            if self.changed:
                after = self.cli.get_machine(name)
                self._verify(name, state, after)
                current = after.get("state", "unknown") if after else "absent"
            if state == "started" and wait:
                self._wait(name, wait_timeout)

        return {
            "changed": self.changed,
            # In check mode nothing changed, so the machine is reported as it is now.
            "machine": dict(after) if after else {},
            "version": self.cli.version_string,
            "commands": [list(argv) for argv in self.commands],
            "lock_retries": self.lock_retries,
            "diff": {"before": {"name": name, "state": before_state},
                     "after": {"name": name, "state": current}},
            "warnings": list(self.warnings),
        }

    def _act(self, name, argv, check_mode, expected_after):
        """Run one command that changes the machine; ``expected_after`` is what it is known to leave
        listed (None: nothing), for the lock check of the next command."""
        self.commands.append(argv)
        if not check_mode:
            self._run_through_lock(name, argv)
        # Only once the command succeeded (or would run, in check mode): a refused create
        # changed nothing.
        self.changed = True
        self._expected = expected_after

    def _run_through_lock(self, name, argv):
        """Run ``argv``; while smolvm refuses it on its locked database and the machine is
        provably as it was before, run it again with backoff, for up to lock_timeout seconds.

        Every other failure is raised at once. A refusal is retried only when `machine ls
        --json` still shows what the command would have changed exactly as before it ran:
        smolvm's transaction rolled back and the command's write did not land.

        A refused start may have launched its VM before its write was refused (the stand-in
        writes its boot record first; whether smolvm 0.8 leaves a VM process then is not known
        from the reference). Running it again does not add to that: it boots from the same,
        unchanged row and records its own pid, and without the retry the launch would fail
        with the same leftover.
        """
        what = " ".join(argv[1:3])
        backoff = _Backoff(self._sleep, self._clock, LOCK_FIRST_DELAY, LOCK_MAX_DELAY,
                           spread=lambda: 0.5 + self._jitter() / 2)
        attempts = 0
        while True:
            attempts += 1
            rc, out, err = self.cli.try_run(argv)
            if rc == 0:
                return out
            said = _smolvm_words(err, out)
            facts = dict(argv=argv, rc=rc, stdout=out, stderr=err)
            if DB_LOCKED not in (err or ""):
                raise SmolvmCommandError(f"smolvm {what} failed (exit {rc}): {said}", **facts)
            now = self.cli.get_machine(name)
            if not _has_fields(self._expected, now):
                raise SmolvmCommandError(
                    f"smolvm {what} failed (exit {rc}) on smolvm's locked database "
                    f"{self.db_path}: {said}; not retried, because machine {name} is no longer "
                    f"as it was before the command (it is now {_describe_listing(now)}, it was "
                    f"{_describe_listing(self._expected)}), so part of it may have taken effect; look at "
                    f"`smolvm machine ls` before running it again", **facts)
            backoff.start(self._lock_timeout)
            if backoff.remaining() <= 0:
                raise SmolvmLockedError(
                    f"smolvm {what} for machine {name} was refused on a locked database "
                    f"{attempts} time(s) in a row over db_timeout={self._lock_timeout:g} s: "
                    f"{said}; smolvm's database {self.db_path} stayed locked by another smolvm "
                    f"command or another process holding it open in a transaction. Nothing was "
                    f"written: machine {name} is {_describe_listing(now)}, as before. Wait for the other "
                    f"command to end and run again, or raise db_timeout", **facts)
            backoff.wait()
            self.lock_retries += 1

    def _delete_until_gone(self, name):
        """smolvm 1.4.0 exits 0 from `delete -f` while the DB is locked, with only a warning, and
        leaves the row: re-list, and run the delete again (with backoff, up to db_timeout) while
        the machine is still listed as it was."""
        argv = self.cli.delete_argv(name)
        backoff = _Backoff(self._sleep, self._clock, LOCK_FIRST_DELAY, LOCK_MAX_DELAY,
                           spread=lambda: 0.5 + self._jitter() / 2)
        while True:
            left = self.cli.get_machine(name)
            if left is None:
                return
            backoff.start(self._lock_timeout)
            if backoff.remaining() <= 0:
                return  # _verify names the machine still listed
            backoff.wait()
            self.lock_retries += 1
            self._run_through_lock(name, argv)

    def _compare_allowlist(self, name, machine, options, mismatch):
        """Where `ls --json` shows the allowlist, compare it with the one asked for."""
        if not options.allow_cidrs:
            return
        try:
            shown = self.cli.shown_allowlist(machine)
        except LookupError:
            return
        from ansible_collections.bot_bottle.smolmachines.plugins.module_utils.cidr import (  # pylint: disable=import-outside-toplevel
            same_allowlist,
        )
        if isinstance(shown, list) and same_allowlist(shown, options.allow_cidrs):
            return
        message = (f"machine {name} already exists with allowed_cidrs {shown!r} (as `smolvm "
                   f"machine ls --json` shows it), not {options.allow_cidrs}; smolvm_machine does "
                   f"not change an existing machine: set its list with "
                   f"bot_bottle.smolmachines.smolvm_allowlist, or delete and create it again")
        if mismatch == "fail":
            raise MachineSpecError(message + " (allowlist_mismatch=fail)")
        self.warnings.append(message)

    def _verify(self, name, state, after):
        # smolvm can exit 0 having done nothing (delete without -f prints "Cancelled"), so what
        # counts is the state `machine ls --json` reports afterwards.
        argv = self.cli.list_argv()
        if state == "absent":
            if after is not None:
                raise SmolvmOutputError(
                    f"smolvm exited 0 but machine {name} is still listed (state "
                    f"{after.get('state')!r}); delete it by hand with "
                    f"`{' '.join(self.cli.delete_argv(name))}` and look at smolvm's output", argv=argv)
            return
        if after is None:
            raise SmolvmOutputError(
                f"smolvm machine create exited 0 but machine {name} is not listed by "
                f"`smolvm machine ls --json`; check smolvm's state directory", argv=argv)
        got = after.get("state")
        if state == "started" and got != "running":
            raise SmolvmOutputError(
                f"smolvm machine start exited 0 but machine {name} is {got!r}, not 'running'; "
                f"look at the machine's logs and start it by hand to see why", argv=argv)
        if state == "stopped" and self._live(after):
            raise SmolvmOutputError(
                f"smolvm machine stop exited 0 but machine {name} is still {got!r}", argv=argv)

    def _wait(self, name, timeout):
        argv = self.cli.probe_argv(name)
        self.commands.append(argv)
        backoff = _Backoff(self._sleep, self._clock, PROBE_FIRST_DELAY, PROBE_MAX_DELAY)
        backoff.start(timeout)
        attempts = 0
        while True:
            attempts += 1
            rc, out, err = self.cli.try_run(argv)
            if rc == 0:
                return attempts
            if backoff.remaining() <= 0:
                raise SmolvmCommandError(
                    f"machine {name} did not answer `machine exec -- true` within {timeout} s "
                    f"({attempts} attempts); last error (exit {rc}): {_smolvm_words(err, out)}; raise "
                    f"wait_timeout if the guest boots slowly", argv=argv, rc=rc, stdout=out, stderr=err)
            backoff.wait()

    def _warn_unlabelled(self, options):
        if options.labels and not self.cli.has_labels:
            self.warnings.append(
                f"labels ({', '.join(f'{k}={v}' for k, v in options.labels)}) were not set: smolvm "
                f"{self.cli.version_string} has no --label (it exists from 1.8.0)")

    def _warn_dropped_egress(self, name, options, check_mode, starts):
        if not (options.smolmachine and options.allow_cidrs and from_drops_egress(self.cli.version)):
            return
        verb = "would drop" if check_mode else "dropped"
        if options.net:
            left = "networking on and no egress allowlist (allowed_cidrs is null): unrestricted egress"
        else:
            left = "no egress allowlist (allowed_cidrs is null), and --allow-cidr did not turn networking on"
        if starts:
            todo = (f"state=started starts it straight away, unconfined: stop it, run "
                    f"bot_bottle.smolmachines.smolvm_allowlist with name={name}, then start it "
                    f"(or create it with state=present first).")
        else:
            todo = (f"Run bot_bottle.smolmachines.smolvm_allowlist with name={name} before the "
                    f"machine starts.")
        self.warnings.append(
            f"smolvm {self.cli.version_string} {verb} allow_cidrs ({', '.join(options.allow_cidrs)}) "
            f"on `machine create --from` (a smolvm bug in 0.5.12 to 1.7.7, fixed in 1.8.0): machine "
            f"{name} has {left}. {todo}")

    def _warn_differences(self, name, machine, options):
        wanted = []
        if options.cpus is not None and machine.get("cpus") != options.cpus:
            wanted.append(f"cpus={options.cpus} (it has {machine.get('cpus')})")
        if options.mem is not None and machine.get("memory_mib") != options.mem:
            wanted.append(f"mem={options.mem} (it has memory_mib={machine.get('memory_mib')})")
        if options.net and machine.get("network") is False:
            wanted.append("net=true (it has networking off)")
        if options.image and machine.get("image") != options.image:
            wanted.append(f"image={options.image} (it has {machine.get('image')})")
        if wanted:
            self.warnings.append(
                f"machine {name} already exists and differs from what was asked: {', '.join(wanted)}. "
                f"smolvm_machine does not change an existing machine; delete it (state=absent) and "
                f"create it again, or change it with `smolvm machine update` while it is stopped.")
