# Copyright: (c) 2026, bot-bottle developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""MachineManager against smolvm's "database is locked", with the real stand-in at 0.8.0.

smolvm before 1.7.5 reads a row and then writes it in one deferred transaction, so while another
connection holds the write lock its create and start are refused at once (reference/smolvm.md).
Here that other connection is the test's own: a BEGIN IMMEDIATE held in a thread until the test
lets it go. No time passes for real: the manager's sleep and clock are the test's, and the lock
is let go from inside a chosen sleep, so which attempt meets a free database is exact.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from ansible_collections.bot_bottle.smolmachines.plugins.module_utils.smolvm_cli import (
    MachineSpecError, SmolvmCli, SmolvmCommandError, SmolvmLockedError,
)
from ansible_collections.bot_bottle.smolmachines.plugins.module_utils.smolvm_lifecycle import (
    LOCK_FIRST_DELAY, MachineManager,
)

STANDIN = Path(__file__).resolve().parents[3] / "standins" / "smolvm"
LOCKED = "Error: database error: database is locked"
# Bounds how long a test waits for its own lock-holding thread; never reached when things work.
THREAD_TIMEOUT = 30


class LockHolder:
    """Another writer: one connection holding smolvm's write lock (BEGIN IMMEDIATE) in a thread
    of its own until let_go() is called, which returns once the lock is released."""

    def __init__(self, db):
        self.db = str(db)
        self._held = threading.Event()
        self._release = threading.Event()
        self._released = threading.Event()
        self._error = []
        self._thread = threading.Thread(target=self._hold, daemon=True)

    def _hold(self):
        try:
            conn = sqlite3.connect(self.db, timeout=THREAD_TIMEOUT, isolation_level=None)
            try:
                conn.execute("BEGIN IMMEDIATE")
                self._held.set()
                self._release.wait()
                conn.execute("ROLLBACK")
            finally:
                conn.close()
        except sqlite3.Error as exc:  # reported by __enter__ / let_go
            self._error.append(exc)
        finally:
            self._held.set()
            self._released.set()

    def __enter__(self):
        self._thread.start()
        assert self._held.wait(THREAD_TIMEOUT) and not self._error, self._error
        return self

    def let_go(self):
        self._release.set()
        assert self._released.wait(THREAD_TIMEOUT) and not self._error, self._error

    def __exit__(self, *exc):
        self.let_go()
        self._thread.join(THREAD_TIMEOUT)


class Time:
    """The manager's clock and sleep: each sleep moves the clock on by what was asked and calls
    on_sleep(number of sleeps so far), nothing waits."""

    def __init__(self, on_sleep=None):
        self.now = 1000.0
        self.sleeps = []
        self.on_sleep = on_sleep

    def clock(self):
        return self.now

    def sleep(self, seconds):
        assert seconds > 0
        self.sleeps.append(seconds)
        self.now += seconds
        if self.on_sleep is not None:
            self.on_sleep(len(self.sleeps))


class Standin:
    """Runs the stand-in as a module would (argv list, no shell), recording every argv."""

    def __init__(self, data_home):
        self.data_home = data_home
        self.db = data_home / "smolvm" / "server" / "smolvm.db"
        self.calls = []
        self.env = {}

    def __call__(self, argv):
        self.calls.append(list(argv))
        proc = subprocess.run([sys.executable] + list(argv), env=dict(os.environ, **self.env),
                              stdin=subprocess.DEVNULL, capture_output=True, text=True,
                              check=False, timeout=60)
        return proc.returncode, proc.stdout, proc.stderr

    def called(self, subcommand):
        return [argv for argv in self.calls if argv[1:3] == ["machine", subcommand]]

    def rows(self):
        """{name: data bytes} of every row, read with sqlite3 (a read is never locked out)."""
        conn = sqlite3.connect(f"file:{self.db}?mode=ro", uri=True)
        try:
            return {name: bytes(data) for name, data in conn.execute("SELECT name, data FROM vms")}
        finally:
            conn.close()

    def boot(self, name):
        path = self.db.parent / "standin" / "boots" / f"{name}.json"
        return json.loads(path.read_text()) if path.exists() else None


@pytest.fixture
def standin(tmp_path, monkeypatch):
    # The manager names smolvm's database as smolvm computes it: from this process's environment.
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    monkeypatch.setenv("SMOLVM_STANDIN_VERSION", "0.8.0")
    for hook in ("SMOLVM_STANDIN_FAIL", "SMOLVM_STANDIN_EXEC_FAILURES", "SMOLVM_STANDIN_BLOCK",
                 "SMOLVM_STANDIN_LOCK_AFTER_CREATE", "SMOLVM_STANDIN_UNDO_ALLOWLIST_ON_START"):
        monkeypatch.delenv(hook, raising=False)
    run = Standin(tmp_path)
    # smolvm has run here before: its database and config exist.
    assert run([str(STANDIN), "machine", "ls", "--json"]) == (0, "[]\n", "")
    run.calls.clear()
    return run


def manager(standin, clock):
    cli = SmolvmCli(str(STANDIN), standin, (0, 8, 0))
    return MachineManager(cli, sleep=clock.sleep, clock=clock.clock, jitter=lambda: 1.0)


def test_a_create_refused_on_the_lock_is_run_again_and_succeeds_once_the_lock_is_gone(standin):
    with LockHolder(standin.db) as holder:
        clock = Time(on_sleep=lambda count: count == 2 and holder.let_go())
        result = manager(standin, clock).ensure("vm1", state="present")

    assert result.changed is True
    assert result.facts["machine"]["state"] == "created"
    assert result.facts["lock_retries"] == 2
    assert result.facts["commands"] == [[str(STANDIN), "machine", "create", "vm1"]]
    assert len(standin.called("create")) == 3
    # Backoff doubles: 0.1 s, then 0.2 s (jitter pinned to its top).
    assert clock.sleeps == [LOCK_FIRST_DELAY, 2 * LOCK_FIRST_DELAY]
    assert json.loads(standin.rows()["vm1"])["state"] == "created"


