# Copyright: (c) 2026, bot-bottle developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import fcntl
import json
import os
import stat
import subprocess
import sys

import pytest
from hypothesis import given, strategies as st

from ansible_collections.bot_bottle.smolmachines.plugins.module_utils import leases as leases_mod
from ansible_collections.bot_bottle.smolmachines.plugins.module_utils.leases import (
    FileLock, Lease, LeaseError, LeaseStore, table_as_dict,
)


class Clock:
    def __init__(self, now=1_000_000.0):
        self.now = now

    def __call__(self):
        return self.now


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def test_a_missing_file_is_an_empty_table(tmp_path):
    assert LeaseStore(str(tmp_path / "none.json")).load() == {}


def test_save_then_load_gives_the_same_leases_sorted_by_alias(tmp_path):
    store = LeaseStore(str(tmp_path / "leases.json"))
    table = {"b": Lease("b", "127.0.0.100", 20), "a": Lease("a", "127.0.0.20", 10)}
    store.save(table)
    assert store.load() == table
    on_disk = json.loads((tmp_path / "leases.json").read_text())
    assert on_disk == {"version": 1, "leases": [
        {"slug": "a", "alias": "127.0.0.20", "expires_at": 10},
        {"slug": "b", "alias": "127.0.0.100", "expires_at": 20},
    ]}


def test_the_file_is_private_and_its_new_directory_too(tmp_path):
    path = tmp_path / "cache" / "bot-bottle" / "leases.json"
    LeaseStore(str(path)).save({"a": Lease("a", "127.0.0.16", 1)})
    assert mode(path) == 0o600
    assert mode(path.parent) == 0o700
    assert sorted(os.listdir(path.parent)) == ["leases.json"]


def test_an_existing_directory_keeps_its_permissions(tmp_path):
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o755)
    os.chmod(shared, 0o755)
    LeaseStore(str(shared / "leases.json")).save({})
    assert mode(shared) == 0o755
    assert mode(shared / "leases.json") == 0o600


def test_a_rewrite_replaces_a_too_open_file_with_a_private_one(tmp_path):
    path = tmp_path / "leases.json"
    path.write_text('{"version": 1, "leases": []}')
    os.chmod(path, 0o644)
    LeaseStore(str(path)).save({})
    assert mode(path) == 0o600


