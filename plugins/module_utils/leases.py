# Copyright: (c) 2026, bot-bottle developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The lease table and the lock that serialises allocations.

A lease says "this alias is promised to this slug until expires_at": between choosing an alias
and the bundle publishing on it, Docker alone cannot tell that the alias is taken.

The table is a small JSON file, private to its owner, replaced atomically (temporary file in the
same directory + os.replace) so that a reader never sees half of it. A file that cannot be
understood is an error, never an empty table: silently forgetting leases would hand one alias to
two bottles.
"""

from __future__ import annotations

import errno
import fcntl
import ipaddress
import json
import math
import os
import stat
import tempfile
import time

from ansible_collections.bot_bottle.smolmachines.plugins.module_utils.errors import BottleError
from ansible_collections.bot_bottle.smolmachines.plugins.module_utils.text_input import (
    TextInputError, check_plain_text,
)

FORMAT_VERSION = 1
DEFAULT_TTL = 900
# A lease longer than this is a typo (seconds taken for minutes...), and would hold an address for
# good if its launch died.
MAX_TTL = 7 * 24 * 3600
# The lock is the one bot-bottle's own launcher takes, so the two serialise against each other.
DEFAULT_LOCK_PATH = "~/.cache/bot-bottle/smolmachines.lock"
DEFAULT_LEASE_PATH = "~/.cache/bot-bottle/smolmachines-leases.json"
DEFAULT_LOCK_TIMEOUT = 120
# The lease table's own lock lives beside it under this suffix, so two callers with different
# lock_path values still serialise on one table.
TABLE_LOCK_SUFFIX = ".lock"
_TEMP_SUFFIX = ".tmp"
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)


class LeaseError(BottleError):
    """The lease file or the lock cannot be used; the message names the path and what to do."""


class Lease:
    __slots__ = ("slug", "alias", "expires_at")

    def __init__(self, slug: str, alias: str, expires_at: int):
        self.slug = slug
        self.alias = alias
        self.expires_at = expires_at

    def live(self, now: float) -> bool:
        return self.expires_at > now

    def as_dict(self) -> dict:
        return {"slug": self.slug, "alias": self.alias, "expires_at": self.expires_at}

    def __eq__(self, other):
        return isinstance(other, Lease) and self.as_dict() == other.as_dict()

    def __hash__(self):
        return hash((self.slug, self.alias, self.expires_at))

    def __repr__(self):
        return f"Lease({self.slug!r}, {self.alias!r}, {self.expires_at!r})"


def table_as_dict(leases) -> dict:
    """The JSON shape of the file, also used for diff output: leases sorted by alias."""
    ordered = sorted(leases.values(), key=lambda lease: (int(ipaddress.IPv4Address(lease.alias)), lease.slug))
    return {"version": FORMAT_VERSION, "leases": [lease.as_dict() for lease in ordered]}


def resolve_path(option: str, value) -> str:
    """`value` as an absolute path, refused (naming it) when it holds control characters or
    surrounding whitespace."""
    if not isinstance(value, str) or not value:
        raise LeaseError(f"{option}={value!r} is not a path; expected a file path such as {DEFAULT_LOCK_PATH}")
    try:
        check_plain_text(option, value)
    except TextInputError as exc:
        raise LeaseError(str(exc)) from None
    return os.path.abspath(os.path.expanduser(value))


def table_lock_path(lease_path: str) -> str:
    return lease_path + TABLE_LOCK_SUFFIX


def _owner(uid: int) -> str:
    try:
        import pwd  # pylint: disable=import-outside-toplevel
        return f"{pwd.getpwuid(uid).pw_name} (uid {uid})"
    except (ImportError, KeyError):
        return f"uid {uid}"


def check_private(what: str, path: str, st) -> None:
    """Refuse a file that is not a regular file owned by the caller and closed to group and
    others' writes: whoever else could write it could hand one alias to two bottles."""
    if not stat.S_ISREG(st.st_mode):
        raise LeaseError(f"the {what} {path} is not a regular file; remove it or choose another path")
    if st.st_uid != os.geteuid() or st.st_mode & 0o022:
        raise LeaseError(
            f"the {what} {path} is owned by {_owner(st.st_uid)} with mode {stat.S_IMODE(st.st_mode):04o}; "
            f"it must belong to the user running this ({_owner(os.geteuid())}) and not be writable by "
            f"group or others, because whoever can write it can give one alias to two bottles. Fix it "
            f"(chown, chmod 0600) or choose another path")


