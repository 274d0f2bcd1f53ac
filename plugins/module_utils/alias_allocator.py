# Copyright: (c) 2026, bot-bottle developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Who holds which bottle address, and the one place that hands addresses out.

An address is in use when a running container publishes on it, when a smolvm machine's stored
allowlist covers it (in any state), or when a live lease promises it; the module's documentation
gives the rules. A new address is chosen and leased under the locks, from one reading of Docker,
smolvm's DB and the lease table taken inside them, so two launches never get the same address.
"""

from __future__ import annotations

import ipaddress
import math
import os

from ansible_collections.bot_bottle.smolmachines.plugins.module_utils import smolvm_db
from ansible_collections.bot_bottle.smolmachines.plugins.module_utils.docker_state import (
    DEFAULT_PREFIX, DOCKER_ARGUMENT_SPEC, DOCKER_REQUIRED_TOGETHER, DockerStateError, PublisherReader,
    check_name, check_prefix, docker_client,
)
from ansible_collections.bot_bottle.smolmachines.plugins.module_utils.durations import is_seconds
from ansible_collections.bot_bottle.smolmachines.plugins.module_utils.errors import BottleError
from ansible_collections.bot_bottle.smolmachines.plugins.module_utils.leases import (
    DEFAULT_LEASE_PATH, DEFAULT_LOCK_PATH, DEFAULT_LOCK_TIMEOUT, DEFAULT_TTL, MAX_TTL, FileLock, LeaseError,
    LeaseStore, resolve_path, table_as_dict,
)
from ansible_collections.bot_bottle.smolmachines.plugins.module_utils.pool import (
    POOL_ARGUMENT_SPEC, AliasPool, PoolError,
)
from ansible_collections.bot_bottle.smolmachines.plugins.module_utils.results import ModuleResult
from ansible_collections.bot_bottle.smolmachines.plugins.module_utils.text_input import (
    TextInputError, check_plain_text,
)

# How many holders an exhaustion message names before summarising the rest.
MESSAGE_HOLDERS = 20
# The role names a bottle's VM this prefix followed by the slug.
MACHINE_PREFIX = "bot-bottle-"


class AliasError(BottleError):
    """An alias cannot be handed out (or proven); `facts` go into the module's failure result."""


def _sort_key(address: str) -> int:
    return int(ipaddress.IPv4Address(address))


def check_slug(slug) -> None:
    check_name("slug", slug, AliasError, "name a bottle", "researcher-m3hxd")


def _outcome(slug, alias, source, container, lease, before, after, msg, warnings=(), machine=None) -> ModuleResult:
    """What one call did, as bottle_alias returns it; `changed` means the lease table changed."""
    return ModuleResult(before != after, diff=dict(before=before, after=after), warnings=warnings,
                        slug=slug, alias=alias, source=source, container=container, machine=machine,
                        lease=lease.as_dict() if lease else None, msg=msg)


class Machine:
    """One smolvm machine as its stored policy confines it: the pool addresses it may reach."""

    def __init__(self, name: str, slug, state, addresses, unrestricted: bool, allowed_cidrs):
        self.name = name
        self.slug = slug
        self.state = state
        self.addresses = list(addresses)
        self.unrestricted = unrestricted
        self.allowed_cidrs = allowed_cidrs


