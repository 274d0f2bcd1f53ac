# Copyright: (c) 2026, bot-bottle developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The allowlist patch against real SQLite files made with smolvm's exact schema and pragmas."""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import subprocess
import sys
import tempfile

import pytest
from hypothesis import given, settings, HealthCheck, strategies as st

from ansible_collections.bot_bottle.smolmachines.plugins.module_utils.cidr import CidrError
from ansible_collections.bot_bottle.smolmachines.plugins.module_utils.smolvm_record import EGRESS_FIELDS, OWNED_FIELDS
from ansible_collections.bot_bottle.smolmachines.plugins.module_utils.smolvm_db import (
    AllowlistPatch, SmolvmDbError, SmolvmDbLocked, SmolvmDbMissing, SmolvmMachineRunning,
    SmolvmDbUnreadable, SmolvmEgressError, SmolvmReadBackError, SmolvmRecordError, default_db_path,
    read_machine_policies,
)

SCHEMA = (
    "CREATE TABLE IF NOT EXISTS vms (name TEXT PRIMARY KEY NOT NULL, data BLOB NOT NULL)",
    "CREATE TABLE IF NOT EXISTS config (key TEXT PRIMARY KEY NOT NULL, value TEXT NOT NULL)",
)

# The reference's hand-made record of a `--from` machine at 0.8.0, in struct order.
EXAMPLE = (
    '{"name":"agent1","created_at":1748282400,"state":"stopped","pid":null,'
    '"pid_start_time":null,"cpus":2,"mem":1024,"mounts":[],"ports":[[8080,80]],'
    '"network":true,"gpu":null,"gpu_vram_mib":null,'
    '"restart":{"policy":"never","max_retries":0,"max_backoff_secs":0,'
    '"restart_count":0,"user_stopped":false},'
    '"last_exit_code":null,"init":[],"init_completed":false,'
    '"env":[["PYTHONUNBUFFERED","1"]],"workdir":"/app","storage_gb":null,'
    '"overlay_gb":null,"allowed_cidrs":null,"image":"python:3.12-alpine",'
    '"entrypoint":[],"cmd":["python3","app.py"],"health_cmd":null,'
    '"health_interval_secs":null,"health_timeout_secs":null,'
    '"health_retries":null,"health_startup_grace_secs":null,"ssh_agent":false,'
    '"ephemeral":false,"source_smolmachine":"/home/me/app.smolmachine"}'
)

HOLDER = r"""
import sqlite3, sys
conn = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=0)
conn.execute("BEGIN IMMEDIATE")
print("locked", flush=True)
sys.stdin.readline()
conn.execute("ROLLBACK")
conn.close()
print("released", flush=True)
"""


def record(**changes) -> dict:
    value = json.loads(EXAMPLE)
    value.update(changes)
    return value


