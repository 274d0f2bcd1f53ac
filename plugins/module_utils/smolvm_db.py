# Copyright: (c) 2026, bot-bottle developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""smolvm's state database: where it lives, and a fail-closed patch of one machine's allowlist.

smolvm 0.5.12 through 1.7.7 drops `--allow-cidr` when a machine is created `--from` a packed file
and stores `allowed_cidrs: null` (unrestricted egress). The patch here makes the persisted
allowlist right and proves it by reading it back, or fails and leaves the database as it was.

The database (reference/smolvm.md): SQLite in WAL mode, table `vms (name TEXT PRIMARY KEY,
data BLOB)`, one JSON object per machine. smolvm reads `data` with a BLOB-only accessor, so it is
always written back as bytes; serde ignores unknown fields and fills missing ones with defaults,
so every field the patch does not own is kept exactly as it was, in its order.
"""

from __future__ import annotations

import os
import sqlite3
import sys
import time
from urllib.parse import quote

from ansible_collections.bot_bottle.smolmachines.plugins.module_utils.cidr import (
    normalize_cidrs, same_allowlist,
)
from ansible_collections.bot_bottle.smolmachines.plugins.module_utils.durations import is_seconds
from ansible_collections.bot_bottle.smolmachines.plugins.module_utils.errors import BottleError
from ansible_collections.bot_bottle.smolmachines.plugins.module_utils.results import ModuleResult
from ansible_collections.bot_bottle.smolmachines.plugins.module_utils.smolvm_record import (
    OWNED_FIELDS, RecordParseError, dumps_record, is_live, loads_record, other_egress,
    owned_policy, pid_alive, widening_fields,
)

DEFAULT_TIMEOUT = 15  # seconds, smolvm's own busy timeout
DB_RELATIVE_PATH = ("smolvm", "server", "smolvm.db")
DATA_DIR_SINCE = (1, 2, 5)  # first smolvm that honours SMOLVM_DATA_DIR


# The write lock is taken in slices of this length so that a waiting patch can report each wait
# (on_busy) while SQLite's own busy handler does the waiting inside each slice.
LOCK_SLICE = 0.05


class SmolvmDbError(BottleError):
    """The allowlist was not patched and proven; the message says what was not proven and what to do."""


class SmolvmDbMissing(SmolvmDbError):
    """The database file, its vms table, or the machine's row does not exist."""


class SmolvmRecordError(SmolvmDbError):
    """The machine's row exists but cannot be patched safely (TEXT data, not a JSON object, ...)."""


class SmolvmMachineRunning(SmolvmDbError):
    """The machine's state says a VM process may be alive."""


class SmolvmEgressError(SmolvmRecordError):
    """The record has egress settings that open more than its allowlist."""


class SmolvmDbLocked(SmolvmDbError):
    """Another connection held the write lock for longer than the timeout."""


class SmolvmDbUnreadable(SmolvmDbError):
    """The database file exists but cannot be read as a smolvm state DB."""


class SmolvmReadBackError(SmolvmDbError):
    """The row read back after the commit is not what was written."""


def empty_allowlist_message(option, name=None) -> str:
    """Why `allowed_cidrs: []` with networking on is refused (an empty list is no policy at all)."""
    machine = f" for machine '{name}'" if name else ""
    return (f"{option}=[] with networking on{machine} is refused: smolvm treats an empty allowlist "
            f"as no policy at all, which means unrestricted egress; to deny all egress, use a "
            f"machine without networking (smolvm_machine network=false, no --net), or list the "
            f"networks it may reach")


def _passwd_home() -> str:
    try:
        import pwd  # pylint: disable=import-outside-toplevel
        return pwd.getpwuid(os.getuid()).pw_dir
    except (ImportError, KeyError):
        return os.path.expanduser("~")


def _is_linux_like(platform) -> bool:
    return platform != "darwin" and not platform.startswith("win")