def read_machines(policies: dict, pool, db_path: str = "") -> list:
    """Machines from {name: policy} (smolvm_db.read_machine_policies), each with the pool addresses
    its stored allowlist covers. An entry that cannot be read fails closed."""
    machines = []
    for name in sorted(policies):
        policy = policies[name]
        cidrs = policy.get("allowed_cidrs") if isinstance(policy, dict) else None
        network = policy.get("network") if isinstance(policy, dict) else None
        if not isinstance(policy, dict) or not (cidrs is None or isinstance(cidrs, list)):
            raise AliasError(f"the stored egress policy of smolvm machine {name!r} in {db_path or 'the DB'} "
                             f"cannot be read ({policy!r}); no address is handed out while what it may "
                             f"reach is unknown")
        covered = set()
        for entry in cidrs or []:
            try:
                network_of = ipaddress.ip_network(str(entry).strip(), strict=False)
            except ValueError:
                raise AliasError(f"smolvm machine {name!r} has the allowlist entry {entry!r}, which is not "
                                 f"a CIDR; what it may reach is unknown, so no address is handed out. Fix "
                                 f"or delete the machine") from None
            if network_of.version == 6:
                mapped = network_of.network_address.ipv4_mapped
                if mapped is None or network_of.prefixlen < 96:
                    continue  # an IPv6 destination is never an IPv4 pool address
                network_of = ipaddress.IPv4Network(f"{mapped}/{network_of.prefixlen - 96}", strict=False)
            covered.update(pool.covered_by(network_of))
        slug = name[len(MACHINE_PREFIX):] if name.startswith(MACHINE_PREFIX) and len(name) > len(MACHINE_PREFIX) else None
        machines.append(Machine(name, slug, policy.get("state"), sorted(covered, key=_sort_key),
                                bool(network) and not cidrs, cidrs))
    return machines


class Snapshot:
    """One reading of Docker, smolvm's machines and the lease table, and who holds what in it."""

    def __init__(self, publishers, machines, leases: dict, now: float):
        self.publishers = list(publishers)
        self.machines = list(machines)
        self.leases = dict(leases)
        self.now = now
        self.live = {slug: lease for slug, lease in leases.items() if lease.live(now)}
        self.bundle_of = {p.slug: p for p in self.publishers if p.slug is not None}
        self.machine_of = {m.slug: m for m in self.machines if m.slug is not None}
        self.bound = {}
        for publisher in self.publishers:
            for address in publisher.addresses:
                self.bound.setdefault(address, []).append(publisher)
        self.allowed = {}
        for machine in self.machines:
            for address in machine.addresses:
                self.allowed.setdefault(address, []).append(machine)
        self.leased = {lease.alias: lease for lease in self.live.values()}
        self.everywhere = [p for p in self.publishers if p.everywhere]
        self.unrestricted = [m for m in self.machines if m.unrestricted]

    def durable(self, address: str) -> list:
        """Names of the containers and machines holding `address` (not leases)."""
        return ([f"container {p.name}" for p in self.bound.get(address, ())]
                + [f"smolvm machine {m.name}" for m in self.allowed.get(address, ())])

    def holders(self, pool) -> list:
        """Every address of the pool that is in use, lowest first, with its holder."""
        used = set(self.bound) | set(self.allowed) | set(self.leased)
        return [self.describe(a) for a in sorted(used, key=_sort_key) if a in pool]

    def describe(self, alias: str) -> dict:
        bound = self.bound.get(alias, [])
        allowed = self.allowed.get(alias, [])
        lease = self.leased.get(alias)
        holders = ([dict(kind="container", name=p.name, slug=p.slug) for p in bound]
                   + [dict(kind="machine", name=m.name, slug=m.slug) for m in allowed]
                   + ([dict(kind="lease", name=lease.slug, slug=lease.slug)] if lease else []))
        entry = dict(alias=alias, status="free", slug=None, container=None,
                     machine=allowed[0].name if allowed else None, expires_at=None, holders=holders)
        if bound:
            entry.update(status="bound", slug=bound[0].slug, container=bound[0].name)
        elif allowed:
            entry.update(status="machine", slug=allowed[0].slug)
        elif lease:
            bundle = self.bundle_of.get(lease.slug)
            entry.update(status="leased", slug=lease.slug, container=bundle.name if bundle else None,
                         expires_at=lease.expires_at)
        return entry

    def summary(self, holder: dict) -> str:
        if holder["status"] == "bound":
            return f"{holder['alias']} bound by {holder['container']}"
        if holder["status"] == "machine":
            return f"{holder['alias']} allowed to smolvm machine {holder['machine']}"
        remaining = int(math.ceil(holder["expires_at"] - self.now))
        return f"{holder['alias']} leased to {holder['slug']} for {remaining} s more"