def blob(value) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def make_db(path, rows=None):
    """A smolvm state DB: the 0.8.0 schema, WAL, the config keys; `rows` maps name -> data as
    stored (bytes bind as BLOB, str as TEXT)."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    for statement in SCHEMA:
        conn.execute(statement)
    for key, value in (("version", "1"), ("default_cpus", "1"), ("default_mem", "512"),
                       ("default_dns", "1.1.1.1")):
        conn.execute("INSERT INTO config VALUES (?, ?)", (key, value))
    for name, data in (rows if rows is not None else {"agent1": EXAMPLE.encode()}).items():
        conn.execute("INSERT INTO vms VALUES (?, ?)", (name, data))
    conn.close()
    return path


def files(path) -> dict:
    """Hashes of the DB and its -wal (None when absent), taken with no connection open."""
    result = {}
    for suffix in ("", "-wal"):
        try:
            with open(path + suffix, "rb") as handle:
                result[suffix] = hashlib.sha256(handle.read()).hexdigest()
        except FileNotFoundError:
            result[suffix] = None
    return result


EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()


def read_only_left(before, after) -> bool:
    """The DB file is byte-identical and so is its -wal; a read-only open of a WAL DB may add an
    empty -wal where there was none (it holds nothing, so smolvm reads the same)."""
    wal_kept = after["-wal"] == before["-wal"] or (before["-wal"] is None and after["-wal"] == EMPTY_SHA256)
    return after[""] == before[""] and wal_kept


def row(path, name="agent1"):
    conn = sqlite3.connect(path)
    try:
        found = conn.execute("SELECT data, typeof(data) FROM vms WHERE name = ?", (name,)).fetchone()
    finally:
        conn.close()
    return found


@pytest.fixture
def db(tmp_path):
    return make_db(str(tmp_path / "smolvm.db"))


# ---------------------------------------------------------------------------- the default path

@pytest.mark.parametrize("platform, environ, expected", [
    ("linux", {"XDG_DATA_HOME": "/x/data"}, "/x/data/smolvm/server/smolvm.db"),
    ("linux", {}, "/home/me/.local/share/smolvm/server/smolvm.db"),
    ("linux", {"XDG_DATA_HOME": ""}, "/home/me/.local/share/smolvm/server/smolvm.db"),
    # The dirs crate ignores a relative XDG_DATA_HOME, as the XDG spec says to.
    ("linux", {"XDG_DATA_HOME": "rel/data"}, "/home/me/.local/share/smolvm/server/smolvm.db"),
    ("freebsd13", {"XDG_DATA_HOME": "/x"}, "/x/smolvm/server/smolvm.db"),
    ("darwin", {"XDG_DATA_HOME": "/x/data"},
     "/home/me/Library/Application Support/smolvm/server/smolvm.db"),
])
def test_default_db_path_is_where_smolvm_puts_it(platform, environ, expected):
    assert default_db_path(platform=platform, environ=environ, home="/home/me") == expected


def test_default_db_path_reads_this_hosts_environment(monkeypatch, tmp_path):
    monkeypatch.setattr(sys, "platform", "linux")
    monkeypatch.delenv("SMOLVM_DATA_DIR", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    assert default_db_path() == str(tmp_path / "smolvm" / "server" / "smolvm.db")


@pytest.mark.parametrize("kwargs, expected", [
    # smolvm >= 1.2.5 points HOME at SMOLVM_DATA_DIR and drops XDG_DATA_HOME (Linux only).
    (dict(environ={"SMOLVM_DATA_DIR": "/d", "XDG_DATA_HOME": "/x"}),
     "/d/.local/share/smolvm/server/smolvm.db"),
    (dict(environ={"SMOLVM_DATA_DIR": "/d"}, smolvm_version=(1, 2, 5)),
     "/d/.local/share/smolvm/server/smolvm.db"),
    (dict(environ={"SMOLVM_DATA_DIR": "/d", "XDG_DATA_HOME": "/x"}, smolvm_version=(1, 2, 4)),
     "/x/smolvm/server/smolvm.db"),
    (dict(environ={"SMOLVM_DATA_DIR": "/d"}, platform="darwin"),
     "/home/me/Library/Application Support/smolvm/server/smolvm.db"),
    # An empty SMOLVM_DATA_DIR leaves HOME empty; the dirs crate then uses the passwd home.
    (dict(environ={"SMOLVM_DATA_DIR": "", "XDG_DATA_HOME": "/x"}),
     "/home/me/.local/share/smolvm/server/smolvm.db"),
    # --state-dir (1.32.2) wins over both.
    (dict(state_dir="/s", environ={"SMOLVM_DATA_DIR": "/d", "XDG_DATA_HOME": "/x"}),
     "/s/.local/share/smolvm/server/smolvm.db"),
])
def test_default_db_path_follows_smolvm_data_dir_and_state_dir(kwargs, expected):
    kwargs.setdefault("platform", "linux")
    assert default_db_path(home="/home/me", **kwargs) == expected


def test_default_db_path_refuses_state_dir_off_linux():
    with pytest.raises(SmolvmDbError) as caught:
        default_db_path(state_dir="/s", platform="darwin", environ={}, home="/home/me")
    assert "state_dir='/s'" in str(caught.value)
    assert "Linux only" in str(caught.value)


# ---------------------------------------------------------------------------- reading every policy

def test_read_machine_policies_reports_every_machine_and_leaves_the_db_byte_identical(tmp_path):
    path = make_db(str(tmp_path / "smolvm.db"), {
        "agent1": blob(record(state="stopped", allowed_cidrs=["127.0.0.16/32"])),
        "other": blob(record(name="other", state="paused", pid=4242, allowed_cidrs=None,
                             network=False, dns="9.9.9.9", egress_rules=[
                                 {"transport": "udp", "cidr": "0.0.0.0/0", "action": "allow"}])),
    })
    before = files(path)

    policies = read_machine_policies(path)

    assert policies == {
        "agent1": {"state": "stopped", "pid": None, "allowed_cidrs": ["127.0.0.16/32"],
                   "network": True, "egress": {}},
        "other": {"state": "paused", "pid": 4242, "allowed_cidrs": None, "network": False,
                  "egress": {"dns": "9.9.9.9", "egress_rules": [
                      {"transport": "udp", "cidr": "0.0.0.0/0", "action": "allow"}]}},
    }
    assert read_only_left(before, files(path))


def test_read_machine_policies_of_a_missing_db_is_empty_and_creates_nothing(tmp_path):
    assert read_machine_policies(str(tmp_path / "none" / "smolvm.db")) == {}
    assert not (tmp_path / "none").exists()


def test_read_machine_policies_refuses_a_record_smolvm_cannot_parse(tmp_path):
    path = make_db(str(tmp_path / "smolvm.db"), {
        "dup": b'{"name":"dup","allowed_cidrs":["127.0.0.16/32"],"allowed_cidrs":null}'})
    before = files(path)

    with pytest.raises(SmolvmRecordError) as caught:
        read_machine_policies(path)

    assert "'dup'" in str(caught.value)
    assert "'allowed_cidrs' appears twice" in str(caught.value)
    assert read_only_left(before, files(path))


def test_read_machine_policies_refuses_a_file_that_is_not_a_smolvm_db(tmp_path):
    path = tmp_path / "smolvm.db"
    path.write_bytes(b"not sqlite at all, just text" * 100)

    with pytest.raises(SmolvmDbUnreadable) as caught:
        read_machine_policies(str(path))

    assert str(path) in str(caught.value)
    assert path.read_bytes() == b"not sqlite at all, just text" * 100


def test_read_machine_policies_refuses_a_db_without_vms_table(tmp_path):
    path = str(tmp_path / "smolvm.db")
    sqlite3.connect(path).close()
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE t (x)")
    conn.close()

    with pytest.raises(SmolvmDbUnreadable) as caught:
        read_machine_policies(path)

    assert "no vms table" in str(caught.value)


# ---------------------------------------------------------------------------- patching

def test_patches_a_null_allowlist_and_keeps_everything_else(db):
    result = AllowlistPatch(db, "agent1", ["127.0.0.16"]).ensure()

    assert result.changed is True
    assert result.facts["before"] == {"allowed_cidrs": None, "network": True}
    assert result.facts["after"] == {"allowed_cidrs": ["127.0.0.16/32"], "network": True}
    assert result.facts["machine_state"] == "stopped"
    data, storage = row(db)
    assert storage == "blob"
    # Byte for byte the original with the one value replaced: order, spacing, booleans.
    assert bytes(data) == EXAMPLE.replace('"allowed_cidrs":null',
                                          '"allowed_cidrs":["127.0.0.16/32"]').encode()


@pytest.fixture
def db_with(tmp_path):
    def make(rows):
        return make_db(str(tmp_path / "smolvm.db"), rows)
    return make


def test_turns_networking_on_when_the_list_is_not_empty(db_with):
    path = db_with({"agent1": blob(record(network=False))})

    result = AllowlistPatch(path, "agent1", ["127.0.0.16/32"]).ensure()

    assert result.facts["before"] == {"allowed_cidrs": None, "network": False}
    assert result.facts["after"] == {"allowed_cidrs": ["127.0.0.16/32"], "network": True}
    stored = json.loads(bytes(row(path)[0]))
    assert stored["network"] is True
    assert b'"network":true' in bytes(row(path)[0])


def test_network_false_leaves_the_network_flag_alone(db_with):
    path = db_with({"agent1": blob(record(network=False))})

    result = AllowlistPatch(path, "agent1", ["127.0.0.16/32"], network=False).ensure()

    assert result.facts["after"] == {"allowed_cidrs": ["127.0.0.16/32"], "network": False}
    assert json.loads(bytes(row(path)[0]))["network"] is False


def test_an_empty_list_with_networking_on_is_refused_before_the_db_is_opened(db_with):
    path = db_with({"agent1": blob(record(network=False))})
    before = files(path)

    with pytest.raises(SmolvmDbError) as caught:
        AllowlistPatch(path, "agent1", [])

    assert "allowed_cidrs=[] with networking on is refused" in str(caught.value)
    assert "unrestricted egress" in str(caught.value)
    assert "without networking (smolvm_machine network=false, no --net)" in str(caught.value)
    assert files(path) == before


def test_an_empty_list_is_refused_for_a_record_with_networking_on(db_with):
    path = db_with({"agent1": blob(record(network=True))})
    before = files(path)

    with pytest.raises(SmolvmDbError) as caught:
        AllowlistPatch(path, "agent1", [], network=False).ensure()

    assert "allowed_cidrs=[] with networking on for machine 'agent1' is refused" in str(caught.value)
    assert read_only_left(before, files(path))


def test_an_empty_list_on_a_machine_without_networking_is_kept_as_no_networking(db_with):
    path = db_with({"agent1": blob(record(network=False))})

    result = AllowlistPatch(path, "agent1", [], network=False).ensure()

    assert result.changed is True
    assert result.facts["after"] == {"allowed_cidrs": [], "network": False}
    assert json.loads(bytes(row(path)[0]))["network"] is False


def test_unknown_fields_are_kept_in_place_and_booleans_stay_booleans(db_with):
    value = record(state="created")
    value["labels"] = {"team": "research"}
    value["future"] = {"nested": [True, False, None, 1, 2.5, "ü"]}
    value["cuda"] = False
    original = blob(value)
    path = db_with({"agent1": original})

    AllowlistPatch(path, "agent1", ["10.0.0.0/8", "127.0.0.16"]).ensure()

    data = bytes(row(path)[0])
    stored = json.loads(data)
    assert list(stored) == list(value)
    assert {k: v for k, v in stored.items() if k != "allowed_cidrs"} == {
        k: v for k, v in value.items() if k != "allowed_cidrs"}
    assert stored["allowed_cidrs"] == ["10.0.0.0/8", "127.0.0.16/32"]
    assert b'"cuda":false' in data and b'"ssh_agent":false' in data
    assert b'"user_stopped":false' in data
    assert "ü".encode() in data


def test_key_order_does_not_matter_and_is_kept(db_with):
    value = record()
    reordered = dict(reversed(list(value.items())))
    path = db_with({"agent1": blob(reordered)})

    AllowlistPatch(path, "agent1", ["127.0.0.16/32"]).ensure()

    stored = json.loads(bytes(row(path)[0]))
    assert list(stored) == list(reordered)


def test_a_record_without_the_fields_gets_them(db_with):
    value = record()
    del value["allowed_cidrs"]
    del value["network"]
    path = db_with({"agent1": blob(value)})

    result = AllowlistPatch(path, "agent1", ["127.0.0.16/32"]).ensure()

    assert result.facts["before"] == {"allowed_cidrs": None, "network": False}
    stored = json.loads(bytes(row(path)[0]))
    assert list(stored)[:-2] == list(value)
    assert stored["allowed_cidrs"] == ["127.0.0.16/32"] and stored["network"] is True


@pytest.mark.parametrize("stored", [
    ["127.0.0.16/32"],
    ["127.0.0.16"],
    ["127.0.0.16/32", "127.0.0.16/32"],
])
def test_an_equal_allowlist_is_left_alone(db_with, stored):
    path = db_with({"agent1": blob(record(allowed_cidrs=stored))})
    before = files(path)

    result = AllowlistPatch(path, "agent1", ["127.0.0.16"]).ensure()

    assert result.changed is False
    assert result.facts["before"] == result.facts["after"] == {"allowed_cidrs": stored, "network": True}
    assert read_only_left(before, files(path))


def test_the_same_networks_in_another_order_are_left_alone(db_with):
    path = db_with({"agent1": blob(record(allowed_cidrs=["10.0.0.0/8", "127.0.0.16/32"]))})
    before = files(path)

    result = AllowlistPatch(path, "agent1", ["127.0.0.16/32", "10.0.0.0/8"]).ensure()

    assert result.changed is False
    assert read_only_left(before, files(path))


def test_a_different_list_is_replaced(db_with):
    path = db_with({"agent1": blob(record(allowed_cidrs=["127.0.0.16/32", "1.1.1.1/32"]))})

    result = AllowlistPatch(path, "agent1", ["127.0.0.16/32"]).ensure()

    assert result.changed is True
    assert result.facts["before"]["allowed_cidrs"] == ["127.0.0.16/32", "1.1.1.1/32"]
    assert json.loads(bytes(row(path)[0]))["allowed_cidrs"] == ["127.0.0.16/32"]


def test_an_equal_list_with_networking_off_gets_networking(db_with):
    path = db_with({"agent1": blob(record(allowed_cidrs=["127.0.0.16/32"], network=False))})

    result = AllowlistPatch(path, "agent1", ["127.0.0.16/32"]).ensure()

    assert result.changed is True
    assert result.facts["after"] == {"allowed_cidrs": ["127.0.0.16/32"], "network": True}


def test_check_mode_reports_and_writes_nothing(db):
    before = files(db)

    result = AllowlistPatch(db, "agent1", ["127.0.0.16"]).ensure(check_mode=True)

    assert result.changed is True
    assert result.facts["after"] == {"allowed_cidrs": ["127.0.0.16/32"], "network": True}
    assert read_only_left(before, files(db))
    assert bytes(row(db)[0]) == EXAMPLE.encode()


def test_as_dict_carries_the_diff_only_when_asked(db):
    result = AllowlistPatch(db, "agent1", ["127.0.0.16"]).ensure(check_mode=True)

    assert "diff" not in result.as_dict()
    assert result.as_dict(diff=True)["diff"] == {
        "before": {"allowed_cidrs": None, "network": True},
        "after": {"allowed_cidrs": ["127.0.0.16/32"], "network": True}}
    assert result.as_dict()["db_path"] == db


@pytest.mark.parametrize("state", ["created", "stopped", "failed"])
def test_machines_that_are_not_running_can_be_patched(db_with, state):
    path = db_with({"agent1": blob(record(state=state))})

    assert AllowlistPatch(path, "agent1", ["127.0.0.16/32"]).ensure().facts["machine_state"] == state


def test_other_rows_are_not_touched(db_with):
    other = blob(record(name="other", allowed_cidrs=None))
    path = db_with({"agent1": EXAMPLE.encode(), "other": other})

    AllowlistPatch(path, "agent1", ["127.0.0.16/32"]).ensure()

    assert bytes(row(path, "other")[0]) == other


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-2 ** 63, 2 ** 64 - 1)
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=10),
    lambda children: (st.lists(children, max_size=4)
                      | st.dictionaries(st.text(max_size=6), children, max_size=4)),
    max_leaves=12)


# The fields the proof owns or judges (a random "dns" or "pid" is refused, rightly): not "other".
NOT_OTHER_FIELDS = frozenset(OWNED_FIELDS + EGRESS_FIELDS + ("state", "pid"))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(extra=st.dictionaries(st.text(max_size=12).filter(lambda k: k not in NOT_OTHER_FIELDS),
                             json_values, max_size=6))
def test_property_any_other_fields_survive_the_patch(extra):
    value = record()
    value.update(extra)
    with tempfile.TemporaryDirectory() as tmp:
        path = make_db(os.path.join(tmp, "smolvm.db"), {"agent1": blob(value)})

        AllowlistPatch(path, "agent1", ["127.0.0.16/32"]).ensure()

        stored = json.loads(bytes(row(path)[0]))
    assert list(stored) == list(value)
    assert {k: v for k, v in stored.items() if k != "allowed_cidrs"} == {
        k: v for k, v in value.items() if k != "allowed_cidrs"}


# ---------------------------------------------------------------------------- failing closed

def test_invalid_cidrs_fail_before_the_db_is_opened(tmp_path):
    missing = str(tmp_path / "nothing-here.db")

    with pytest.raises(CidrError) as caught:
        AllowlistPatch(missing, "agent1", ["127.0.0.16", "10.0.0.1/8"])

    assert "'10.0.0.1/8' has host bits set" in str(caught.value)
    assert not os.path.exists(missing)


def test_a_missing_db_fails_and_is_not_created(tmp_path):
    missing = str(tmp_path / "smolvm" / "server" / "smolvm.db")

    with pytest.raises(SmolvmDbMissing) as caught:
        AllowlistPatch(missing, "agent1", ["127.0.0.16"]).ensure()

    message = str(caught.value)
    assert f"the smolvm state DB {missing} does not exist" in message
    assert "allowlist is not proven" in message
    assert "create the machine with smolvm first, or check db_path" in message
    assert not os.path.exists(missing)


def _fails(path, exc_type, name="agent1", cidrs=("127.0.0.16",), **kwargs):
    before = files(path)
    with pytest.raises(exc_type) as caught:
        AllowlistPatch(path, name, list(cidrs), **kwargs).ensure()
    assert read_only_left(before, files(path))
    return str(caught.value)


def test_a_db_without_a_vms_table_fails_unchanged(tmp_path):
    path = str(tmp_path / "other.db")
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("CREATE TABLE things (x)")
    conn.close()

    message = _fails(path, SmolvmDbMissing)

    assert f"{path} has no vms table, so it is not a smolvm state DB" in message
    assert "nothing was changed" in message and "check db_path" in message


def test_a_file_that_is_not_sqlite_fails_unchanged(tmp_path):
    path = str(tmp_path / "smolvm.db")
    with open(path, "wb") as handle:
        handle.write(b"not a database, just bytes" * 100)

    message = _fails(path, SmolvmDbError)

    assert "SQLite error on" in message and "nothing was changed" in message


def test_a_missing_row_fails_unchanged(db):
    message = _fails(db, SmolvmDbMissing, name="ghost")

    assert f"machine 'ghost' has no row in {db}" in message
    assert "create it first (smolvm machine create) or check name and db_path" in message


def test_text_data_is_detected_and_left_alone(db_with):
    path = db_with({"agent1": EXAMPLE})  # a str binds as TEXT

    message = _fails(path, SmolvmRecordError)

    assert "stored as TEXT, not BLOB" in message
    assert "smolvm cannot read this machine" in message
    assert row(path)[1] == "text"


@pytest.mark.parametrize("data, words", [
    (b"{not json", "is not JSON"),
    (b"[1, 2]", "is a JSON list, not an object"),
    (b'"agent1"', "is a JSON str, not an object"),
    (b'{"name": "agent1", "cpus": NaN}', "is not JSON"),
    (b"\xff\xfe", "is not JSON"),
])
def test_data_that_is_not_a_json_object_fails_unchanged(db_with, data, words):
    path = db_with({"agent1": data})

    message = _fails(path, SmolvmRecordError)

    assert f"the data of machine 'agent1' in {path} {words}" in message
    assert "delete and recreate the machine with smolvm" in message


@pytest.mark.parametrize("state", ["running", "unreachable"])
def test_a_live_machine_fails_unchanged_and_says_why(db_with, state):
    path = db_with({"agent1": blob(record(state=state, pid=4242))})

    message = _fails(path, SmolvmMachineRunning)

    assert f"machine 'agent1' is {state}" in message
    assert "never sees a patch" in message
    assert "would undo it" in message
    assert "stop the machine (smolvm machine stop) and run again" in message


def test_a_live_machine_fails_even_in_check_mode(db_with):
    path = db_with({"agent1": blob(record(state="running"))})
    before = files(path)

    with pytest.raises(SmolvmMachineRunning):
        AllowlistPatch(path, "agent1", ["127.0.0.16"]).ensure(check_mode=True)

    assert read_only_left(before, files(path))


@pytest.mark.parametrize("state", ["running", "unreachable"])
def test_a_live_machine_already_holding_the_list_is_left_alone(db_with, state):
    path = db_with({"agent1": blob(record(state=state, allowed_cidrs=["127.0.0.16/32"],
                                          network=True))})
    before = files(path)

    result = AllowlistPatch(path, "agent1", ["127.0.0.16"]).ensure()

    assert result.changed is False
    assert result.facts["machine_state"] == state
    assert result.facts["after"] == {"allowed_cidrs": ["127.0.0.16/32"], "network": True}
    assert read_only_left(before, files(path))


def test_a_failing_update_is_rolled_back(db):
    conn = sqlite3.connect(db)
    conn.execute("CREATE TRIGGER refuse BEFORE UPDATE ON vms BEGIN SELECT RAISE(ABORT, 'no'); END")
    conn.close()

    message = _fails(db, SmolvmDbError)

    assert "rolled back, nothing was changed" in message


def test_a_negative_timeout_is_refused(db):
    with pytest.raises(SmolvmDbError) as caught:
        AllowlistPatch(db, "agent1", ["127.0.0.16"], timeout=-1)

    assert "timeout=-1 is not a number of seconds >= 0" in str(caught.value)


# ---------------------------------------------------------------------------- concurrency

@pytest.fixture
def holder(db):
    """Another process holding smolvm's write lock (BEGIN IMMEDIATE) until told to let go.
    Yields (release, the DB's file hashes from before the holder opened it)."""
    pristine = files(db)
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, db], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline() == "locked\n"

    def release():
        if proc.poll() is None:
            proc.stdin.write("\n")
            proc.stdin.flush()
            assert proc.stdout.readline() == "released\n"
            proc.wait(timeout=30)
    yield release, pristine
    release()