def default_db_path(state_dir=None, environ=None, platform=None, home=None, smolvm_version=None) -> str:
    """Where smolvm keeps its state DB, resolved as smolvm resolves it.

    1. `--state-dir DIR` (1.32.2, Linux only): DIR/.local/share/smolvm/server/smolvm.db.
    2. SMOLVM_DATA_DIR=DIR (>= 1.2.5, Linux only; smolvm points HOME at DIR and drops
       XDG_DATA_HOME): the same layout under DIR; an empty value leaves HOME empty, so the dirs
       crate falls back to the passwd home.
    3. `dirs::data_local_dir()/smolvm/server/smolvm.db`: ~/Library/Application Support on macOS,
       %LOCALAPPDATA% on Windows, else $XDG_DATA_HOME when absolute (the dirs crate ignores a
       relative one), else ~/.local/share.
    `smolvm_version` (a tuple) disables rule 2 before 1.2.5; None means a current smolvm. The
    other arguments exist for tests; by default they are this host's.
    """
    platform = sys.platform if platform is None else platform
    environ = os.environ if environ is None else environ
    if state_dir is not None:
        if not _is_linux_like(platform):
            raise SmolvmDbError(
                f"state_dir={state_dir!r} cannot be used on {platform}: smolvm's --state-dir is "
                f"Linux only; leave state_dir unset")
        return os.path.join(os.path.abspath(os.path.expanduser(state_dir)), ".local", "share",
                            *DB_RELATIVE_PATH)
    data_dir = environ.get("SMOLVM_DATA_DIR")
    honours_data_dir = smolvm_version is None or tuple(smolvm_version) >= DATA_DIR_SINCE
    if data_dir is not None and _is_linux_like(platform) and honours_data_dir:
        root = os.path.abspath(data_dir) if data_dir else (home or _passwd_home())
        return os.path.join(root, ".local", "share", *DB_RELATIVE_PATH)
    home = os.path.expanduser("~") if home is None else home
    if platform == "darwin":
        base = os.path.join(home, "Library", "Application Support")
    elif platform.startswith("win"):
        base = environ.get("LOCALAPPDATA") or os.path.join(home, "AppData", "Local")
    else:
        xdg = environ.get("XDG_DATA_HOME", "")
        base = xdg if os.path.isabs(xdg) else os.path.join(home, ".local", "share")
    return os.path.join(base, *DB_RELATIVE_PATH)


def _read_only_connection(db_path, timeout):
    """A connection that can neither create nor change the file: no write, no WAL checkpoint."""
    uri = f"file:{quote(os.path.abspath(db_path))}?mode=ro"
    conn = sqlite3.connect(uri, uri=True, timeout=timeout, isolation_level=None)
    conn.execute(f"PRAGMA busy_timeout = {int(timeout * 1000)}")
    return conn


def parse_record(name, raw, storage, db_path) -> dict:
    """The record of machine `name` as smolvm would read it, or raise SmolvmRecordError."""
    if storage != "blob":
        raise SmolvmRecordError(
            f"the data of machine '{name}' in {db_path} is stored as {str(storage).upper()}, not "
            f"BLOB; smolvm reads it only as a BLOB, so smolvm cannot read this machine and its "
            f"egress policy is not proven; delete and recreate the machine with smolvm")
    try:
        record = loads_record(bytes(raw))
    except RecordParseError as exc:
        raise SmolvmRecordError(
            f"the data of machine '{name}' in {db_path} is not JSON smolvm can read ({exc}); "
            f"its egress policy is not proven; delete and recreate the machine with smolvm") from None
    if not isinstance(record, dict):
        raise SmolvmRecordError(
            f"the data of machine '{name}' in {db_path} is a JSON {type(record).__name__}, not an "
            f"object; its egress policy is not proven; delete and recreate the machine with smolvm")
    return record


def machine_policy(record) -> dict:
    """What read_machine_policies() reports for one record."""
    policy = owned_policy(record)
    return dict(state=record.get("state", "created"), pid=record.get("pid"),
                allowed_cidrs=policy["allowed_cidrs"], network=policy["network"],
                egress=other_egress(record))