class AliasAllocator:
    """Hands out pool addresses per slug.

    `reader` has read() -> [Publisher] (one Docker call) and `machines` read() -> {name: policy}
    (smolvm's DB, read-only); either may be None for state=absent, which needs neither.
    """

    def __init__(self, pool, reader, store, lock_path: str, ttl: int, machines=None,
                 lock_timeout: float = DEFAULT_LOCK_TIMEOUT):
        if not is_seconds(ttl, whole=True) or ttl > MAX_TTL:
            raise AliasError(f"lease_ttl={ttl!r} is not a whole number of seconds from 1 to {MAX_TTL}; "
                             f"expected for example 900 (15 minutes)")
        if not is_seconds(lock_timeout) or not math.isfinite(lock_timeout):
            raise AliasError(f"lock_timeout={lock_timeout!r} is not a positive, finite number of seconds; "
                             f"expected for example {DEFAULT_LOCK_TIMEOUT}")
        self.pool = pool
        self.reader = reader
        self.machines = machines
        self.store = store
        self.lock_path = resolve_path("lock_path", lock_path)
        self.ttl = ttl
        self.lock_timeout = lock_timeout
        _check_lock_is_not_the_table(self.lock_path, store)

    def _locks(self, check_mode: bool):
        # lock_path first (bot-bottle's launcher takes it), then the table's own lock, always in this
        # order. Check mode writes nothing, not even a lock file: it takes shared locks on the files
        # that exist, so that it does not read in the middle of an allocation.
        exclusive = not check_mode
        return [FileLock(self.lock_path, shared=not exclusive, create=exclusive, timeout=self.lock_timeout),
                FileLock(self.store.lock_path, shared=not exclusive, create=exclusive, timeout=self.lock_timeout,
                         option="lease_path")]

    def _locked(self, check_mode: bool):
        return _Locked(self._locks(check_mode), None if check_mode else self.store)

    def _snapshot(self, with_holders: bool = True) -> Snapshot:
        publishers = self.reader.read() if with_holders else []
        machines = []
        if with_holders and self.machines is not None:
            machines = read_machines(self.machines.read(), self.pool, getattr(self.machines, "db_path", ""))
        return Snapshot(publishers, machines, self.store.load(), self.store.clock())

    def _write(self, snapshot: Snapshot, leases: dict, check_mode: bool) -> dict:
        """Table after the change; written unless in check mode. Expired leases go with it."""
        kept = {slug: lease for slug, lease in leases.items() if lease.live(snapshot.now)}
        if not check_mode:
            self.store.save(kept)
        return table_as_dict(kept)

    # ---- state=present -------------------------------------------------------------------
    def ensure_present(self, slug: str, check_mode: bool = False) -> ModuleResult:
        check_slug(slug)
        with self._locked(check_mode):
            snapshot = self._snapshot()
            return self._present(slug, snapshot, check_mode)

    def _refuse_everywhere(self, snapshot: Snapshot) -> None:
        if snapshot.everywhere:
            named = "; ".join(f"{p.name} ({', '.join(p.everywhere)})" for p in snapshot.everywhere)
            raise AliasError(
                f"container(s) publishing on every host address run: {named}. A bottle confined to any "
                f"address of the pool {self.pool.describe()} would reach them, so none is handed out; "
                f"publish them on one address (for example 127.0.0.1:PORT:PORT), or stop them",
                everywhere=[dict(container=p.name, ports=list(p.everywhere)) for p in snapshot.everywhere])

    def _present(self, slug: str, snapshot: Snapshot, check_mode: bool) -> ModuleResult:
        self._refuse_everywhere(snapshot)
        before = table_as_dict(snapshot.leases)
        bundle = snapshot.bundle_of.get(slug)
        machine = snapshot.machine_of.get(slug)
        own_lease = snapshot.live.get(slug)
        warnings = [f"smolvm machine {m.name} has networking on and no allowlist: it is confined to "
                    f"nothing and can reach every bottle's address" for m in snapshot.unrestricted
                    if m.slug != slug]

        claimed = self._addresses_of_slug(slug, bundle, machine)
        if claimed:
            return self._keep_held_address(slug, claimed, bundle, machine, own_lease, snapshot, before, check_mode, warnings)

        if own_lease:
            if own_lease.alias not in self.pool:
                warnings.append(f"the lease of {slug} on {own_lease.alias} is not honoured: that address is "
                                f"reserved or outside the pool {self.pool.describe()}; {slug} gets a pool address")
            elif snapshot.durable(own_lease.alias):
                warnings.append(f"the lease of {slug} on {own_lease.alias} is void: "
                                f"{', '.join(snapshot.durable(own_lease.alias))} now holds that address; "
                                f"{slug} gets a new one")
            else:
                return _outcome(slug, own_lease.alias, "leased", bundle.name if bundle else None, own_lease,
                                before, before, f"{own_lease.alias} is leased to {slug}", warnings,
                                machine=machine.name if machine else None)
        return self._allocate(slug, bundle, machine, snapshot, before, check_mode, warnings)

    def _addresses_of_slug(self, slug, bundle, machine) -> list:
        """The one pool address the slug's bundle and VM hold, [] when they hold none; fails when
        they hold something that cannot confine the bottle."""
        claimed = set()
        if bundle is not None:
            if bundle.other:
                raise AliasError(
                    f"bundle container {bundle.name} publishes on {', '.join(bundle.other)}, not an IPv4 "
                    f"address; {slug} is confined to one IPv4 address of the pool, so this binding cannot "
                    f"be adopted. Recreate the bundle on the address this module hands out",
                    container=bundle.name)
            outside = [a for a in bundle.addresses if a not in self.pool]
            if outside:
                raise AliasError(
                    f"bundle container {bundle.name} publishes on {', '.join(outside)}, outside the pool "
                    f"{self.pool.describe()} (or reserved); an address outside the pool is never adopted, "
                    f"because {slug} would be confined to an address nobody allocated (the host's LAN "
                    f"address, another service's). Recreate the bundle on the address this module hands "
                    f"out, or widen the pool", container=bundle.name, aliases=list(outside))
            claimed.update(bundle.addresses)
        if machine is not None and machine.addresses:
            claimed.update(machine.addresses)
        if len(claimed) > 1:
            parts = []
            if bundle is not None and bundle.addresses:
                parts.append(f"bundle container {bundle.name} publishes on {', '.join(bundle.addresses)}")
            if machine is not None and machine.addresses:
                parts.append(f"smolvm machine {machine.name} is allowed {', '.join(machine.addresses)} "
                             f"(allowed_cidrs {machine.allowed_cidrs})")
            raise AliasError(
                f"{slug} holds several addresses of the pool: {'; '.join(parts)}. A bottle is confined to "
                f"one address, so which one is {slug}'s cannot be decided. Tear the bottle down and launch "
                f"it again", aliases=sorted(claimed, key=_sort_key))
        return sorted(claimed)

    def _keep_held_address(self, slug, claimed, bundle, machine, own_lease, snapshot, before, check_mode, warnings) -> ModuleResult:
        alias = claimed[0]
        others = [f"container {p.name}" for p in snapshot.bound.get(alias, ()) if p is not bundle]
        others += [f"smolvm machine {m.name}" for m in snapshot.allowed.get(alias, ()) if m is not machine]
        if others:
            raise AliasError(
                f"address {alias} of {slug} is also held by {', '.join(others)}; a bottle confined to "
                f"{alias}/32 would reach them too. Stop or reconfigure them, or tear {slug} down and "
                f"launch it again", alias=alias)
        bound = bundle is not None and alias in bundle.addresses
        rival = snapshot.leased.get(alias)
        if rival is not None and rival.slug != slug:
            warnings.append(f"the lease of {rival.slug} on {alias} is void: {slug} holds that address; "
                            f"{rival.slug} gets a new one when it asks again")
        lease = own_lease if own_lease and own_lease.alias == alias else None
        after = before
        if own_lease and own_lease.alias != alias:
            # The bottle settled on another address: the leased one would only sit idle.
            leases = dict(snapshot.leases)
            del leases[slug]
            after = self._write(snapshot, leases, check_mode)
            verb = "would release" if check_mode else "released"
            warnings.append(f"{verb} the lease of {slug} on {own_lease.alias}: it holds {alias}")
        if bound:
            return _outcome(slug, alias, "bound", bundle.name, lease, before, after,
                            f"{alias} is bound by {bundle.name}", warnings,
                            machine=machine.name if machine and alias in machine.addresses else None)
        return _outcome(slug, alias, "machine", bundle.name if bundle else None, lease, before, after,
                        f"{alias} is held by smolvm machine {machine.name}, whose stored allowlist allows it",
                        warnings, machine=machine.name)

    def _allocate(self, slug, bundle, machine, snapshot, before, check_mode, warnings) -> ModuleResult:
        taken = set(snapshot.bound) | set(snapshot.allowed)
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
        return _outcome(slug, alias, "allocated", bundle.name if bundle else None, lease, before, after,
                        f"{alias} {verb} to {slug} for {self.ttl} s", warnings,
                        machine=machine.name if machine else None)

    # ---- state=absent --------------------------------------------------------------------
    def ensure_absent(self, slug: str, check_mode: bool = False) -> ModuleResult:
        check_slug(slug)
        with self._locked(check_mode):
            snapshot = self._snapshot(with_holders=False)
            before = table_as_dict(snapshot.leases)
            own = snapshot.leases.get(slug)
            if own is None:
                return _outcome(slug, None, "none", None, None, before, before, f"{slug} holds no lease")
            leases = dict(snapshot.leases)
            del leases[slug]
            after = self._write(snapshot, leases, check_mode)
            verb = "would be released" if check_mode else "released"
            return _outcome(slug, None, "released", None, None, before, after,
                            f"the lease of {slug} on {own.alias} {verb}")

    # ---- the pool as a whole -------------------------------------------------------------
    def report(self) -> dict:
        """Every pool address with its holders, from one consistent reading; writes nothing."""
        with self._locked(check_mode=True):
            snapshot = self._snapshot()
        aliases = [snapshot.describe(alias) for alias in self.pool]
        in_use = sum(1 for entry in aliases if entry["status"] != "free")
        outside = [snapshot.describe(alias) for alias in sorted(snapshot.bound, key=_sort_key)
                   if alias not in self.pool]
        machines = [dict(machine=m.name, slug=m.slug, state=m.state, aliases=m.addresses,
                         allowed_cidrs=m.allowed_cidrs, unrestricted=m.unrestricted)
                    for m in snapshot.machines if m.addresses or m.unrestricted]
        everywhere = [dict(container=p.name, ports=list(p.everywhere)) for p in snapshot.everywhere]
        return dict(aliases=aliases, free=len(aliases) - in_use, in_use=in_use, outside_pool=outside,
                    machines=machines, everywhere=everywhere)