def test_a_held_lock_fails_after_the_timeout_and_changes_nothing(db, holder):
    release, before = holder
    waits = []

    with pytest.raises(SmolvmDbLocked) as caught:
        AllowlistPatch(db, "agent1", ["127.0.0.16"], timeout=0.3, on_busy=waits.append).ensure()

    release()
    assert waits, "the patch never saw the lock"
    message = str(caught.value)
    assert "stayed locked by another writer for 0.3 s" in message
    assert "nothing was changed" in message and "raise db_timeout" in message
    assert read_only_left(before, files(db))


def test_a_lock_released_in_time_is_waited_for(db, holder):
    release = holder[0]
    waits = []

    def on_busy(waited):
        # The other side lets go only once the patch has found the lock held.
        if not waits:
            release()
        waits.append(waited)

    result = AllowlistPatch(db, "agent1", ["127.0.0.16"], timeout=60, on_busy=on_busy).ensure()

    assert waits
    assert result.changed is True
    assert json.loads(bytes(row(db)[0]))["allowed_cidrs"] == ["127.0.0.16/32"]


def test_works_while_another_connection_holds_the_wal_db_open_for_reading(db):
    # As `smolvm serve` does: a long-lived connection, here even inside a read transaction.
    reader = sqlite3.connect(db, isolation_level=None)
    try:
        assert reader.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        reader.execute("BEGIN")
        assert reader.execute("SELECT count(*) FROM vms").fetchone()[0] == 1

        result = AllowlistPatch(db, "agent1", ["127.0.0.16"], timeout=5).ensure()

        assert result.changed is True
        snapshot = reader.execute("SELECT data FROM vms WHERE name = 'agent1'").fetchone()[0]
        assert json.loads(bytes(snapshot))["allowed_cidrs"] is None
        reader.execute("COMMIT")
        fresh = reader.execute("SELECT data FROM vms WHERE name = 'agent1'").fetchone()[0]
        assert json.loads(bytes(fresh))["allowed_cidrs"] == ["127.0.0.16/32"]
    finally:
        reader.close()


