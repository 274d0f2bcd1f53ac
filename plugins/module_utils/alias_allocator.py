# Copyright: (c) 2026, bot-bottle developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Who holds which loopback alias, and the one place that hands aliases out.

An alias is in use when a running bundle container publishes a port on it (it is "bound") or when
a live lease promises it to a slug whose container has not started yet ("leased"). A new alias is
chosen and its lease written under the exclusive lock, from one reading of Docker and one reading
of the lease table taken inside that lock: two launches can never get the same alias.

Decisions where the issue is silent (also in the module documentation):
- `changed` means "the lease table changed". A lease is never renewed by asking again: renewing
  would make every call report a change. A slug whose container binds the alias it also leases
  keeps that lease until it expires or is released (the container holds the alias anyway), so a
  launched bottle reports changed=false. Expired leases are dropped whenever the table is written
  for another reason, never by a write of their own.
- A slug whose container binds an alias gets that alias back, even outside the pool (with a
  warning), and is never given a pool alias as well: a second alias would only let the bottle's
  allowlist and its bundle disagree. A reserved address, several addresses in one bundle, or an
  alias bound by two bundles cannot confine anyone: fail.
- A lease whose alias a different bottle's container now binds is void: the slug gets a new alias.
- An expired lease's alias is given back to its slug when still free, so a slow launch that
  retries keeps its alias.
- state=absent only touches the lease table and does not need Docker.
"""

from __future__ import annotations

import ipaddress
import math

from ansible_collections.bot_bottle.smolmachines.plugins.module_utils.docker_state import (
    DEFAULT_PREFIX, DOCKER_ARGUMENT_SPEC, DOCKER_REQUIRED_TOGETHER, BundleReader, DockerStateError,
    check_prefix, docker_client, is_valid_name,
)
from ansible_collections.bot_bottle.smolmachines.plugins.module_utils.durations import is_seconds
from ansible_collections.bot_bottle.smolmachines.plugins.module_utils.leases import (
    DEFAULT_LEASE_PATH, DEFAULT_LOCK_PATH, DEFAULT_TTL, FileLock, LeaseError, LeaseStore, table_as_dict,
)
from ansible_collections.bot_bottle.smolmachines.plugins.module_utils.pool import (
    POOL_ARGUMENT_SPEC, RESERVED, AliasPool, PoolError,
)

# How many holders an exhaustion message names before summarising the rest.
MESSAGE_HOLDERS = 20


class AliasError(Exception):
    """An alias cannot be handed out (or proven); `facts` go into the module's failure result."""

    def __init__(self, message: str, **facts):
        super().__init__(message)
        self.facts = facts


def _sort_key(address: str) -> int:
    return int(ipaddress.IPv4Address(address))


class Outcome:
    """What one call did: the module's result, and the lease table before and after."""

    def __init__(self, slug, alias, source, container, lease, before, after, msg, warnings=()):
        self.slug = slug
        self.alias = alias
        self.source = source
        self.container = container
        self.lease = lease
        self.before = before
        self.after = after
        self.msg = msg
        self.warnings = list(warnings)

    @property
    def changed(self) -> bool:
        return self.before != self.after

    def as_dict(self, diff: bool = False) -> dict:
        result = dict(changed=self.changed, slug=self.slug, alias=self.alias, source=self.source,
                      container=self.container, lease=self.lease.as_dict() if self.lease else None,
                      msg=self.msg)
        if diff:
            result["diff"] = dict(before=self.before, after=self.after)
        return result


class Snapshot:
    """One reading of Docker and of the lease table, and who holds what in it."""

    def __init__(self, bundles, leases: dict, now: float):
        self.bundles = list(bundles)
        self.leases = dict(leases)
        self.now = now
        self.live = {slug: lease for slug, lease in leases.items() if lease.live(now)}
        self.bundle_of = {bundle.slug: bundle for bundle in self.bundles}
        self.bound = {}
        for bundle in self.bundles:
            for alias in bundle.aliases:
                self.bound.setdefault(alias, []).append(bundle)
        self.leased = {lease.alias: lease for lease in self.live.values()}

    def holders(self, pool) -> list:
        """Every alias of the pool that is in use, lowest first, with its holder."""
        held = []
        for alias in sorted(set(self.bound) | set(self.leased), key=_sort_key):
            if alias in pool:
                held.append(self.describe(alias))
        return held

    def describe(self, alias: str) -> dict:
        if alias in self.bound:
            bundle = self.bound[alias][0]
            return dict(alias=alias, status="bound", slug=bundle.slug, container=bundle.name, expires_at=None)
        if alias in self.leased:
            lease = self.leased[alias]
            bundle = self.bundle_of.get(lease.slug)
            return dict(alias=alias, status="leased", slug=lease.slug,
                        container=bundle.name if bundle else None, expires_at=lease.expires_at)
        return dict(alias=alias, status="free", slug=None, container=None, expires_at=None)

    def summary(self, holder: dict) -> str:
        if holder["status"] == "bound":
            return f"{holder['alias']} bound by {holder['slug']}"
        remaining = int(math.ceil(holder["expires_at"] - self.now))
        return f"{holder['alias']} leased to {holder['slug']} for {remaining} s more"