class _Locked:
    """Holds the allocator's locks in order, releasing them in reverse; sweeps the lease table's
    stale temporary files once the exclusive locks are held."""

    def __init__(self, locks, sweep_store):
        self.locks = locks
        self.sweep_store = sweep_store
        self._held = []

    def __enter__(self):
        try:
            for lock in self.locks:
                lock.__enter__()
                self._held.append(lock)
            if self.sweep_store is not None:
                self.sweep_store.sweep()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc_info):
        while self._held:
            self._held.pop().__exit__(None, None, None)
        return False


def _check_lock_is_not_the_table(lock_path: str, store) -> None:
    """Refuse a lock_path that is the lease table or its own lock: the table is
    replaced atomically, so a lock on it guards an inode that is gone after the first write."""
    lock_real = os.path.realpath(lock_path)
    if lock_real == os.path.realpath(store.path):
        raise LeaseError(
            f"lock_path and lease_path both name {store.path}; the lease table is replaced on every write, "
            f"so a lock on it would not exclude anyone. Give lock_path a file of its own (default "
            f"{DEFAULT_LOCK_PATH})")
    if lock_real == os.path.realpath(store.lock_path):
        raise LeaseError(
            f"lock_path={lock_path} is the lease table's own lock ({store.lock_path}), which is always taken "
            f"after lock_path; the same file twice would wait on itself. Give lock_path a file of its own "
            f"(default {DEFAULT_LOCK_PATH})")