# ---------------------------------------------------------------------------- the read-back

def test_a_concurrent_rewrite_after_the_commit_fails_the_proof(db, monkeypatch):
    # smolvm's stop loads every record, then writes the whole (old) record back later.
    stale = blob(record(state="stopped", allowed_cidrs=None))
    read_back = AllowlistPatch._read_back

    def rewritten_first(self):
        conn = sqlite3.connect(db)
        conn.execute("UPDATE vms SET data = ? WHERE name = 'agent1'", (sqlite3.Binary(stale),))
        conn.commit()
        conn.close()
        return read_back(self)

    monkeypatch.setattr(AllowlistPatch, "_read_back", rewritten_first)

    with pytest.raises(SmolvmReadBackError) as caught:
        AllowlistPatch(db, "agent1", ["127.0.0.16"]).ensure()

    message = str(caught.value)
    assert "another writer" in message and "its change was left in place" in message
    assert "do not start the machine" in message
    assert bytes(row(db)[0]) == stale


def test_a_vanished_row_fails_the_proof(db, monkeypatch):
    read_back = AllowlistPatch._read_back

    def deleted_first(self):
        conn = sqlite3.connect(db)
        conn.execute("DELETE FROM vms")
        conn.commit()
        conn.close()
        return read_back(self)

    monkeypatch.setattr(AllowlistPatch, "_read_back", deleted_first)

    with pytest.raises(SmolvmReadBackError) as caught:
        AllowlistPatch(db, "agent1", ["127.0.0.16"]).ensure()

    assert "found no row instead of the patched record" in str(caught.value)