def read_machine_policies(db_path, timeout=DEFAULT_TIMEOUT) -> dict:
    """{name: {state, pid, allowed_cidrs, network, egress}} for every machine in the DB.

    Read-only: the file stays byte-identical (no write, no checkpoint). A DB file that does not
    exist holds no machine: {}. One that exists but cannot be read, or a record smolvm could not
    parse, raises SmolvmDbUnreadable / SmolvmRecordError (fail closed: its policy is unknown).
    """
    db_path = os.path.abspath(os.path.expanduser(db_path))
    if not os.path.exists(db_path):
        return {}
    try:
        conn = _read_only_connection(db_path, float(timeout))
        try:
            has_vms = conn.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'vms'").fetchone()
            rows = conn.execute("SELECT name, data, typeof(data) FROM vms").fetchall() if has_vms else None
        finally:
            conn.close()
    except sqlite3.Error as exc:
        raise SmolvmDbUnreadable(
            f"cannot read the smolvm state DB {db_path} ({exc}); the egress policies of its "
            f"machines are unknown; check that the file is a smolvm DB readable by this user") from None
    if rows is None:
        raise SmolvmDbUnreadable(
            f"{db_path} has no vms table, so it is not a smolvm state DB and the egress policies "
            f"of smolvm's machines are unknown; check the path (db_path / state_dir)")
    return {name: machine_policy(parse_record(name, data, storage, db_path))
            for name, data, storage in rows}


def allowlist_result(changed, before, after, machine_state, db_path, method, egress) -> ModuleResult:
    """What ensure() found and did; `before`/`after` are {allowed_cidrs, network} of the record,
    `egress` the record's other egress fields (none of which opens anything, or ensure() failed)."""
    return ModuleResult(changed, diff=dict(before=before, after=after), before=before, after=after,
                        machine_state=machine_state, db_path=db_path, method=method, egress=egress or {})


