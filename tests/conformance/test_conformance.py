# Copyright: (c) 2026, bot-bottle developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The smolvm stand-in against the real smolvm, version by version.

Every test runs one command sequence against the real CLI and against the stand-in set to the
same version, each in state of its own, and fails on any difference in what the collection relies
on: exit codes, the error line, the shape (keys and types) of stdout JSON and chosen values, the
state database (tables, columns, config rows, record keys in order, BLOB storage, chosen values)
and where that database is. Nothing here needs a booted guest: start and exec are the stand-in's
alone.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from pathlib import Path

import pytest

from conftest import json_shape, parse_json

# Values the collection reads from a record, from `ls --json` / `status --json`.
RECORD_VALUES = ("name", "state", "pid", "cpus", "mem", "network", "allowed_cidrs", "env",
                 "labels", "image", "entrypoint", "cmd", "workdir", "source_smolmachine",
                 "network_backend", "mounts", "ports", "restart")
SHOWN_VALUES = ("name", "state", "pid", "cpus", "memory_mib", "network", "allowed_cidrs",
                "labels", "image", "entrypoint", "cmd", "mounts", "ports")
# x86_64 Linux: SQLite's busy handler sleeps in one of these while another connection holds the
# write lock.
SLEEP_SYSCALLS = {"35", "230"}


def _scrub(value, home):
    if isinstance(value, str):
        return value.replace(str(home), "<home>")
    if isinstance(value, list):
        return [_scrub(item, home) for item in value]
    if isinstance(value, dict):
        return {key: _scrub(item, home) for key, item in value.items()}
    return value


def outcome(smolvm, proc):
    """What a command did, as the collection sees it."""
    seen = {"rc": proc.returncode}
    err = proc.stderr.strip().splitlines()
    if proc.returncode == 2:
        # clap's wording of an argument error is nothing the collection reads; its exit code is.
        seen["error"] = "argument error" if err and err[0].startswith("error: ") else err[:1]
    elif proc.returncode != 0:
        seen["error"] = _scrub(err[0] if err else "", smolvm.home)
    shown = parse_json(proc.stdout)
    if shown is not None:
        seen["json_shape"] = json_shape(shown)
        items = shown if isinstance(shown, list) else [shown]
        seen["json_values"] = [_scrub({k: i[k] for k in SHOWN_VALUES if k in i}, smolvm.home)
                               for i in items if isinstance(i, dict)]
    return seen


def database(smolvm):
    """The state database as the collection reads and patches it (None when there is none)."""
    if not smolvm.db.exists():
        return None
    conn = sqlite3.connect(smolvm.db)
    try:
        objects = sorted(conn.execute(
            "SELECT type, name, tbl_name FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'"))
        columns = {name: [row[1:] for row in conn.execute(f"PRAGMA table_info({name})")]
                   for kind, name, _table in objects if kind == "table"}
        seen = {
            "objects": objects, "columns": columns,
            "journal_mode": conn.execute("PRAGMA journal_mode").fetchone()[0],
            "config": sorted(conn.execute("SELECT key, value FROM config")),
            "vms": {},
        }
        for name, data, storage in conn.execute("SELECT name, data, typeof(data) FROM vms"):
            record = json.loads(bytes(data) if storage == "blob" else data)
            seen["vms"][name] = {
                "storage": storage, "keys": list(record), "types": json_shape(record),
                "values": _scrub({k: record[k] for k in RECORD_VALUES if k in record},
                                 smolvm.home),
            }
        return seen
    finally:
        conn.close()


def compare(real, standin, scenario):
    """Run `scenario(smolvm) -> observations` on both; they must be equal."""
    got_real = scenario(real)
    got_standin = scenario(standin)
    differences = [f"step {i}:\n  real:     {json.dumps(r, sort_keys=True, default=str)}\n"
                   f"  stand-in: {json.dumps(s, sort_keys=True, default=str)}"
                   for i, (r, s) in enumerate(zip(got_real, got_standin)) if r != s]
    assert got_standin == got_real, (
        f"stand-in differs from real smolvm {real.version}:\n" + "\n".join(differences))
    return got_real