def test_a_row_that_holds_the_write_but_not_the_policy_is_restored(db):
    patch = AllowlistPatch(db, "agent1", ["127.0.0.16"])
    written = blob(record(allowed_cidrs=["127.0.0.99/32"]))
    conn = sqlite3.connect(db)
    conn.execute("UPDATE vms SET data = ? WHERE name = 'agent1'", (sqlite3.Binary(written),))
    conn.commit()
    conn.close()

    with pytest.raises(SmolvmReadBackError) as caught:
        patch._prove(EXAMPLE.encode(), written,
                     {"allowed_cidrs": ["127.0.0.16/32"], "network": True})

    assert "the original row was restored" in str(caught.value)
    assert bytes(row(db)[0]) == EXAMPLE.encode()
    assert row(db)[1] == "blob"


def test_restore_leaves_a_row_someone_else_wrote(db):
    patch = AllowlistPatch(db, "agent1", ["127.0.0.16"])

    patch._restore(b'{"original":true}', b'{"what the patch wrote":true}')

    assert bytes(row(db)[0]) == EXAMPLE.encode()


def test_the_module_utils_never_creates_tables_or_rows(db):
    conn = sqlite3.connect(db)
    tables_before = conn.execute("SELECT name, sql FROM sqlite_master ORDER BY name").fetchall()
    conn.close()

    AllowlistPatch(db, "agent1", ["127.0.0.16"]).ensure()

    conn = sqlite3.connect(db)
    try:
        assert conn.execute("SELECT name, sql FROM sqlite_master ORDER BY name").fetchall() == tables_before
        assert conn.execute("SELECT count(*) FROM vms").fetchone()[0] == 1
    finally:
        conn.close()