class AllowlistPatch:
    """Make machine `name`'s egress policy exactly `allowed_cidrs`, provably, or fail.

    The whole egress policy of the record is checked: besides the owned `allowed_cidrs` and
    `network`, any field that opens more (smolvm_record.widening_fields) is refused, as is a
    record smolvm itself could not parse. Checks read over a read-only connection, so a check or
    a refusal leaves the DB byte-identical.

    `network=True` also sets the record's `network` to true, as smolvm's `--allow-cidr` does.
    `timeout` bounds the wait for the write lock (seconds). `on_busy(waited_seconds)` is called
    each time the lock is found held (the tests use it to release a lock deterministically).
    `cli_update(cidrs)`, when given, writes through smolvm (`machine update --reset-allow-list`)
    instead of the DB transaction; `shown_allowlist()`, when given, returns the allowlist `machine
    ls --json` shows (or raises LookupError where smolvm does not show it), compared after the run.
    """

    def __init__(self, db_path, name, allowed_cidrs, network=True, timeout=DEFAULT_TIMEOUT,
                 on_busy=None, cli_update=None, shown_allowlist=None, alive=pid_alive):
        self.db_path = os.path.abspath(os.path.expanduser(db_path))
        self.name = name
        # Invalid CIDRs fail here, before the database is opened.
        self.wanted = normalize_cidrs(allowed_cidrs)
        self.network = network
        if not is_seconds(timeout, zero_ok=True):
            raise SmolvmDbError(f"db_timeout={timeout!r} is not a number of seconds >= 0")
        if not self.wanted and network:
            raise SmolvmDbError(empty_allowlist_message("allowed_cidrs"))
        self.timeout = float(timeout)
        self.on_busy = on_busy
        self.cli_update = cli_update
        self.shown_allowlist = shown_allowlist
        self.alive = alive
        self.method = "cli" if cli_update is not None else "db"

    # ------------------------------------------------------------------ connections

    def _connect(self):
        """A connection that never creates the file (mode=rw) and waits up to timeout on locks."""
        uri = f"file:{quote(self.db_path)}?mode=rw"
        try:
            conn = sqlite3.connect(uri, uri=True, timeout=self.timeout, isolation_level=None)
        except sqlite3.Error as exc:
            raise SmolvmDbError(
                f"cannot open the smolvm state DB {self.db_path}: {exc}; the allowlist of machine "
                f"'{self.name}' is not proven; check that the file is readable and writable by this "
                f"user (run the task as the user who runs smolvm)") from None
        conn.execute(f"PRAGMA busy_timeout = {int(self.timeout * 1000)}")
        return conn

    def _begin_immediate(self, conn):
        deadline = time.monotonic() + self.timeout
        started = time.monotonic()
        while True:
            remaining = deadline - time.monotonic()
            slice_ms = max(0, int(min(LOCK_SLICE, max(remaining, 0)) * 1000))
            conn.execute(f"PRAGMA busy_timeout = {slice_ms}")
            try:
                conn.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) and "busy" not in str(exc):
                    raise
                if time.monotonic() >= deadline:
                    raise SmolvmDbLocked(
                        f"the smolvm state DB {self.db_path} stayed locked by another writer for "
                        f"{self.timeout:g} s; nothing was changed and the allowlist of machine "
                        f"'{self.name}' is not proven; wait for the other smolvm command to finish "
                        f"(or stop it) and run again, or raise db_timeout") from None
                if self.on_busy is not None:
                    self.on_busy(time.monotonic() - started)
                continue
            finally:
                conn.execute(f"PRAGMA busy_timeout = {int(self.timeout * 1000)}")
            return

    # ------------------------------------------------------------------ reading

    def _select_row(self, conn):
        has_vms = conn.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'vms'").fetchone()
        if not has_vms:
            raise SmolvmDbMissing(
                f"{self.db_path} has no vms table, so it is not a smolvm state DB; nothing was "
                f"changed and the allowlist of machine '{self.name}' is not proven; check db_path "
                f"and state_dir (smolvm keeps its DB at {default_db_path()})")
        return conn.execute("SELECT data, typeof(data) FROM vms WHERE name = ?",
                            (self.name,)).fetchone()

    def _read_only(self):
        """(record, raw bytes) as a read-only connection sees them, or raise."""
        try:
            conn = _read_only_connection(self.db_path, self.timeout)
            try:
                found = self._select_row(conn)
            finally:
                conn.close()
        except sqlite3.Error as exc:
            raise SmolvmDbError(
                f"SQLite error on {self.db_path} reading machine '{self.name}' ({exc}); nothing was "
                f"changed and its allowlist is not proven; check the file is a smolvm DB readable "
                f"by this user") from None
        if found is None:
            raise SmolvmDbMissing(
                f"machine '{self.name}' has no row in {self.db_path}; nothing was changed and its "
                f"allowlist is not proven; create it first (smolvm machine create) or check name and "
                f"db_path (or state_dir)")
        return parse_record(self.name, found[0], found[1], self.db_path), bytes(found[0])

    # ------------------------------------------------------------------ the checks

    def _refuse_widening(self, record, when):
        widening = widening_fields(record)
        if widening:
            shown = ", ".join(f"{field}={value!r}" for field, value in widening.items())
            raise SmolvmEgressError(
                f"machine '{self.name}' {when} has egress settings beyond its allowlist that let it "
                f"reach more than {self.wanted}: {shown}; nothing was changed and its confinement "
                f"is not proven; delete the machine and create it with only --allow-cidr (no "
                f"--allow-host, --allow-udp, --dns, --block-private, --credential, --network, "
                f"--net-backend tsi, egress interceptor)")

    def _refuse_live(self, state):
        raise SmolvmMachineRunning(
            f"machine '{self.name}' is {state} and its stored allowlist differs from the one "
            f"wanted: a running VM keeps the egress policy it booted with and never sees a patch, "
            f"and smolvm's own stop writes the whole record back, which would undo it; nothing "
            f"was changed and the "
            f"allowlist is not proven; stop the machine (smolvm machine stop) and run again")

    def _wanted_network(self, record):
        if self.network and self.wanted:
            return True
        return owned_policy(record)["network"]

    def _proven(self, record) -> bool:
        policy = owned_policy(record)
        return (isinstance(policy["allowed_cidrs"], list)
                and same_allowlist(policy["allowed_cidrs"], self.wanted)
                and policy["network"] is self._wanted_network(record))

    # ------------------------------------------------------------------ the run

    def ensure(self, check_mode=False) -> ModuleResult:
        if not os.path.isfile(self.db_path):
            raise SmolvmDbMissing(
                f"the smolvm state DB {self.db_path} does not exist, so machine '{self.name}' cannot "
                f"be checked and its allowlist is not proven; create the machine with smolvm first, "
                f"or check db_path and state_dir (smolvm's default on this host is "
                f"{default_db_path()})")
        record, raw = self._read_only()
        state = record.get("state", "created")
        before = owned_policy(record)
        self._refuse_widening(record, "as stored")
        wanted_network = self._wanted_network(record)
        if not self.wanted and wanted_network:
            raise SmolvmDbError(empty_allowlist_message("allowed_cidrs", self.name))
        if self._proven(record):
            # Also a running machine: a re-run after a launch that proved the list before start.
            self._check_listed_allowlist()
            return allowlist_result(False, before, dict(before), state, self.db_path, self.method,
                                    other_egress(record))
        if is_live(state, record.get("pid"), self.alive):
            self._refuse_live(state)
        after = dict(allowed_cidrs=list(self.wanted), network=wanted_network)
        if check_mode:
            return allowlist_result(True, before, after, state, self.db_path, self.method,
                                    other_egress(record))
        if self.cli_update is not None:
            self.cli_update(list(self.wanted))
            final, _raw = self._read_only()
            if not self._proven(final):
                raise SmolvmReadBackError(
                    f"after `smolvm machine update --reset-allow-list` the record of machine "
                    f"'{self.name}' in {self.db_path} holds {owned_policy(final)}, not {after}; "
                    f"its allowlist is not proven; do not start the machine; run again with "
                    f"method=db or report this")
            after = owned_policy(final)
        else:
            written = self._patch(raw, record, after)
            self._prove(raw, written, after)
            final, _raw = self._read_only()
        self._refuse_widening(final, "after the update")
        self._check_listed_allowlist()
        return allowlist_result(True, before, after, state, self.db_path, self.method,
                                other_egress(final))

    def _check_listed_allowlist(self):
        """Fail unless `machine ls --json` shows the wanted allowlist (where smolvm shows it)."""
        if self.shown_allowlist is None:
            return
        try:
            shown = self.shown_allowlist()
        except LookupError:
            return
        if not isinstance(shown, list) or not same_allowlist(shown, self.wanted):
            raise SmolvmReadBackError(
                f"`smolvm machine ls --json` shows machine '{self.name}' with allowed_cidrs "
                f"{shown!r}, not {self.wanted}, although its record in {self.db_path} holds the "
                f"wanted list; smolvm does not read the DB this module checked (check state_dir, "
                f"db_path and SMOLVM_DATA_DIR); the allowlist is not proven")

    def _patch(self, raw, record, after) -> bytes:
        """Write the patched record in one BEGIN IMMEDIATE transaction, provided the row still
        holds exactly the bytes that were checked; return the bytes written."""
        patched = self._patched_bytes(record, after)
        conn = self._connect()
        try:
            try:
                self._begin_immediate(conn)
                current = self._select_row(conn)
                if current is None or current[1] != "blob" or bytes(current[0]) != raw:
                    raise SmolvmDbError(
                        f"the record of machine '{self.name}' in {self.db_path} changed while it "
                        f"was being checked (another smolvm command wrote it); nothing was changed "
                        f"and the allowlist is not proven; make sure no other smolvm command runs "
                        f"for it and run again")
                updated = conn.execute("UPDATE vms SET data = ? WHERE name = ?",
                                       (sqlite3.Binary(patched), self.name)).rowcount
                if updated != 1:
                    raise SmolvmDbError(
                        f"updating machine '{self.name}' in {self.db_path} touched {updated} rows, "
                        f"expected 1; rolled back, nothing was changed and the allowlist is not "
                        f"proven; check the DB with `smolvm machine ls`")
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
        except sqlite3.Error as exc:
            raise SmolvmDbError(
                f"SQLite error on {self.db_path} ({exc}); rolled back, nothing was changed and the "
                f"allowlist of machine '{self.name}' is not proven; check the file is a smolvm DB "
                f"writable by this user and run again") from None
        finally:
            conn.close()
        return patched

    def _patched_bytes(self, record, after) -> bytes:
        """The record with allowed_cidrs (and network) replaced; every other key, value and the key
        order kept. Checked by re-reading before it is written."""
        patched = dict(record)
        patched["allowed_cidrs"] = after["allowed_cidrs"]
        patched["network"] = after["network"]
        data = dumps_record(patched)
        again = loads_record(data)
        kept = [k for k in record if k not in OWNED_FIELDS]
        if ([k for k in again if k not in OWNED_FIELDS] != kept
                or any(again[k] != record[k] for k in kept)
                or owned_policy(again) != after):
            raise SmolvmRecordError(
                f"the patched record of machine '{self.name}' would not keep its other fields as "
                f"they were; nothing was changed and the allowlist is not proven; report this with "
                f"the record (smolvm machine ls --json and the row in {self.db_path})")
        return data

    # ------------------------------------------------------------------ the proof

    def _read_back(self):
        """The row as a fresh read-only connection sees it after the commit: (bytes or None, type)."""
        conn = _read_only_connection(self.db_path, self.timeout)
        try:
            row = conn.execute("SELECT data, typeof(data) FROM vms WHERE name = ?",
                               (self.name,)).fetchone()
        finally:
            conn.close()
        if row is None:
            return None, None
        return bytes(row[0]), row[1]

    def _prove(self, original: bytes, written: bytes, after: dict):
        try:
            data, storage = self._read_back()
        except sqlite3.Error as exc:
            raise SmolvmReadBackError(
                f"machine '{self.name}' was patched in {self.db_path} but could not be read back "
                f"({exc}); its allowlist is not proven; do not start it; run again to re-check") from None
        if storage == "blob" and data == written:
            try:
                if owned_policy(loads_record(data)) == after:
                    return
            except RecordParseError:
                pass
            self._restore(original, written)
            raise SmolvmReadBackError(
                f"the row of machine '{self.name}' read back from {self.db_path} does not carry the "
                f"allowlist {after['allowed_cidrs']}; the original row was restored and the "
                f"allowlist is not proven; do not start the machine; report this")
        seen = "no row" if data is None else f"{storage} data {data[:200]!r}"
        raise SmolvmReadBackError(
            f"after the commit, a fresh read of machine '{self.name}' in {self.db_path} found "
            f"{seen} instead of the patched record: another writer (a smolvm command in flight for "
            f"this machine) changed it, and its change was left in place; the allowlist is not "
            f"proven; do not start the machine; make sure no other smolvm command runs for it and "
            f"run again")

    def _restore(self, original: bytes, written: bytes):
        """Put the original row back, but only if it still holds exactly what this patch wrote."""
        conn = self._connect()
        try:
            self._begin_immediate(conn)
            conn.execute("UPDATE vms SET data = ? WHERE name = ? AND data = ?",
                         (sqlite3.Binary(original), self.name, sqlite3.Binary(written)))
            conn.execute("COMMIT")
        except (sqlite3.Error, SmolvmDbError):
            if conn.in_transaction:
                conn.execute("ROLLBACK")
        finally:
            conn.close()