def test_a_failed_write_leaves_the_old_table_and_no_temporary_file(tmp_path, monkeypatch):
    path = tmp_path / "leases.json"
    store = LeaseStore(str(path))
    store.save({"a": Lease("a", "127.0.0.16", 5)})

    def broken_replace(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(leases_mod.os, "replace", broken_replace)
    with pytest.raises(LeaseError) as caught:
        store.save({"b": Lease("b", "127.0.0.17", 5)})
    monkeypatch.undo()
    assert str(path) in str(caught.value)
    assert "No space left on device" in str(caught.value)
    assert store.load() == {"a": Lease("a", "127.0.0.16", 5)}
    assert os.listdir(tmp_path) == ["leases.json"]


@pytest.mark.parametrize("content, reason", [
    ("", "not JSON"),
    ("{not json", "not JSON"),
    ("[]", "expected an object"),
    ('{"version": 1}', "expected an object"),
    ('{"version": 2, "leases": []}', "format version 2"),
    ('{"version": 1, "leases": [1]}', "is not an object"),
    ('{"version": 1, "leases": [{"alias": "127.0.0.16", "expires_at": 1}]}', "has no slug"),
    ('{"version": 1, "leases": [{"slug": "a", "alias": "x", "expires_at": 1}]}', "not an IPv4 address"),
    ('{"version": 1, "leases": [{"slug": "a", "alias": "127.0.0.16", "expires_at": "soon"}]}',
     "not a finite number"),
    ('{"version": 1, "leases": [{"slug": "a", "alias": "127.0.0.16", "expires_at": true}]}',
     "not a finite number"),
    ('{"version": 1, "leases": [{"slug": "a", "alias": "127.0.0.16", "expires_at": NaN}]}',
     "NaN is not a finite number"),
    ('{"version": 1, "leases": [{"slug": "a", "alias": "127.0.0.16", "expires_at": Infinity}]}',
     "Infinity is not a finite number"),
    ('{"version": 1, "leases": [{"slug": "a", "alias": "127.0.0.16", "expires_at": -Infinity}]}',
     "-Infinity is not a finite number"),
    ('{"version": 1, "leases": [{"slug": "a", "alias": "127.0.0.16", "expires_at": 1e999}]}',
     "expires_at inf, not a finite number"),
    ('{"version": 1, "leases": [{"slug": "a", "alias": "127.0.0.16", "expires_at": 1},'
     ' {"slug": "a", "alias": "127.0.0.17", "expires_at": 1}]}', "slug 'a' holds two leases"),
    ('{"version": 1, "leases": [{"slug": "a", "alias": "127.0.0.16", "expires_at": 1},'
     ' {"slug": "b", "alias": "127.0.0.16", "expires_at": 1}]}', "leased to both 'a' and 'b'"),
])
def test_a_corrupt_file_is_an_error_naming_it_and_is_left_alone(tmp_path, content, reason):
    path = tmp_path / "leases.json"
    path.write_text(content)
    with pytest.raises(LeaseError) as caught:
        LeaseStore(str(path)).load()
    message = str(caught.value)
    assert str(path) in message
    assert reason in message
    assert "not reset automatically" in message
    assert path.read_text() == content


def test_a_file_that_is_not_text_is_an_error(tmp_path):
    path = tmp_path / "leases.json"
    path.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(LeaseError) as caught:
        LeaseStore(str(path)).load()
    assert "not UTF-8" in str(caught.value)


def test_a_directory_in_the_way_is_a_clear_error(tmp_path):
    (tmp_path / "leases.json").mkdir()
    with pytest.raises(LeaseError) as caught:
        LeaseStore(str(tmp_path / "leases.json")).load()
    assert f"the lease file {tmp_path / 'leases.json'} is not a regular file" in str(caught.value)


@given(now=st.floats(min_value=0, max_value=4e9, allow_nan=False),
       ttl=st.integers(min_value=1, max_value=10 ** 6))
def test_a_new_lease_lives_for_ttl_seconds_and_not_one_more(now, ttl):
    lease = LeaseStore("/unused", clock=Clock(now)).new_lease("a", "127.0.0.16", ttl)
    assert isinstance(lease.expires_at, int)
    assert lease.live(now)
    assert lease.live(now + ttl - 0.001)
    assert not lease.live(now + ttl + 1)


@given(expires_at=st.integers(min_value=0, max_value=2 ** 33),
       offset=st.integers(min_value=-1000, max_value=1000))
def test_a_lease_is_live_exactly_until_it_expires(expires_at, offset):
    assert Lease("a", "127.0.0.16", expires_at).live(expires_at + offset) == (offset < 0)


def test_table_as_dict_orders_by_address_not_by_text():
    table = {"x": Lease("x", "127.0.0.100", 1), "y": Lease("y", "127.0.0.20", 1)}
    assert [entry["alias"] for entry in table_as_dict(table)["leases"]] == ["127.0.0.20", "127.0.0.100"]


# ---- the lock ------------------------------------------------------------------------------

PROBE = """
import fcntl, os, sys
fd = os.open(sys.argv[1], os.O_RDONLY)
try:
    fcntl.flock(fd, (fcntl.LOCK_SH if sys.argv[2] == "shared" else fcntl.LOCK_EX) | fcntl.LOCK_NB)
except BlockingIOError:
    print("blocked")
else:
    print("acquired")
"""


def probe(path, kind):
    """Try the lock from another process, without waiting."""
    return subprocess.run([sys.executable, "-c", PROBE, str(path), kind], capture_output=True, text=True,
                          check=True).stdout.strip()


def test_the_exclusive_lock_creates_a_private_file_and_keeps_others_out(tmp_path):
    path = tmp_path / "cache" / "smolmachines.lock"
    with FileLock(str(path)) as lock:
        assert lock.held
        assert mode(path) == 0o600
        assert mode(path.parent) == 0o700
        assert probe(path, "exclusive") == "blocked"
        assert probe(path, "shared") == "blocked"
    assert probe(path, "exclusive") == "acquired"
    assert path.exists()


def test_the_shared_lock_lets_readers_in_and_writers_wait(tmp_path):
    path = tmp_path / "smolmachines.lock"
    path.touch()
    with FileLock(str(path), shared=True, create=False) as lock:
        assert lock.held
        assert probe(path, "shared") == "acquired"
        assert probe(path, "exclusive") == "blocked"


def test_a_shared_lock_on_a_missing_file_creates_nothing(tmp_path):
    path = tmp_path / "cache" / "smolmachines.lock"
    with FileLock(str(path), shared=True, create=False) as lock:
        assert not lock.held
    assert not (tmp_path / "cache").exists()


def test_the_lock_file_is_never_truncated(tmp_path):
    # bot-bottle's launcher may hold a lock on this very inode; it must survive our use.
    path = tmp_path / "smolmachines.lock"
    path.write_text("owner data")
    inode = os.stat(path).st_ino
    with FileLock(str(path)):
        pass
    assert path.read_text() == "owner data"
    assert os.stat(path).st_ino == inode


def test_a_lock_path_in_a_missing_unwritable_place_is_a_clear_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(LeaseError) as caught:
        with FileLock(str(blocker / "sub" / "smolmachines.lock")):
            pass
    assert f"cannot create the directory {blocker / 'sub'}" in str(caught.value)


def test_the_lock_is_released_when_the_block_raises(tmp_path):
    path = tmp_path / "smolmachines.lock"
    with pytest.raises(RuntimeError):
        with FileLock(str(path)):
            raise RuntimeError("boom")
    fd = os.open(path, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    finally:
        os.close(fd)


# ---- issue 12, weaker items: files that others could control -------------------------------

NOBODY = 65534


def test_a_lock_file_that_is_a_symbolic_link_is_never_followed(tmp_path):
    target = tmp_path / "elsewhere"
    link = tmp_path / "smolmachines.lock"
    link.symlink_to(target)
    with pytest.raises(LeaseError) as caught:
        with FileLock(str(link)):
            pass
    assert f"the lock file {link} is a symbolic link; it is never followed" in str(caught.value)
    assert not target.exists()


def test_a_lease_file_that_is_a_symbolic_link_is_never_followed(tmp_path):
    target = tmp_path / "real.json"
    target.write_text('{"version": 1, "leases": []}')
    link = tmp_path / "leases.json"
    link.symlink_to(target)
    with pytest.raises(LeaseError) as caught:
        LeaseStore(str(link)).load()
    assert f"the lease file {link} is a symbolic link" in str(caught.value)


@pytest.mark.parametrize("file_mode", [0o666, 0o620, 0o602])
def test_a_lease_table_writable_by_others_is_refused_naming_its_mode(tmp_path, file_mode):
    path = tmp_path / "leases.json"
    path.write_text('{"version": 1, "leases": []}')
    os.chmod(path, file_mode)
    with pytest.raises(LeaseError) as caught:
        LeaseStore(str(path)).load()
    assert f"the lease file {path} is owned by " in str(caught.value)
    assert f"with mode {file_mode:04o}" in str(caught.value)


@pytest.mark.skipif(os.geteuid() != 0, reason="giving a file to another user needs root")
def test_a_lease_table_and_a_lock_owned_by_another_user_are_refused(tmp_path):
    table, lock = tmp_path / "leases.json", tmp_path / "smolmachines.lock"
    table.write_text('{"version": 1, "leases": []}')
    lock.write_text("")
    os.chown(table, NOBODY, NOBODY)
    os.chown(lock, NOBODY, NOBODY)
    with pytest.raises(LeaseError) as caught:
        LeaseStore(str(table)).load()
    assert f"the lease file {table} is owned by nobody (uid {NOBODY}) with mode 0644" in str(caught.value)
    with pytest.raises(LeaseError) as caught:
        with FileLock(str(lock)):
            pass
    assert f"the lock file {lock} is owned by nobody (uid {NOBODY})" in str(caught.value)


def test_a_directory_others_may_write_is_refused(tmp_path):
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, 0o777)
    with pytest.raises(LeaseError) as caught:
        with FileLock(str(shared / "smolmachines.lock")):
            pass
    assert f"the directory {shared} is owned by " in str(caught.value) and "mode 0777" in str(caught.value)
    assert list(shared.iterdir()) == []


def test_a_sticky_shared_directory_is_fine(tmp_path):
    sticky = tmp_path / "sticky"
    sticky.mkdir()
    os.chmod(sticky, 0o1777)
    with FileLock(str(sticky / "smolmachines.lock")) as lock:
        assert lock.held


@pytest.mark.parametrize("value", ["/tmp/x.lock\n", " /tmp/x.lock", "/tmp/x\x00.lock"])
def test_a_path_with_a_control_character_or_surrounding_space_is_refused(value):
    with pytest.raises(LeaseError) as caught:
        FileLock(value)
    assert f"lock_path={value!r}" in str(caught.value)
    with pytest.raises(LeaseError) as caught:
        LeaseStore(value)
    assert f"lease_path={value!r}" in str(caught.value)


HOLDER = """
import fcntl, os, sys
fd = os.open(sys.argv[1], os.O_RDWR)
fcntl.flock(fd, fcntl.LOCK_EX)
print("held", flush=True)
sys.stdin.readline()
"""


def test_a_lock_wait_is_bounded_and_names_the_holder(tmp_path):
    path = tmp_path / "smolmachines.lock"
    path.write_text("")
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(path)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline() == "held\n"
        ticks = iter(range(1000))
        with pytest.raises(LeaseError) as caught:
            # A fake clock: each look at it is one second later, so no real time passes.
            with FileLock(str(path), timeout=5, clock=lambda: next(ticks), sleep=lambda s: None):
                pass
    finally:
        holder.stdin.write("done\n")
        holder.stdin.flush()
        holder.wait(timeout=30)
    message = str(caught.value)
    assert message.startswith(f"gave up waiting for the lock {path} after 5 s (lock_timeout): it is held by "
                              f"pid {holder.pid} (")
    assert "Wait for that launch to finish, or stop it if it is stuck" in message


def test_stale_temporary_files_are_swept_and_nothing_else(tmp_path):
    store = LeaseStore(str(tmp_path / "leases.json"))
    store.save({})
    stale = [tmp_path / ".leases.json.abc123.tmp", tmp_path / ".leases.json.zz.tmp"]
    for path in stale:
        path.write_text("half a tab")
    kept = [tmp_path / "leases.json", tmp_path / ".other.json.x.tmp", tmp_path / ".leases.json.x.bak"]
    for path in kept[1:]:
        path.write_text("")
    assert sorted(store.sweep()) == sorted(str(p) for p in stale)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.name for p in kept)


def test_a_non_finite_expiry_is_never_written(tmp_path):
    store = LeaseStore(str(tmp_path / "leases.json"))
    with pytest.raises(LeaseError) as caught:
        store.save({"a": Lease("a", "127.0.0.16", float("inf"))})
    assert "not writing the lease file" in str(caught.value)
    assert not (tmp_path / "leases.json").exists()
