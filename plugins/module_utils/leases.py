# Copyright: (c) 2026, bot-bottle developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The lease table and the lock that serialises allocations.

A lease says "this alias is promised to this slug until expires_at". It covers the window the
original allocator left open: between choosing an alias and the bundle container publishing on
it, Docker alone cannot tell that the alias is taken.

The table is a small JSON file, private to its owner, replaced atomically (temporary file in the
same directory + os.replace) so that a reader never sees half of it. A file that cannot be
understood is an error, never an empty table: silently forgetting leases would hand one alias to
two bottles.
"""

from __future__ import annotations

import fcntl
import ipaddress
import json
import math
import os
import tempfile
import time

FORMAT_VERSION = 1
DEFAULT_TTL = 900
# The lock is the one bot-bottle's own launcher takes, so the two serialise against each other.
DEFAULT_LOCK_PATH = "~/.cache/bot-bottle/smolmachines.lock"
DEFAULT_LEASE_PATH = "~/.cache/bot-bottle/smolmachines-leases.json"


class LeaseError(Exception):
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


def _ensure_private_dir(directory: str) -> None:
    # Only directories created here are made private: an existing one (~/.cache/bot-bottle is
    # shared with bot-bottle itself) keeps the permissions its owner chose.
    if not os.path.isdir(directory):
        try:
            os.makedirs(directory, mode=0o700, exist_ok=True)
        except OSError as exc:
            raise LeaseError(f"cannot create the directory {directory}: {exc.strerror}; "
                             f"create it (mode 0700) or choose another path") from exc


class LeaseStore:
    """The lease table in the JSON file at `path`. `clock` returns seconds since the epoch."""

    def __init__(self, path: str, clock=time.time):
        self.path = os.path.abspath(os.path.expanduser(path))
        self.clock = clock

    def _corrupt(self, reason: str) -> LeaseError:
        return LeaseError(
            f"the lease file {self.path} is not a valid lease table ({reason}). It is not reset "
            f"automatically, because forgetting a live lease could give one alias to two bottles: "
            f"inspect it, then fix or remove it (no bottle launch may be in progress when you do)")

    def load(self) -> dict:
        """All leases in the file, expired ones included, keyed by slug ({} when there is no file)."""
        try:
            with open(self.path, "r", encoding="utf-8") as handle:
                text = handle.read()
        except FileNotFoundError:
            return {}
        except OSError as exc:
            raise LeaseError(f"cannot read the lease file {self.path}: {exc.strerror}; "
                             f"check its owner and permissions (it should be private, mode 0600)") from exc
        except UnicodeDecodeError:
            raise self._corrupt("it is not UTF-8 text") from None
        try:
            data = json.loads(text)
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
                raise self._corrupt(f"lease of {slug} has alias {alias!r}, not an IPv4 address") from None
            if isinstance(expires_at, bool) or not isinstance(expires_at, (int, float)):
                raise self._corrupt(f"lease of {slug} has expires_at {expires_at!r}, not a number")
            if slug in leases:
                raise self._corrupt(f"slug {slug} holds two leases")
            if alias in aliases:
                raise self._corrupt(f"alias {alias} is leased to both {aliases[alias]} and {slug}")
            leases[slug] = Lease(slug, alias, expires_at)
            aliases[alias] = slug
        return leases

    def new_lease(self, slug: str, alias: str, ttl: int) -> Lease:
        return Lease(slug, alias, int(math.ceil(self.clock() + ttl)))

    def save(self, leases: dict) -> None:
        """Replace the file with `leases`, atomically, private to the owner."""
        directory = os.path.dirname(self.path)
        _ensure_private_dir(directory)
        payload = json.dumps(table_as_dict(leases), indent=2, sort_keys=True) + "\n"
        try:
            # mkstemp creates the file 0600, so the table is never readable by others, even briefly.
            fd, temporary = tempfile.mkstemp(dir=directory, prefix="." + os.path.basename(self.path) + ".",
                                             suffix=".tmp")
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


class FileLock:
    """An flock on `path`: exclusive (the lock bot-bottle's own launcher takes) or shared.

    The exclusive form creates the file (0600, in a 0700 directory when it creates that too). The
    file is never truncated, replaced or removed: another process may hold a lock on this very
    inode, and a new inode would let two holders in at once.

    With create=False a missing file means nobody has ever allocated here: there is nothing to
    wait for, and a reader that writes nothing should not leave a file behind.
    """

    def __init__(self, path: str, shared: bool = False, create: bool = True):
        self.path = os.path.abspath(os.path.expanduser(path))
        self.shared = shared
        self.create = create
        self._fd = None

    def __enter__(self):
        if self.create:
            _ensure_private_dir(os.path.dirname(self.path))
            flags = os.O_RDWR | os.O_CREAT
        else:
            flags = os.O_RDONLY
        try:
            fd = os.open(self.path, flags | getattr(os, "O_CLOEXEC", 0), 0o600)
        except FileNotFoundError:
            if self.create:
                raise LeaseError(f"cannot open the lock file {self.path}: its directory vanished") from None
            return self
        except OSError as exc:
            raise LeaseError(f"cannot open the lock file {self.path}: {exc.strerror}; check its owner "
                             f"and permissions, or choose another lock_path") from exc
        try:
            # Blocks until the holder lets go; Python retries the call itself after a signal.
            fcntl.flock(fd, fcntl.LOCK_SH if self.shared else fcntl.LOCK_EX)
        except OSError as exc:
            os.close(fd)
            raise LeaseError(f"cannot lock {self.path}: {exc.strerror}") from exc
        self._fd = fd
        return self

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
