# Copyright: (c) 2026, bot-bottle developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""One smolvm machine's life cycle: create, start, stop, delete, through smolvm's DB lock."""

from __future__ import annotations

import random
import time

from ansible_collections.bot_bottle.smolmachines.plugins.module_utils.backoff import Backoff
from ansible_collections.bot_bottle.smolmachines.plugins.module_utils.durations import is_seconds
from ansible_collections.bot_bottle.smolmachines.plugins.module_utils.results import ModuleResult
from ansible_collections.bot_bottle.smolmachines.plugins.module_utils.smolvm_cli import (
    DB_LOCKED, CreateOptions, MachineSpecError, SmolvmCommandError, SmolvmLockedError, SmolvmOutputError,
    from_drops_egress, smolvm_words, validate_name,
)
from ansible_collections.bot_bottle.smolmachines.plugins.module_utils.smolvm_record import is_live, pid_alive

STATES = ("present", "started", "stopped", "absent")

# Guest readiness probe: first retry after 0.25 s, doubling, never more than 2 s apart.
PROBE_FIRST_DELAY = 0.25
PROBE_MAX_DELAY = 2.0

# Seconds a command refused on the lock is retried for, from its first refusal.
DEFAULT_DB_TIMEOUT = 30
# 0.1 s doubling to 2 s, each scaled by a random 50-100 % so that colliding launches spread out.
LOCK_FIRST_DELAY = 0.1
LOCK_MAX_DELAY = 2.0


def _has_fields(expected, machine):
    """Whether ``machine`` (an `ls` object or None) still has every field of ``expected``."""
    if expected is None or machine is None:
        return expected is None and machine is None
    return all(machine.get(key) == value for key, value in expected.items())


def _describe_listing(machine):
    if machine is None:
        return "not listed"
    return f"listed in state {machine.get('state')!r} with pid {machine.get('pid')!r}"