def test_version(pair):
    real, standin = pair

    def scenario(smolvm):
        proc = smolvm("--version")
        return [outcome(smolvm, proc), proc.stdout.strip()]

    compare(real, standin, scenario)
    assert real("--version").stdout.strip() == f"smolvm {real.version}"


CREATE_FLAGS = {
    "bare": [],
    "net": ["--net"],
    "allowlist": ["--net", "--allow-cidr", "10.0.0.1", "--allow-cidr", "198.18.0.16/32"],
    "allow-cidr-alone": ["--allow-cidr", "198.18.0.16"],
    "localhost-only": ["--outbound-localhost-only"],
    "env": ["-e", "FOO=bar", "-e", "EMPTY="],
    "resources": ["--cpus", "2", "--mem", "1024"],
    "label": ["--label", "bot_bottle.slug=researcher-m3hxd", "--label", "team=a"],
    "tsi-with-policy": ["--net-backend", "tsi", "--allow-cidr", "10.0.0.1"],
    "virtio-net": ["--net", "--net-backend", "virtio-net"],
    "bad-cidr": ["--allow-cidr", "10.0.0.300"],
}


@pytest.mark.parametrize("flags", list(CREATE_FLAGS), ids=list(CREATE_FLAGS))
def test_create(pair, flags):
    real, standin = pair

    def scenario(smolvm):
        return [outcome(smolvm, smolvm("machine", "create", "--name", "vm1", *CREATE_FLAGS[flags])),
                outcome(smolvm, smolvm("machine", "ls", "--json")),
                outcome(smolvm, smolvm("machine", "status", "--name", "vm1", "--json")),
                outcome(smolvm, smolvm("machine", "status", "--name", "vm1")),
                database(smolvm)]

    compare(real, standin, scenario)


FROM_FLAGS = {
    "plain": [],
    "net": ["--net"],
    "allowlist": ["--allow-cidr", "198.18.0.16"],
    "net-allowlist-env-cpus": ["--net", "--allow-cidr", "198.18.0.16", "-e", "A=1", "--cpus", "3"],
}


@pytest.mark.parametrize("flags", list(FROM_FLAGS), ids=list(FROM_FLAGS))
def test_create_from_a_pack(pair, flags):
    real, standin = pair

    def scenario(smolvm):
        pack = smolvm.pack()
        return [outcome(smolvm, smolvm("machine", "create", "--name", "vm1", "--from", str(pack),
                                       *FROM_FLAGS[flags])),
                outcome(smolvm, smolvm("machine", "ls", "--json")),
                database(smolvm)]

    compare(real, standin, scenario)


def test_create_from_what_is_not_a_pack(pair):
    real, standin = pair

    def scenario(smolvm):
        junk = smolvm.home / "junk.smolmachine"
        junk.write_text('{"image": "python:3.12-alpine"}')
        corrupt = smolvm.home / "corrupt.smolmachine"
        data = bytearray(smolvm.pack().read_bytes())
        data[0] ^= 0xFF
        corrupt.write_bytes(bytes(data))
        return [outcome(smolvm, smolvm("machine", "create", "--name", "j1", "--from", str(junk))),
                outcome(smolvm, smolvm("machine", "create", "--name", "c1", "--from", str(corrupt)))["rc"],
                outcome(smolvm, smolvm("machine", "create", "--name", "m1", "--from",
                                       str(smolvm.home / "missing.smolmachine"))),
                database(smolvm)]

    compare(real, standin, scenario)


def test_duplicate_create(pair):
    real, standin = pair

    def scenario(smolvm):
        return [outcome(smolvm, smolvm("machine", "create", "--name", "vm1", "--cpus", "2")),
                outcome(smolvm, smolvm("machine", "create", "--name", "vm1", "--net")),
                database(smolvm)]

    compare(real, standin, scenario)


BAD_NAMES = {
    "positional": ["machine", "create", "vm1"],
    "leading-dash": ["machine", "create", "--name", "-vm1"],
    "space": ["machine", "create", "--name", "vm 1"],
    "dot": ["machine", "create", "--name", "vm.1"],
    "trailing-dash": ["machine", "create", "--name", "vm1-"],
    "positional-delete": ["machine", "delete", "vm1", "-f"],
    "positional-stop": ["machine", "stop", "vm1"],
    "positional-update": ["machine", "update", "vm1", "--cpus", "2"],
}