def _check_directory(path: str) -> None:
    """Refuse a directory others may rename files in: they could swap the lease table or the lock."""
    try:
        st = os.stat(path)
    except OSError as exc:
        raise LeaseError(f"cannot read the directory {path}: {exc.strerror}") from exc
    sticky = st.st_mode & stat.S_ISVTX
    if st.st_uid not in (0, os.geteuid()) or (st.st_mode & 0o022 and not sticky):
        raise LeaseError(
            f"the directory {path} is owned by {_owner(st.st_uid)} with mode {stat.S_IMODE(st.st_mode):04o}; "
            f"others could replace the lock or the lease table in it. Make it yours and not writable by "
            f"group or others (chmod go-w), or choose another path")


def _ensure_private_dir(directory: str) -> None:
    # Only directories created here are made private: an existing one (~/.cache/bot-bottle is
    # shared with bot-bottle itself) keeps the permissions its owner chose, if they are safe.
    if not os.path.isdir(directory):
        try:
            os.makedirs(directory, mode=0o700, exist_ok=True)
        except OSError as exc:
            raise LeaseError(f"cannot create the directory {directory}: {exc.strerror}; "
                             f"create it (mode 0700) or choose another path") from exc
    _check_directory(directory)


def _refuse_constant(value):
    # json.loads accepts NaN and Infinity, which are not JSON; an expiry must be a finite number.
    raise ValueError(f"{value} is not a finite number")