def test_a_start_refused_on_the_lock_is_run_again_and_boots_once(standin):
    assert standin([str(STANDIN), "machine", "create", "vm1", "--allow-cidr", "127.0.0.16"])[0] == 0
    standin.calls.clear()

    with LockHolder(standin.db) as holder:
        clock = Time(on_sleep=lambda count: holder.let_go())
        result = manager(standin, clock).ensure("vm1", state="started")

    assert result.changed is True
    assert result.facts["lock_retries"] == 1
    assert [argv[2] for argv in result.facts["commands"]] == ["start"]
    assert len(standin.called("start")) == 2
    record = json.loads(standin.rows()["vm1"])
    assert record["state"] == "running" and record["allowed_cidrs"] == ["127.0.0.16/32"]
    assert standin.boot("vm1")["allowed_cidrs"] == ["127.0.0.16/32"]


def start_while_locked(standin, db_timeout):
    """A started launch of vm1 while the test holds smolvm's DB locked throughout: the manager,
    its clock and the error it gave up with."""
    with LockHolder(standin.db):
        clock = Time()
        mgr = manager(standin, clock)
        with pytest.raises(SmolvmLockedError) as caught:
            mgr.ensure("vm1", state="started", db_timeout=db_timeout)
    return mgr, clock, caught.value


def test_the_bound_runs_out_with_a_clear_error_and_the_database_unchanged(standin):
    before = standin.rows()
    mgr, clock, error = start_while_locked(standin, db_timeout=3)

    message = str(error)
    assert "smolvm machine create for machine vm1 was refused on a locked database" in message
    assert f"smolvm's database {standin.db} stayed locked" in message
    assert "db_timeout=3 s" in message
    assert "Nothing was written: machine vm1 is not listed, as before" in message
    assert error.rc == 1 and LOCKED in error.stderr
    # Retried until the clock reached the bound, not one sleep past it.
    assert sum(clock.sleeps) == pytest.approx(3)
    assert mgr.lock_retries == len(clock.sleeps) == len(standin.called("create")) - 1
    assert mgr.changed is False
    assert mgr.commands == [[str(STANDIN), "machine", "create", "vm1"]]
    assert standin.called("start") == []
    assert standin.rows() == before == {}


def test_a_start_that_runs_out_of_time_leaves_the_row_byte_for_byte(standin):
    assert standin([str(STANDIN), "machine", "create", "vm1"])[0] == 0
    before = standin.rows()
    _mgr, _clock, error = start_while_locked(standin, db_timeout=1)

    assert "smolvm machine start for machine vm1" in str(error)
    assert "machine vm1 is listed in state 'created' with pid None, as before" in str(error)
    assert standin.rows() == before


def test_db_timeout_0_runs_the_command_once(standin):
    with LockHolder(standin.db):
        clock = Time()
        mgr = manager(standin, clock)
        with pytest.raises(SmolvmLockedError) as caught:
            mgr.ensure("vm1", db_timeout=0)

    assert "1 time(s) in a row over db_timeout=0 s" in str(caught.value)
    assert clock.sleeps == [] and mgr.lock_retries == 0
    assert len(standin.called("create")) == 1


@pytest.mark.parametrize("hook, state, failing", [
    ({"SMOLVM_STANDIN_FAIL": "create"}, "present", "create"),
    ({"SMOLVM_STANDIN_FAIL": "start"}, "started", "start"),
])
def test_other_errors_are_not_retried(standin, hook, state, failing):
    standin.env = hook
    clock = Time()
    mgr = manager(standin, clock)
    with pytest.raises(SmolvmCommandError) as caught:
        mgr.ensure("vm1", state=state)

    assert str(caught.value) == f"smolvm machine {failing} failed (exit 1): Error: injected failure"
    assert not isinstance(caught.value, SmolvmLockedError)
    assert len(standin.called(failing)) == 1
    assert clock.sleeps == [] and mgr.lock_retries == 0


def test_a_lock_error_after_the_command_took_effect_is_not_retried(standin):
    # A create that wrote its row and then said "database is locked": the machine is no longer
    # as it was, so running it again is not provably safe.
    def create_then_claim_locked(argv):
        rc, out, err = standin(argv)
        if argv[1:3] == ["machine", "create"]:
            assert rc == 0, err
            return 1, "", LOCKED + "\n"
        return rc, out, err

    clock = Time()
    cli = SmolvmCli(str(STANDIN), create_then_claim_locked, (0, 8, 0))
    mgr = MachineManager(cli, sleep=clock.sleep, clock=clock.clock)
    with pytest.raises(SmolvmCommandError) as caught:
        mgr.ensure("vm1", state="started")

    message = str(caught.value)
    assert "not retried, because machine vm1 is no longer as it was before the command" in message
    assert "it is now listed in state 'created' with pid None, it was not listed" in message
    assert not isinstance(caught.value, SmolvmLockedError)
    assert len(standin.called("create")) == 1 and standin.called("start") == []
    assert clock.sleeps == [] and mgr.lock_retries == 0


@pytest.mark.parametrize("timeout", [-1, True, "30"])
def test_db_timeout_must_be_a_number_of_seconds(standin, timeout):
    with pytest.raises(MachineSpecError) as caught:
        manager(standin, Time()).ensure("vm1", db_timeout=timeout)
    assert "db_timeout=" in str(caught.value)
    assert standin.calls == []
