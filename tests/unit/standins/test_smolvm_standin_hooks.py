# Copyright: (c) 2026, bot-bottle developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The stand-in's fault hooks that tests/reliability builds on: SMOLVM_STANDIN_BLOCK,
SMOLVM_STANDIN_LOCK_AFTER_CREATE and SMOLVM_STANDIN_UNDO_ALLOWLIST_ON_START.

Each test reads the hook's visible effect (exit status, stderr, the database row, the boot
record, the lock) as the reliability suite does. Nothing sleeps: a blocked stand-in is waited for
on its FIFO, a released lock holder on its pidfd; the timeouts only bound a hang.
"""

from __future__ import annotations

import os
import select
import signal
import sqlite3
import threading

import pytest

# Bounds the wait for the stand-in to reach a hook or for a process to end; never reached when
# the hooks work.
HOOK_TIMEOUT = 60
LOCKED = "Error: database error: database is locked\n"


def cmdline(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            return handle.read().split(b"\0")
    except OSError:
        return []


def wait_exited(pid):
    """Block until process `pid` (not a child of ours) has ended: its pidfd turns readable."""
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return
    try:
        assert select.select([fd], [], [], HOOK_TIMEOUT)[0], f"process {pid} did not end"
    finally:
        os.close(fd)


# --------------------------------------------------------------------------- SMOLVM_STANDIN_BLOCK

@pytest.mark.parametrize("hook, argv, machine, listed", [
    ("create", ["machine", "create", "vm1"], "vm1", False),
    # rm counts as delete, as with SMOLVM_STANDIN_FAIL.
    ("delete", ["machine", "rm", "vm0", "-f"], "vm0", True),
    ("start", ["machine", "start", "--name", "vm0"], "vm0", True),
])
def test_block_parks_the_subcommand_before_the_database_until_it_is_killed(
        smolvm, tmp_path, hook, argv, machine, listed):
    smolvm.ok(smolvm("machine", "create", "vm0"))
    before = smolvm.row(machine)
    fifo = tmp_path / "block.fifo"
    os.mkfifo(fifo)
    fd = os.open(fifo, os.O_RDWR | os.O_NONBLOCK)
    finished = []
    runner = threading.Thread(
        target=lambda: finished.append(smolvm(*argv, SMOLVM_STANDIN_BLOCK=f"{hook}:{fifo}")))
    runner.start()
    try:
        assert select.select([fd], [], [], HOOK_TIMEOUT)[0], "the stand-in never reached the hook"
        said = os.read(fd, 64)
    finally:
        os.close(fd)
    pid = int(said)

    assert said.endswith(b"\n")
    assert argv[1].encode() in cmdline(pid)
    # Parked: it has not exited, and the database is as it was.
    assert finished == []
    assert smolvm.row(machine) == before
    assert (before is not None) is listed

    os.kill(pid, signal.SIGKILL)
    runner.join(HOOK_TIMEOUT)
    [proc] = finished
    assert proc.returncode == -signal.SIGKILL
    assert smolvm.row(machine) == before
    assert smolvm.boot("vm0") is None


def test_block_lets_every_other_subcommand_run(smolvm, tmp_path):
    fifo = tmp_path / "block.fifo"
    os.mkfifo(fifo)
    fd = os.open(fifo, os.O_RDWR | os.O_NONBLOCK)
    try:
        smolvm.ok(smolvm("machine", "create", "vm1", SMOLVM_STANDIN_BLOCK=f"start:{fifo}"))
        quiet = select.select([fd], [], [], 0)[0]
    finally:
        os.close(fd)

    assert quiet == []
    assert smolvm.record("vm1")["state"] == "created"


def test_a_block_spec_without_a_fifo_is_an_argument_error(smolvm):
    proc = smolvm("machine", "create", "vm1", SMOLVM_STANDIN_BLOCK="create")

    assert proc.returncode == 2
    assert "SMOLVM_STANDIN_BLOCK='create' is not <subcommand>:<fifo>" in proc.stderr
    assert not smolvm.db.exists()


# --------------------------------------------------------------------------- SMOLVM_STANDIN_LOCK_AFTER_CREATE

def test_lock_after_create_commits_the_row_then_holds_the_lock_until_a_byte_arrives(smolvm, tmp_path):
    fifo = tmp_path / "lock.fifo"
    os.mkfifo(fifo)
    created = smolvm.ok(smolvm("machine", "create", "vm1", SMOLVM_STANDIN_LOCK_AFTER_CREATE=str(fifo)))
    holder = int((tmp_path / "lock.fifo.pid").read_text())
    try:
        holder_argv = cmdline(holder)
        record = smolvm.record("vm1")
        writer = sqlite3.connect(smolvm.db, timeout=0, isolation_level=None)
        try:
            with pytest.raises(sqlite3.OperationalError) as caught:
                writer.execute("BEGIN IMMEDIATE")
        finally:
            writer.close()
        refused = smolvm("machine", "start", "--name", "vm1")
        after_refusal = smolvm.record("vm1")

        fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
        try:
            os.write(fd, b"x")
        finally:
            os.close(fd)
        wait_exited(holder)
    finally:
        if b"__standin-hold-lock" in cmdline(holder):
            os.kill(holder, signal.SIGKILL)

    assert "Created machine: vm1" in created.stdout
    assert b"__standin-hold-lock" in holder_argv and str(smolvm.db).encode() in holder_argv
    # The row was committed before the lock was taken: readers see it.
    assert record["state"] == "created"
    assert str(caught.value) == "database is locked"
    # smolvm 0.8's start reads, then writes in a deferred transaction: refused at once.
    assert refused.returncode == 1 and refused.stderr == LOCKED
    assert after_refusal == record
    # Let go: the lock is free and the next start succeeds.
    smolvm.ok(smolvm("machine", "start", "--name", "vm1"))
    assert smolvm.record("vm1")["state"] == "running"


# --------------------------------------------------------------------------- SMOLVM_STANDIN_UNDO_ALLOWLIST_ON_START

@pytest.mark.parametrize("value, booted", [
    ("1", None),
    # Only 1 turns it on.
    ("0", ["127.0.0.16/32"]),
    ("true", ["127.0.0.16/32"]),
])
def test_undo_allowlist_on_start_boots_unrestricted_and_says_so_in_the_row(smolvm, value, booted):
    smolvm.ok(smolvm("machine", "create", "vm1", "--allow-cidr", "127.0.0.16/32"))
    assert smolvm.record("vm1")["allowed_cidrs"] == ["127.0.0.16/32"]

    smolvm.ok(smolvm("machine", "start", "--name", "vm1", SMOLVM_STANDIN_UNDO_ALLOWLIST_ON_START=value))

    record, boot = smolvm.record("vm1"), smolvm.boot("vm1")
    assert record["state"] == "running" and record["network"] is True
    assert record["allowed_cidrs"] == booted
    assert boot["allowed_cidrs"] == boot["record_allowed_cidrs"] == booted
    assert boot["network"] is True