class LeaseStore:
    """The lease table in the JSON file at `path`. `clock` returns seconds since the epoch."""

    def __init__(self, path: str, clock=time.time):
        self.path = resolve_path("lease_path", path)
        self.clock = clock

    @property
    def lock_path(self) -> str:
        """The table's own lock, beside it under a fixed name."""
        return table_lock_path(self.path)

    def _corrupt(self, reason: str) -> LeaseError:
        return LeaseError(
            f"the lease file {self.path} is not a valid lease table ({reason}). It is not reset "
            f"automatically, because forgetting a live lease could give one alias to two bottles: "
            f"inspect it, then fix or remove it (no bottle launch may be in progress when you do)")

    def load(self) -> dict:
        """All leases in the file, expired ones included, keyed by slug ({} when there is no file)."""
        try:
            fd = os.open(self.path, os.O_RDONLY | _NOFOLLOW | _CLOEXEC)
        except FileNotFoundError:
            return {}
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise LeaseError(f"the lease file {self.path} is a symbolic link; it is never followed "
                                 f"(a planted link could point anywhere): remove it or choose another "
                                 f"lease_path") from exc
            raise LeaseError(f"cannot read the lease file {self.path}: {exc.strerror}; "
                             f"check its owner and permissions (it should be private, mode 0600)") from exc
        try:
            check_private("lease file", self.path, os.fstat(fd))
            with os.fdopen(fd, "rb") as handle:
                fd = None
                raw = handle.read()
        finally:
            if fd is not None:
                os.close(fd)
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise self._corrupt("it is not UTF-8 text") from None
        try:
            data = json.loads(text, parse_constant=_refuse_constant)
        except ValueError as exc:
            raise self._corrupt(f"not JSON: {exc}") from None
        return self._parse(data)

    def _parse(self, data) -> dict:
        if not isinstance(data, dict) or not isinstance(data.get("leases"), list):
            raise self._corrupt('expected an object {"version": 1, "leases": [...]}')
        if data.get("version") != FORMAT_VERSION:
            raise self._corrupt(f"format version {data.get('version')!r}, expected {FORMAT_VERSION}")
        leases = {}
        aliases = {}
        for entry in data["leases"]:
            if not isinstance(entry, dict):
                raise self._corrupt(f"lease {entry!r} is not an object")
            slug, alias, expires_at = entry.get("slug"), entry.get("alias"), entry.get("expires_at")
            if not isinstance(slug, str) or not slug:
                raise self._corrupt(f"lease {entry!r} has no slug")
            try:
                alias = str(ipaddress.IPv4Address(alias))
            except ValueError:
                raise self._corrupt(f"lease of {slug!r} has alias {alias!r}, not an IPv4 address") from None
            if isinstance(expires_at, bool) or not isinstance(expires_at, (int, float)) \
                    or not math.isfinite(expires_at):
                raise self._corrupt(f"lease of {slug!r} has expires_at {expires_at!r}, not a finite number "
                                    f"of seconds since the epoch")
            if slug in leases:
                raise self._corrupt(f"slug {slug!r} holds two leases")
            if alias in aliases:
                raise self._corrupt(f"alias {alias} is leased to both {aliases[alias]!r} and {slug!r}")
            leases[slug] = Lease(slug, alias, expires_at)
            aliases[alias] = slug
        return leases

    def new_lease(self, slug: str, alias: str, ttl: int) -> Lease:
        return Lease(slug, alias, int(math.ceil(self.clock() + ttl)))

    def _temp_prefix(self) -> str:
        return "." + os.path.basename(self.path) + "."

    def sweep(self) -> list:
        """Remove the temporary files writers killed mid-write left behind. Only under the table's
        exclusive lock: every writer holds it, so no temporary file then belongs to a live one."""
        directory = os.path.dirname(self.path)
        prefix, removed = self._temp_prefix(), []
        try:
            names = os.listdir(directory)
        except OSError:
            return removed
        for name in names:
            if not (name.startswith(prefix) and name.endswith(_TEMP_SUFFIX)):
                continue
            path = os.path.join(directory, name)
            try:
                st = os.lstat(path)
                if stat.S_ISREG(st.st_mode) and st.st_uid == os.geteuid():
                    os.unlink(path)
                    removed.append(path)
            except OSError:
                continue
        return removed

    def save(self, leases: dict) -> None:
        """Replace the file with `leases`, atomically, private to the owner."""
        directory = os.path.dirname(self.path)
        _ensure_private_dir(directory)
        try:
            payload = json.dumps(table_as_dict(leases), indent=2, sort_keys=True, allow_nan=False) + "\n"
        except ValueError as exc:
            raise LeaseError(f"not writing the lease file {self.path}: {exc} (an expiry must be a finite "
                             f"number)") from exc
        try:
            # mkstemp creates the file 0600, so the table is never readable by others, even briefly.
            fd, temporary = tempfile.mkstemp(dir=directory, prefix=self._temp_prefix(), suffix=_TEMP_SUFFIX)
        except OSError as exc:
            raise LeaseError(f"cannot write the lease file {self.path}: {exc.strerror} "
                             f"(creating a temporary file in {directory})") from exc
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(payload)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temporary, self.path)
        except OSError as exc:
            try:
                os.unlink(temporary)
            except OSError:
                pass
            raise LeaseError(f"cannot write the lease file {self.path}: {exc.strerror}") from exc
        _fsync_directory(directory)