class MachinePolicies:
    """Reads the stored egress policy of every smolvm machine from the DB at `db_path`."""

    def __init__(self, db_path: str):
        self.db_path = db_path

    def read(self) -> dict:
        try:
            return smolvm_db.read_machine_policies(self.db_path)
        except smolvm_db.SmolvmDbError as exc:
            raise AliasError(f"cannot read which addresses smolvm's machines may reach: {exc}. No address "
                             f"is handed out while that is unknown (smolvm_db_path={self.db_path})") from None


# The options of every module that reads or hands out aliases (doc fragments pool, leases, docker).
ALLOCATOR_ARGUMENT_SPEC = dict(
    prefix=dict(type="str", default=DEFAULT_PREFIX),
    lock_path=dict(type="path", default=DEFAULT_LOCK_PATH),
    lease_path=dict(type="path", default=DEFAULT_LEASE_PATH),
    lock_timeout=dict(type="float", default=DEFAULT_LOCK_TIMEOUT),
    smolvm_db_path=dict(type="path"),
    smolvm_state_dir=dict(type="path"),
    **POOL_ARGUMENT_SPEC,
    **DOCKER_ARGUMENT_SPEC,
)
ALLOCATOR_REQUIRED_TOGETHER = DOCKER_REQUIRED_TOGETHER
ALLOCATOR_MUTUALLY_EXCLUSIVE = [("smolvm_db_path", "smolvm_state_dir")]