# ---------------------------------------------------------------------------- the whole egress policy

# Each as the real smolvm 1.32.2 (1.7.7 / 1.9.1 for the older ones) wrote it for its create flag.
WIDENING = [
    ("network_backend", "tsi"),                                        # --net-backend tsi
    ("egress_rules", [{"transport": "udp", "cidr": "0.0.0.0/0",
                       "ports": {"start": 1, "end": 65535}, "action": "allow"}]),  # --allow-udp
    ("dns", "9.9.9.9"),                                                # --dns
    ("dns_filter_hosts", ["localhost", "*.ex.org"]),                   # --allow-host(-pattern)
    ("block_private", ["192.168.0.0/16"]),                             # --allow-private
    ("block_private", []),                                             # --block-private
    ("credential_policy", {"credentials": [{"name": "n", "allowed_hosts": ["api.example.com"]}]}),
    ("network_name", "netA"),                                          # --network
    ("external_interceptor_required", True),
    ("mediated_egress_required", True),
]


@pytest.mark.parametrize("field, value", WIDENING)
@pytest.mark.parametrize("stored", [None, ["127.0.0.16/32"]])
def test_an_egress_field_beyond_the_allowlist_is_refused_and_nothing_changes(db_with, field, value, stored):
    path = db_with({"agent1": blob(record(allowed_cidrs=stored, **{field: value}))})
    before = files(path)

    with pytest.raises(SmolvmEgressError) as caught:
        AllowlistPatch(path, "agent1", ["127.0.0.16"]).ensure()

    assert f"{field}={value!r}" in str(caught.value)
    assert "its confinement is not proven" in str(caught.value)
    assert read_only_left(before, files(path))