def _fsync_directory(directory: str) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def lock_holders(fd) -> list:
    """The pids /proc/locks names as holding an flock on the file open at `fd` (Linux only; [] when
    unknown). Only used to say who blocks a wait."""
    st = os.fstat(fd)
    wanted = f"{os.major(st.st_dev):02x}:{os.minor(st.st_dev):02x}:{st.st_ino}"
    pids = []
    try:
        with open("/proc/locks", encoding="ascii", errors="replace") as handle:
            for line in handle:
                fields = line.split()
                # "1: FLOCK  ADVISORY  WRITE 1234 08:01:5678 0 EOF"; waiters carry a "->" field.
                if len(fields) >= 6 and fields[1] == "FLOCK" and fields[5] == wanted and "->" not in fields:
                    pids.append(int(fields[4]))
    except (OSError, ValueError):
        return []
    return sorted(set(pids))


def _describe_pid(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            command = handle.read().replace(b"\0", b" ").decode("utf-8", "replace").strip()
    except OSError:
        command = ""
    return f"pid {pid} ({command[:120]})" if command else f"pid {pid}"


class FileLock:
    """An flock on `path`: exclusive (the lock bot-bottle's own launcher takes) or shared.

    The exclusive form creates the file (0600, in a 0700 directory when it creates that too). The
    file is never truncated, replaced or removed: another process may hold a lock on this very
    inode, and a new inode would let two holders in at once. It is never reached through a
    symbolic link, and must belong to the caller and be closed to others' writes.

    With create=False a missing file means nobody has ever allocated here: there is nothing to
    wait for, and a reader that writes nothing should not leave a file behind.

    The wait is bounded by `timeout` seconds; the error then names the holder when /proc/locks does.
    """

    def __init__(self, path: str, shared: bool = False, create: bool = True, timeout: float = DEFAULT_LOCK_TIMEOUT,
                 option: str = "lock_path", clock=time.monotonic, sleep=time.sleep):
        self.path = resolve_path(option, path)
        self.shared = shared
        self.create = create
        self.timeout = timeout
        self._clock = clock
        self._sleep = sleep
        self._fd = None

    def _open(self):
        if self.create:
            _ensure_private_dir(os.path.dirname(self.path))
            flags = os.O_RDWR | os.O_CREAT
        else:
            flags = os.O_RDONLY
        try:
            return os.open(self.path, flags | _NOFOLLOW | _CLOEXEC, 0o600)
        except FileNotFoundError:
            if self.create:
                raise LeaseError(f"cannot open the lock file {self.path}: its directory vanished") from None
            return None
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise LeaseError(f"the lock file {self.path} is a symbolic link; it is never followed "
                                 f"(a planted link could make this lock or create any file): remove it "
                                 f"or choose another lock path") from exc
            raise LeaseError(f"cannot open the lock file {self.path}: {exc.strerror}; check its owner "
                             f"and permissions, or choose another lock_path") from exc

    def __enter__(self):
        fd = self._open()
        if fd is None:
            return self
        try:
            check_private("lock file", self.path, os.fstat(fd))
            self._wait(fd)
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd
        return self

    def _wait(self, fd) -> None:
        mode = (fcntl.LOCK_SH if self.shared else fcntl.LOCK_EX) | fcntl.LOCK_NB
        deadline = self._clock() + self.timeout
        pause = 0.01
        while True:
            try:
                fcntl.flock(fd, mode)
                return
            except BlockingIOError:
                pass
            except OSError as exc:
                raise LeaseError(f"cannot lock {self.path}: {exc.strerror}") from exc
            if self._clock() >= deadline:
                holders = ", ".join(_describe_pid(pid) for pid in lock_holders(fd)) or "another process"
                raise LeaseError(
                    f"gave up waiting for the lock {self.path} after {self.timeout} s (lock_timeout): it is "
                    f"held by {holders}. Wait for that launch to finish, or stop it if it is stuck")
            self._sleep(pause)
            pause = min(pause * 2, 0.25)

    @property
    def held(self) -> bool:
        return self._fd is not None

    def __exit__(self, *exc_info):
        fd, self._fd = self._fd, None
        if fd is not None:
            try:
                fcntl.flock(fd, fcntl.LOCK_UN)
            finally:
                os.close(fd)
        return False