class AliasAllocator:
    """Hands out pool aliases per slug. `reader` has read() -> [Bundle] (one Docker call); it may
    be None for state=absent, which never needs Docker."""

    def __init__(self, pool, reader, store, lock_path: str, ttl: int):
        if not is_seconds(ttl, whole=True):
            raise AliasError(f"lease_ttl={ttl!r} is not a positive number of seconds; "
                             f"expected for example 900 (15 minutes)")
        self.pool = pool
        self.reader = reader
        self.store = store
        self.lock_path = lock_path
        self.ttl = ttl

    def _locked(self, check_mode: bool):
        # Check mode writes nothing, not even the lock file: it takes a shared lock when the file
        # exists, so that it does not read Docker and the leases in the middle of an allocation.
        if check_mode:
            return FileLock(self.lock_path, shared=True, create=False)
        return FileLock(self.lock_path)

    def _snapshot(self, with_docker: bool = True) -> Snapshot:
        bundles = self.reader.read() if with_docker else []
        return Snapshot(bundles, self.store.load(), self.store.clock())

    @staticmethod
    def _check_slug(slug) -> None:
        if not isinstance(slug, str) or not is_valid_name(slug):
            raise AliasError(
                f"slug={slug!r} cannot name a bottle; expected letters, digits, '_', '.' or '-', "
                f"starting with a letter or digit, such as researcher-m3hxd")

    def _write(self, snapshot: Snapshot, leases: dict, check_mode: bool) -> dict:
        """Table after the change; written unless in check mode. Expired leases go with it."""
        kept = {slug: lease for slug, lease in leases.items() if lease.live(snapshot.now)}
        if not check_mode:
            self.store.save(kept)
        return table_as_dict(kept)

    # ---- state=present -------------------------------------------------------------------
    def ensure_present(self, slug: str, check_mode: bool = False) -> Outcome:
        self._check_slug(slug)
        with self._locked(check_mode):
            snapshot = self._snapshot()
            return self._present(slug, snapshot, check_mode)

    def _present(self, slug: str, snapshot: Snapshot, check_mode: bool) -> Outcome:
        before = table_as_dict(snapshot.leases)
        own_bundle = snapshot.bundle_of.get(slug)
        container = own_bundle.name if own_bundle else None
        own_lease = snapshot.live.get(slug)
        warnings = []

        if own_bundle and own_bundle.aliases:
            return self._bound(slug, own_bundle, own_lease, snapshot, before, check_mode)

        if own_lease:
            others = [b for b in snapshot.bound.get(own_lease.alias, ()) if b.slug != slug]
            if not others:
                if own_lease.alias not in self.pool:
                    warnings.append(f"{slug} keeps its lease on {own_lease.alias}, outside the pool "
                                    f"{self.pool.describe()}, until it expires or is released")
                return Outcome(slug, own_lease.alias, "leased", container, own_lease, before, before,
                               f"{own_lease.alias} is leased to {slug}", warnings)
            warnings.append(f"the lease of {slug} on {own_lease.alias} is void: {others[0].name} "
                            f"now publishes on that alias; {slug} gets a new alias")

        return self._allocate(slug, container, snapshot, before, check_mode, warnings)

    def _bound(self, slug, bundle, own_lease, snapshot, before, check_mode) -> Outcome:
        if len(bundle.aliases) > 1:
            raise AliasError(
                f"bundle container {bundle.name} publishes on several addresses "
                f"({', '.join(bundle.aliases)}); a bottle is confined to one alias, so which one is "
                f"{slug}'s cannot be decided. Recreate the bundle publishing on one alias only",
                aliases=list(bundle.aliases))
        alias = bundle.aliases[0]
        sharers = [b.name for b in snapshot.bound[alias] if b is not bundle]
        if sharers:
            raise AliasError(
                f"alias {alias} of {slug} is also published on by {', '.join(sharers)}; a bottle "
                f"confined to {alias}/32 would reach both bundles. Stop one of them")
        if ipaddress.IPv4Address(alias) in RESERVED:
            raise AliasError(
                f"bundle container {bundle.name} publishes on {alias}, a reserved address other host "
                f"services share, so {slug} cannot be confined to it. Recreate the bundle on the "
                f"alias this module hands out")
        warnings = []
        if alias not in self.pool:
            warnings.append(f"{bundle.name} publishes on {alias}, outside the pool "
                            f"{self.pool.describe()}; {slug} keeps it and gets no pool alias")
        lease = own_lease if own_lease and own_lease.alias == alias else None
        after = before
        if own_lease and own_lease.alias != alias:
            # The container settled on another alias: the leased one would only sit idle.
            leases = dict(snapshot.leases)
            del leases[slug]
            after = self._write(snapshot, leases, check_mode)
            verb = "would release" if check_mode else "released"
            warnings.append(f"{verb} the lease of {slug} on {own_lease.alias}: its bundle "
                            f"publishes on {alias}")
        return Outcome(slug, alias, "bound", bundle.name, lease, before, after,
                       f"{alias} is bound by {bundle.name}", warnings)

    def _allocate(self, slug, container, snapshot, before, check_mode, warnings) -> Outcome:
        taken = set(snapshot.bound)
        taken.update(lease.alias for other, lease in snapshot.live.items() if other != slug)
        previous = snapshot.leases.get(slug)
        if previous and previous.alias in self.pool and previous.alias not in taken:
            alias = previous.alias
        else:
            alias = self.pool.lowest_free(taken)
        if alias is None:
            holders = snapshot.holders(self.pool)
            named = "; ".join(snapshot.summary(h) for h in holders[:MESSAGE_HOLDERS])
            if len(holders) > MESSAGE_HOLDERS:
                named += f"; and {len(holders) - MESSAGE_HOLDERS} more"
            raise AliasError(
                f"alias pool exhausted: {len(holders)} of {len(self.pool)} aliases of "
                f"{self.pool.describe()} in use ({named}); stop a bottle, release a lease with "
                f"state=absent, or widen the pool with last", holders=holders)
        lease = self.store.new_lease(slug, alias, self.ttl)
        leases = dict(snapshot.leases)
        leases[slug] = lease
        after = self._write(snapshot, leases, check_mode)
        verb = "would be leased" if check_mode else "leased"
        return Outcome(slug, alias, "allocated", container, lease, before, after,
                       f"{alias} {verb} to {slug} for {self.ttl} s", warnings)

    # ---- state=absent --------------------------------------------------------------------
    def ensure_absent(self, slug: str, check_mode: bool = False) -> Outcome:
        self._check_slug(slug)
        with self._locked(check_mode):
            snapshot = self._snapshot(with_docker=False)
            before = table_as_dict(snapshot.leases)
            own = snapshot.leases.get(slug)
            if own is None:
                return Outcome(slug, None, "none", None, None, before, before, f"{slug} holds no lease")
            leases = dict(snapshot.leases)
            del leases[slug]
            after = self._write(snapshot, leases, check_mode)
            verb = "would be released" if check_mode else "released"
            return Outcome(slug, None, "released", None, None, before, after,
                           f"the lease of {slug} on {own.alias} {verb}")

    # ---- the pool as a whole -------------------------------------------------------------
    def report(self) -> dict:
        """Every pool alias with its holder, from one consistent reading; writes nothing."""
        with self._locked(check_mode=True):
            snapshot = self._snapshot()
        aliases = [snapshot.describe(alias) for alias in self.pool]
        in_use = sum(1 for entry in aliases if entry["status"] != "free")
        outside = [snapshot.describe(alias) for alias in sorted(snapshot.bound, key=_sort_key)
                   if alias not in self.pool]
        return dict(aliases=aliases, free=len(aliases) - in_use, in_use=in_use, outside_pool=outside)