@pytest.mark.parametrize("case", list(BAD_NAMES), ids=list(BAD_NAMES))
def test_bad_names(pair, case):
    real, standin = pair

    def scenario(smolvm):
        return [outcome(smolvm, smolvm(*BAD_NAMES[case])), database(smolvm)]

    compare(real, standin, scenario)


def test_ls_json(pair):
    real, standin = pair

    def scenario(smolvm):
        empty = outcome(smolvm, smolvm("machine", "ls", "--json"))
        for name in ("vm2", "vm1", "vm3"):
            smolvm("machine", "create", "--name", name, "--net")
        listed = outcome(smolvm, smolvm("machine", "ls", "--json"))
        listed["json_values"] = sorted(listed["json_values"], key=lambda m: m["name"])
        return [empty, listed]

    compare(real, standin, scenario)


MISSING = {
    "stop": ["machine", "stop", "--name", "ghost"],
    "start": ["machine", "start", "--name", "ghost"],
    "delete": ["machine", "delete", "--name", "ghost"],
    "delete-force": ["machine", "delete", "--name", "ghost", "-f"],
    "status": ["machine", "status", "--name", "ghost"],
    "status-json": ["machine", "status", "--name", "ghost", "--json"],
    "update": ["machine", "update", "--name", "ghost", "--cpus", "2"],
}


@pytest.mark.parametrize("case", list(MISSING), ids=list(MISSING))
def test_missing_machine(pair, case):
    real, standin = pair

    def scenario(smolvm):
        return [outcome(smolvm, smolvm(*MISSING[case])), database(smolvm)]

    compare(real, standin, scenario)


def test_stop_of_a_machine_that_is_not_running(pair):
    real, standin = pair

    def scenario(smolvm):
        smolvm("machine", "create", "--name", "vm1")
        return [outcome(smolvm, smolvm("machine", "stop", "--name", "vm1")), database(smolvm)]

    compare(real, standin, scenario)


def test_delete_without_force_on_a_closed_stdin(pair):
    real, standin = pair

    def scenario(smolvm):
        smolvm("machine", "create", "--name", "vm1")
        return [outcome(smolvm, smolvm("machine", "delete", "--name", "vm1")), database(smolvm),
                outcome(smolvm, smolvm("machine", "delete", "--name", "vm1", "-f")),
                database(smolvm)]

    compare(real, standin, scenario)


UPDATES = {
    "resources": [["--cpus", "3", "--mem", "2048"]],
    "no-net": [["--no-net"]],
    "net": [["--net"]],
    "add-cidr": [["--allow-cidr", "10.1.0.0/16"], ["--allow-cidr", "10.1.0.0/16"]],
    "reset": [["--reset-allow-list", "--allow-cidr", "198.18.0.17"]],
    "remove-last": [["--remove-allow-cidr", "10.0.0.1/32"]],
    "remove-absent": [["--remove-allow-cidr", "10.9.9.9/32"]],
    "reset-to-any": [["--reset-allow-list", "--net"]],
    "no-net-with-cidr": [["--no-net", "--allow-cidr", "10.0.0.2"]],
}


@pytest.mark.parametrize("case", list(UPDATES), ids=list(UPDATES))
def test_update(pair, case):
    real, standin = pair

    def scenario(smolvm):
        smolvm("machine", "create", "--name", "vm1", "--allow-cidr", "10.0.0.1")
        seen = [outcome(smolvm, smolvm("machine", "update", "--name", "vm1", *flags))
                for flags in UPDATES[case]]
        return seen + [outcome(smolvm, smolvm("machine", "ls", "--json")), database(smolvm)]

    compare(real, standin, scenario)