@pytest.mark.parametrize("extra", [
    {"egress_rules": [{"cidr": "10.9.0.0/16", "action": "deny"}]},
    {"guest_subnet": "10.200.0.0/30", "dns_options": ["timeout:1"]},
    {"network_backend": "virtio-net"},
    {"block_private": None, "dns": None, "network_name": None},
])
def test_egress_fields_that_open_nothing_are_kept_and_reported(db_with, extra):
    path = db_with({"agent1": blob(record(**extra))})

    result = AllowlistPatch(path, "agent1", ["127.0.0.16"]).ensure()

    assert result.changed is True
    assert result.facts["egress"] == extra
    stored = json.loads(bytes(row(path)[0]))
    assert {key: stored[key] for key in extra} == extra


def test_a_record_with_a_duplicated_key_is_refused_even_when_its_last_value_is_right(db_with):
    path = db_with({"agent1": b'{"name":"agent1","allowed_cidrs":null,"network":true,'
                              b'"allowed_cidrs":["127.0.0.16/32"],"state":"stopped"}'})
    before = files(path)

    with pytest.raises(SmolvmRecordError) as caught:
        AllowlistPatch(path, "agent1", ["127.0.0.16"]).ensure(check_mode=True)

    assert "'allowed_cidrs' appears twice" in str(caught.value)
    assert read_only_left(before, files(path))