# The options of every module that reads or hands out aliases (doc fragments pool, leases, docker).
ALLOCATOR_ARGUMENT_SPEC = dict(
    prefix=dict(type="str", default=DEFAULT_PREFIX),
    lock_path=dict(type="path", default=DEFAULT_LOCK_PATH),
    lease_path=dict(type="path", default=DEFAULT_LEASE_PATH),
    **POOL_ARGUMENT_SPEC,
    **DOCKER_ARGUMENT_SPEC,
)
ALLOCATOR_REQUIRED_TOGETHER = DOCKER_REQUIRED_TOGETHER

# What allocator_from_params() and the allocator raise for bad input or an unprovable state; the
# modules turn these into a failure with the message, anything else into an unexpected error.
ALLOCATOR_ERRORS = (PoolError, DockerStateError, LeaseError)


def allocator_from_params(params: dict, ttl: int = DEFAULT_TTL, read_docker: bool = True) -> AliasAllocator:
    """The allocator ALLOCATOR_ARGUMENT_SPEC's options describe. Every option is checked before
    Docker is asked (and, with `read_docker`, Docker is asked before any file is touched)."""
    pool = AliasPool.from_params(params)
    check_prefix(params["prefix"])
    reader = None
    if read_docker:
        reader = BundleReader(docker_client(params), params["prefix"], params["docker_host"])
    return AliasAllocator(pool, reader, LeaseStore(params["lease_path"]), params["lock_path"], ttl)