class MachineManager:
    """Bring one machine to a wanted state: read once, decide, act (unless check mode), report.

    ``commands`` and ``changed`` stay readable after a failure, so the caller can report what
    already ran.
    """

    def __init__(self, cli, sleep=time.sleep, clock=time.monotonic, jitter=random.random,
                 db_path=None, alive=pid_alive):
        self.cli = cli
        self._db_path = db_path
        self._alive = alive
        self._sleep = sleep
        self._clock = clock
        self._jitter = jitter
        self._db_timeout = DEFAULT_DB_TIMEOUT
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

    def _has_live_vm(self, machine):
        return machine is not None and is_live(machine.get("state"), machine.get("pid"), self._alive)

    def _lock_backoff(self):
        return Backoff(self._sleep, self._clock, LOCK_FIRST_DELAY, LOCK_MAX_DELAY,
                       spread=lambda: 0.5 + self._jitter() / 2)

    def ensure(self, name, state="present", options=None, wait=False, wait_timeout=60,
               check_mode=False, db_timeout=DEFAULT_DB_TIMEOUT, allowlist_mismatch="warn"):
        name = validate_name(name)
        if state not in STATES:
            raise MachineSpecError(f"state={state!r} is not one of {', '.join(STATES)}")
        if wait and not is_seconds(wait_timeout):
            raise MachineSpecError(
                f"wait_timeout={wait_timeout!r} is not a positive number of seconds; "
                f"expected e.g. 60")
        if not is_seconds(db_timeout, zero_ok=True):
            raise MachineSpecError(
                f"db_timeout={db_timeout!r} is not a number of seconds of 0 or more; "
                f"expected e.g. {DEFAULT_DB_TIMEOUT} (0 retries nothing)")
        self._db_timeout = db_timeout
        options = options or CreateOptions()
        listed_after_delete = None
        before = self.cli.get_machine(name)
        before_state = before.get("state", "unknown") if before else "absent"
        current = before_state
        self._expected = dict(before) if before is not None else None

        if state == "absent":
            if before is not None:
                # smolvm 0.8 deletes a running machine's record without stopping its VM
                # process; stop it first so no VM outlives its record.
                if self._has_live_vm(before):
                    self._act(name, self.cli.stop_argv(name), check_mode, {"state": "stopped"})
                self._act(name, self.cli.delete_argv(name), check_mode, None)
                if not check_mode:
                    listed_after_delete = self._delete_until_gone(name)
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
            elif state == "stopped" and self._has_live_vm(before):
                self._act(name, self.cli.stop_argv(name), check_mode, {"state": "stopped"})
                current = "stopped"

        after = before
        if not check_mode:
            if self.changed:
                # A delete has just listed what it left; every other change is listed here.
                after = (listed_after_delete if state == "absent"
                         else self.cli.get_machine(name))
                self._verify(name, state, after)
                current = after.get("state", "unknown") if after else "absent"
            if state == "started" and wait:
                self._wait_until_guest_answers(name, wait_timeout)

        # In check mode nothing changed, so the machine is reported as it is now.
        return ModuleResult(
            self.changed,
            diff={"before": {"name": name, "state": before_state}, "after": {"name": name, "state": current}},
            warnings=self.warnings,
            machine=dict(after) if after else {},
            version=self.cli.version_string,
            commands=[list(argv) for argv in self.commands],
            lock_retries=self.lock_retries,
        )

    def progress(self) -> dict:
        """What already ran, returned next to the message when ensure() fails."""
        return dict(changed=self.changed, commands=self.commands, lock_retries=self.lock_retries,
                    version=self.cli.version_string)

    def _act(self, name, argv, check_mode, expected_after):
        """Run one command that changes the machine; ``expected_after`` is what it is known to leave
        listed (None: nothing), for the lock check of the next command."""
        self.commands.append(argv)
        if not check_mode:
            self._run_through_lock(name, argv)
        # Only after success (or in check mode): a refused command changed nothing.
        self.changed = True
        self._expected = expected_after

    def _run_through_lock(self, name, argv):
        """Run ``argv``, again with backoff for up to db_timeout seconds while smolvm refuses it on
        its locked database and `machine ls --json` proves the refused run changed nothing."""
        what = " ".join(argv[1:3])
        backoff = self._lock_backoff()
        attempts = 0
        while True:
            attempts += 1
            rc, out, err = self.cli.try_run(argv)
            if rc == 0:
                return out
            smolvm_said = smolvm_words(err, out)
            facts = dict(argv=argv, rc=rc, stdout=out, stderr=err)
            if DB_LOCKED not in (err or ""):
                raise SmolvmCommandError(f"smolvm {what} failed (exit {rc}): {smolvm_said}", **facts)
            listed_now = self.cli.get_machine(name)
            if not _has_fields(self._expected, listed_now):
                raise SmolvmCommandError(
                    f"smolvm {what} failed (exit {rc}) on smolvm's locked database "
                    f"{self.db_path}: {smolvm_said}; not retried, because machine {name} is no longer "
                    f"as it was before the command (it is now {_describe_listing(listed_now)}, it was "
                    f"{_describe_listing(self._expected)}), so part of it may have taken effect; look at "
                    f"`smolvm machine ls` before running it again", **facts)
            backoff.start(self._db_timeout)
            if backoff.remaining() <= 0:
                raise SmolvmLockedError(
                    f"smolvm {what} for machine {name} was refused on a locked database "
                    f"{attempts} time(s) in a row over db_timeout={self._db_timeout:g} s: "
                    f"{smolvm_said}; smolvm's database {self.db_path} stayed locked by another smolvm "
                    f"command or another process holding it open in a transaction. Nothing was "
                    f"written: machine {name} is {_describe_listing(listed_now)}, as before. Wait for the other "
                    f"command to end and run again, or raise db_timeout", **facts)
            backoff.wait()
            self.lock_retries += 1

    def _delete_until_gone(self, name):
        """smolvm 1.4.0 exits 0 from `delete -f` while the DB is locked, with only a warning, and
        leaves the row: re-list, and run the delete again (with backoff, up to db_timeout) while
        the machine is still listed as it was. Returns the last listing (None: gone)."""
        argv = self.cli.delete_argv(name)
        backoff = self._lock_backoff()
        while True:
            listed = self.cli.get_machine(name)
            if listed is None:
                return None
            backoff.start(self._db_timeout)
            if backoff.remaining() <= 0:
                return listed  # _verify names the machine still listed
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
        if state == "stopped" and self._has_live_vm(after):
            raise SmolvmOutputError(
                f"smolvm machine stop exited 0 but machine {name} is still {got!r}", argv=argv)

    def _wait_until_guest_answers(self, name, timeout):
        argv = self.cli.probe_argv(name)
        self.commands.append(argv)
        backoff = Backoff(self._sleep, self._clock, PROBE_FIRST_DELAY, PROBE_MAX_DELAY)
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
                    f"({attempts} attempts); last error (exit {rc}): {smolvm_words(err, out)}; raise "
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
            egress_left = "networking on and no egress allowlist (allowed_cidrs is null): unrestricted egress"
        else:
            egress_left = "no egress allowlist (allowed_cidrs is null), and --allow-cidr did not turn networking on"
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
            f"{name} has {egress_left}. {todo}")

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