@pytest.mark.parametrize("state", ["running", "paused", "pausing", "unreachable", "frozen"])
def test_every_live_state_of_1_32_is_refused(db_with, state):
    path = db_with({"agent1": blob(record(state=state, pid=4242))})

    message = _fails(path, SmolvmMachineRunning)

    assert f"machine 'agent1' is {state}" in message


def test_a_failed_machine_whose_pid_still_runs_is_refused(db_with):
    path = db_with({"agent1": blob(record(state="failed", pid=os.getpid()))})

    message = _fails(path, SmolvmMachineRunning)

    assert "machine 'agent1' is failed" in message


def test_a_failed_machine_whose_pid_is_gone_is_patched(db_with):
    path = db_with({"agent1": blob(record(state="failed", pid=4242))})

    result = AllowlistPatch(path, "agent1", ["127.0.0.16"], alive=lambda pid: False).ensure()

    assert result.changed is True


# ---------------------------------------------------------------------------- through smolvm's CLI

def test_the_cli_method_writes_through_smolvm_and_is_proven_from_the_record(db_with):
    path = db_with({"agent1": blob(record(network=False))})
    calls = []

    def update(cidrs):
        calls.append(cidrs)
        conn = sqlite3.connect(path)
        conn.execute("UPDATE vms SET data = ? WHERE name = 'agent1'",
                     (blob(record(network=True, allowed_cidrs=cidrs)),))
        conn.commit()
        conn.close()

    result = AllowlistPatch(path, "agent1", ["127.0.0.16"], cli_update=update,
                            shown_allowlist=lambda: ["127.0.0.16/32"]).ensure()

    assert calls == [["127.0.0.16/32"]]
    assert result.as_dict()["method"] == "cli"
    assert result.facts["after"] == {"allowed_cidrs": ["127.0.0.16/32"], "network": True}


def test_the_cli_method_fails_closed_when_the_record_does_not_follow(db_with):
    path = db_with({"agent1": blob(record(network=False))})

    with pytest.raises(SmolvmReadBackError) as caught:
        AllowlistPatch(path, "agent1", ["127.0.0.16"], cli_update=lambda cidrs: None).ensure()

    assert "is not proven" in str(caught.value)


def test_check_mode_never_calls_the_cli(db_with):
    path = db_with({"agent1": blob(record(network=False))})

    result = AllowlistPatch(path, "agent1", ["127.0.0.16"], cli_update=lambda c: 1 / 0).ensure(
        check_mode=True)

    assert result.changed is True


def test_a_shown_allowlist_that_differs_from_the_record_fails_closed(db_with):
    path = db_with({"agent1": blob(record(allowed_cidrs=["127.0.0.16/32"]))})

    with pytest.raises(SmolvmReadBackError) as caught:
        AllowlistPatch(path, "agent1", ["127.0.0.16"], shown_allowlist=lambda: None).ensure()

    assert "shows machine 'agent1' with allowed_cidrs None" in str(caught.value)