# What allocator_from_params() and the allocator raise for bad input or an unprovable state; the
# modules turn these into a failure with the message, anything else into an unexpected error.
ALLOCATOR_ERRORS = (PoolError, DockerStateError, LeaseError, smolvm_db.SmolvmDbError)


def smolvm_db_path_from_params(params: dict, environ=None) -> str:
    """The smolvm state DB the options name: smolvm_db_path, else the DB of smolvm_state_dir, else
    smolvm's own default for this user and environment."""
    for option in ("smolvm_db_path", "smolvm_state_dir"):
        value = params.get(option)
        if value is not None:
            try:
                check_plain_text(option, value)
            except TextInputError as exc:
                raise AliasError(str(exc)) from None
    if params.get("smolvm_db_path"):
        return os.path.abspath(os.path.expanduser(params["smolvm_db_path"]))
    if params.get("smolvm_state_dir"):
        return smolvm_db.default_db_path(state_dir=params["smolvm_state_dir"], environ=environ)
    return smolvm_db.default_db_path(environ=environ)


def allocator_from_params(params: dict, ttl: int = DEFAULT_TTL, read_docker: bool = True) -> AliasAllocator:
    """The allocator ALLOCATOR_ARGUMENT_SPEC's options describe. Every option is checked before
    Docker is asked (and, with `read_docker`, Docker is asked before any file is touched)."""
    pool = AliasPool.from_params(params)
    check_prefix(params["prefix"])
    store = LeaseStore(params["lease_path"])
    lock_path = resolve_path("lock_path", params["lock_path"])
    _check_lock_is_not_the_table(lock_path, store)
    reader = machines = None
    if read_docker:
        machines = MachinePolicies(smolvm_db_path_from_params(params))
        reader = PublisherReader(docker_client(params), params["prefix"], params["docker_host"])
    return AliasAllocator(pool, reader, store, lock_path, ttl, machines=machines,
                          lock_timeout=params.get("lock_timeout", DEFAULT_LOCK_TIMEOUT))
