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
import re
import shutil

from ansible_collections.bot_bottle.smolmachines.plugins.module_utils.errors import BottleError

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

_VERSION_RE = re.compile(r"^smolvm\s+v?(\d+)\.(\d+)\.(\d+)(?:[-+][0-9A-Za-z.+-]*)?$")

# What smolvm prints on SQLITE_BUSY; smolvm has then written nothing (its transaction rolled back).
DB_LOCKED = "database is locked"


class SmolvmError(BottleError):
    """Something about smolvm went wrong; when a smolvm command was involved its argv (returned as
    `cmd`), rc, stdout and stderr are facts, so the user gets smolvm's own words back."""

    def __init__(self, message, argv=None, rc=None, stdout=None, stderr=None, **facts):
        command = {"cmd": list(argv) if argv is not None else None, "rc": rc, "stdout": stdout, "stderr": stderr}
        super().__init__(message, **{key: value for key, value in command.items() if value is not None}, **facts)
        self.argv = command["cmd"]
        self.rc = rc
        self.stdout = stdout
        self.stderr = stderr


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
                f"`{resolved} --version` failed (exit {rc}): {smolvm_words(err, out)}; check that "
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
            raise SmolvmCommandError(f"smolvm {what} failed (exit {rc}): {smolvm_words(err, out)}",
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


def smolvm_words(stderr, stdout=""):
    text = (stderr or "").strip() or (stdout or "").strip()
    return text if text else "(smolvm printed nothing)"