def test_a_db_patch_is_read_back_and_kept(pair):
    """The collection's patch (smolvm's own test-suite statement) is shown and survives an update."""
    real, standin = pair

    def scenario(smolvm):
        smolvm("machine", "create", "--name", "vm1", "--net")
        conn = sqlite3.connect(smolvm.db)
        with conn:
            conn.execute("UPDATE vms SET data = CAST(json_set(CAST(data AS TEXT), '$.allowed_cidrs', "
                         "json('[\"198.18.0.16/32\"]'), '$.network', json('true')) AS BLOB) "
                         "WHERE name = 'vm1'")
        conn.close()
        return [outcome(smolvm, smolvm("machine", "update", "--name", "vm1", "--cpus", "2")),
                outcome(smolvm, smolvm("machine", "status", "--name", "vm1", "--json")),
                database(smolvm)]

    compare(real, standin, scenario)


def _db_files(smolvm):
    return sorted(str(p.relative_to(smolvm.home)) for p in smolvm.home.rglob("smolvm.db"))


PLACEMENTS = {
    "data-dir": ({}, ()),
    "xdg": ({}, ("SMOLVM_DATA_DIR",)),
    "home": ({}, ("SMOLVM_DATA_DIR", "XDG_DATA_HOME")),
}


@pytest.mark.parametrize("case", list(PLACEMENTS), ids=list(PLACEMENTS))
def test_where_the_state_lives(pair, case):
    real, standin = pair
    env, unset = PLACEMENTS[case]

    def scenario(smolvm):
        proc = smolvm("machine", "create", "--name", "vm1", env=env, unset=unset)
        return [outcome(smolvm, proc), _db_files(smolvm)]

    compare(real, standin, scenario)


def test_state_dir(pair):
    real, standin = pair

    def scenario(smolvm):
        state = str(smolvm.home / "state")
        return [outcome(smolvm, smolvm("machine", "create", "--state-dir", state, "--name", "vm1")),
                outcome(smolvm, smolvm("--state-dir", state, "machine", "ls", "--json")),
                outcome(smolvm, smolvm("machine", "ls", "--json", "--state-dir", state)),
                _db_files(smolvm)]

    compare(real, standin, scenario)


def _waiting_on_the_lock(pid, db):
    """True once process `pid` has the database open and sleeps in SQLite's busy handler."""
    proc = Path(f"/proc/{pid}")
    try:
        has_db = any(os.readlink(fd).startswith(str(db)) for fd in (proc / "fd").iterdir())
        sleeping = any((task / "syscall").read_text().split()[:1] and
                       (task / "syscall").read_text().split()[0] in SLEEP_SYSCALLS
                       for task in (proc / "task").iterdir())
    except OSError:
        return False
    return has_db and sleeping


def _run_against_a_held_lock(smolvm, *args):
    """Run a command while another connection holds BEGIN IMMEDIATE; the lock is released as soon
    as the command is seen waiting for it (never when it gives up at once)."""
    conn = sqlite3.connect(smolvm.db, isolation_level=None, check_same_thread=False)
    conn.execute("BEGIN IMMEDIATE")
    released = threading.Event()
    child = smolvm.popen(*args)

    def release_when_waiting():
        while child.poll() is None and not released.is_set():
            if _waiting_on_the_lock(child.pid, smolvm.db):
                conn.execute("ROLLBACK")
                released.set()
                return
            time.sleep(0.02)

    watcher = threading.Thread(target=release_when_waiting)
    watcher.start()
    out, err = child.communicate(timeout=60)
    watcher.join()
    if not released.is_set():
        released.set()
        conn.execute("ROLLBACK")
    conn.close()
    result = type("Done", (), {"returncode": child.returncode, "stdout": out, "stderr": err})
    return outcome(smolvm, result)


@pytest.mark.parametrize("command", ["create", "delete"])
def test_a_locked_database(pair, command):
    """create and delete -f fail at once on 1.7.7 and 1.9.1 and wait on 1.32.2 (here: until the
    lock goes, so they succeed); the outcome, not the time, is compared."""
    real, standin = pair
    argv = {"create": ("machine", "create", "--name", "vm2"),
            "delete": ("machine", "delete", "--name", "vm1", "-f")}[command]

    def scenario(smolvm):
        smolvm("machine", "create", "--name", "vm1")
        return [_run_against_a_held_lock(smolvm, *argv), database(smolvm)]

    done = compare(real, standin, scenario)[0]
    # Either it gave up on the lock, or it waited, was let through and did its work.
    assert done["rc"] == 0 or "database is locked" in done["error"], done
