# Copyright: (c) 2026, bot-bottle developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import ipaddress
import json
import os

import pytest
from hypothesis import given, settings, HealthCheck, strategies as st

from ansible_collections.bot_bottle.smolmachines.plugins.module_utils.alias_allocator import (
    AliasAllocator, AliasError,
)
from ansible_collections.bot_bottle.smolmachines.plugins.module_utils.docker_state import (
    DockerStateError, Publisher,
)
from ansible_collections.bot_bottle.smolmachines.plugins.module_utils.leases import (
    Lease, LeaseError, LeaseStore,
)
from ansible_collections.bot_bottle.smolmachines.plugins.module_utils.pool import AliasPool

PREFIX = "bot-bottle-sidecars-"
NOW = 1_000_000.0


class Clock:
    def __init__(self, now=NOW):
        self.now = now

    def __call__(self):
        return self.now


class Reader:
    """Stands in for BundleReader: the bundles Docker would list, and how often it was asked."""

    def __init__(self, *bundles, error=None):
        self.bundles = list(bundles)
        self.error = error
        self.reads = 0

    def read(self):
        self.reads += 1
        if self.error:
            raise self.error
        return list(self.bundles)


class Machines:
    """Stands in for the smolvm DB reader: {name: policy} as smolvm_db.read_machine_policies gives it."""

    def __init__(self, **policies):
        self.policies = policies
        self.db_path = "/x/smolvm.db"

    def read(self):
        return dict(self.policies)


def policy(*cidrs, state="stopped", network=True):
    return dict(state=state, pid=None, allowed_cidrs=list(cidrs) if cidrs else None, network=network, egress={})


def bundle(slug, *aliases):
    return Publisher(PREFIX + slug, slug, aliases)


class Env:
    def __init__(self, tmp_path, reader=None, first="127.0.0.16", last="127.0.0.31", ttl=900, machines=None):
        self.dir = tmp_path / "cache"
        self.lease_path = self.dir / "leases.json"
        self.lock_path = self.dir / "smolmachines.lock"
        self.clock = Clock()
        self.store = LeaseStore(str(self.lease_path), clock=self.clock)
        self.reader = reader or Reader()
        self.machines = machines or Machines()
        self.allocator = AliasAllocator(AliasPool(first, last), self.reader, self.store, str(self.lock_path), ttl,
                                        machines=self.machines)

    def lease(self, slug, alias, expires_at=NOW + 600):
        table = self.store.load()
        table[slug] = Lease(slug, alias, int(expires_at))
        self.store.save(table)

    def table(self):
        if not self.lease_path.exists():
            return None
        return {entry["slug"]: (entry["alias"], entry["expires_at"])
                for entry in json.loads(self.lease_path.read_text())["leases"]}

    def present(self, slug, check_mode=False):
        return self.allocator.ensure_present(slug, check_mode=check_mode)

    def absent(self, slug, check_mode=False):
        return self.allocator.ensure_absent(slug, check_mode=check_mode)


@pytest.fixture
def env(tmp_path):
    return Env(tmp_path)


# ---- allocation ----------------------------------------------------------------------------

def test_an_empty_host_gives_the_lowest_alias_and_leases_it(env):
    outcome = env.present("a")
    assert (outcome.facts["alias"], outcome.facts["source"], outcome.changed) == ("127.0.0.16", "allocated", True)
    assert outcome.facts["lease"] == Lease("a", "127.0.0.16", NOW + 900).as_dict()
    assert env.table() == {"a": ("127.0.0.16", NOW + 900)}
    assert outcome.as_dict(diff=True)["diff"] == dict(
        before={"version": 1, "leases": []},
        after={"version": 1, "leases": [{"slug": "a", "alias": "127.0.0.16", "expires_at": NOW + 900}]})
    assert env.reader.reads == 1


def test_bound_and_leased_aliases_are_skipped(tmp_path):
    env = Env(tmp_path, Reader(bundle("b", "127.0.0.16"), bundle("c", "127.0.0.18")))
    env.lease("d", "127.0.0.17")
    assert env.present("a").facts["alias"] == "127.0.0.19"


def test_asking_again_gives_the_leased_alias_back_unchanged_and_unrenewed(env):
    env.present("a")
    env.clock.now += 100
    content = env.lease_path.read_text()
    outcome = env.present("a")
    assert (outcome.facts["alias"], outcome.facts["source"], outcome.changed) == ("127.0.0.16", "leased", False)
    assert outcome.facts["lease"]["expires_at"] == NOW + 900
    assert env.lease_path.read_text() == content
    assert outcome.as_dict(diff=True)["diff"]["before"] == outcome.as_dict(diff=True)["diff"]["after"]


def test_a_bound_bottle_gets_its_alias_back_and_nothing_is_written(tmp_path):
    env = Env(tmp_path, Reader(bundle("a", "127.0.0.20")))
    outcome = env.present("a")
    assert outcome.as_dict() == dict(changed=False, slug="a", alias="127.0.0.20", source="bound",
                                     container=PREFIX + "a", machine=None, lease=None,
                                     msg=f"127.0.0.20 is bound by {PREFIX}a")
    assert env.table() is None


def test_a_bound_bottle_keeps_its_lease_on_the_same_alias_and_reports_no_change(tmp_path):
    env = Env(tmp_path)
    env.present("a")
    env.reader.bundles = [bundle("a", "127.0.0.16")]
    outcome = env.present("a")
    assert (outcome.facts["source"], outcome.facts["alias"], outcome.changed) == ("bound", "127.0.0.16", False)
    assert outcome.facts["lease"] == Lease("a", "127.0.0.16", NOW + 900).as_dict()
    assert env.table() == {"a": ("127.0.0.16", NOW + 900)}


def test_a_bound_bottle_loses_a_lease_on_another_alias(tmp_path):
    env = Env(tmp_path, Reader(bundle("a", "127.0.0.20")))
    env.lease("a", "127.0.0.16")
    env.lease("b", "127.0.0.17")
    outcome = env.present("a")
    assert (outcome.facts["source"], outcome.facts["alias"], outcome.changed, outcome.facts["lease"]) == ("bound", "127.0.0.20", True, None)
    assert env.table() == {"b": ("127.0.0.17", NOW + 600)}
    assert "released the lease of a on 127.0.0.16" in outcome.warnings[0]


@pytest.mark.parametrize("address", ["127.0.0.200", "192.168.1.20", "127.0.0.1"])
def test_a_bound_address_outside_the_pool_is_an_error_naming_the_container_never_adopted(tmp_path, address):
    # Issue 12, item 3: the host's LAN address (or any non-pool one) was returned with a warning.
    env = Env(tmp_path, Reader(bundle("a", address)))
    with pytest.raises(AliasError) as caught:
        env.present("a")
    assert str(caught.value).startswith(f"bundle container {PREFIX}a publishes on {address}, outside the pool "
                                        f"127.0.0.16-127.0.0.31 (16 aliases) (or reserved); an address outside "
                                        f"the pool is never adopted")
    assert caught.value.facts == dict(container=PREFIX + "a", aliases=[address])
    assert env.table() is None


def test_a_bundle_on_a_non_ipv4_address_is_an_error_naming_it(tmp_path):
    env = Env(tmp_path, Reader(Publisher(PREFIX + "a", "a", [], other=["::1"])))
    with pytest.raises(AliasError) as caught:
        env.present("a")
    assert f"bundle container {PREFIX}a publishes on ::1, not an IPv4 address" in str(caught.value)


def test_a_bundle_on_an_alias_outside_the_pool_takes_nothing_from_it(tmp_path):
    env = Env(tmp_path, Reader(bundle("x", "127.0.0.200"), bundle("y", "10.1.2.3")))
    assert env.present("a").facts["alias"] == "127.0.0.16"


def test_a_bundle_with_another_name_is_not_this_bottle(tmp_path):
    env = Env(tmp_path, Reader(bundle("a-1", "127.0.0.16")))
    outcome = env.present("a")
    assert (outcome.facts["alias"], outcome.facts["source"], outcome.facts["container"]) == ("127.0.0.17", "allocated", None)


def test_a_running_bundle_without_published_ports_gets_a_lease(tmp_path):
    env = Env(tmp_path, Reader(bundle("a")))
    outcome = env.present("a")
    assert (outcome.facts["alias"], outcome.facts["source"], outcome.facts["container"]) == ("127.0.0.16", "allocated", PREFIX + "a")


@pytest.mark.parametrize("bundles, message", [
    ([bundle("a", "127.0.0.16", "127.0.0.17")],
     f"a holds several addresses of the pool: bundle container {PREFIX}a publishes on 127.0.0.16, 127.0.0.17"),
    ([bundle("a", "127.0.0.16"), bundle("b", "127.0.0.16")],
     f"address 127.0.0.16 of a is also held by container {PREFIX}b"),
    ([bundle("a", "127.0.0.16"), Publisher("web", None, ["127.0.0.16"])],
     "address 127.0.0.16 of a is also held by container web"),
])
def test_a_binding_that_cannot_confine_the_bottle_fails(tmp_path, bundles, message):
    env = Env(tmp_path, Reader(*bundles))
    with pytest.raises(AliasError) as caught:
        env.present("a")
    assert message in str(caught.value)
    assert env.table() is None


def test_a_lease_on_an_alias_another_bundle_now_binds_is_void(tmp_path):
    env = Env(tmp_path)
    env.present("a")
    env.reader.bundles = [bundle("intruder", "127.0.0.16")]
    outcome = env.present("a")
    assert (outcome.facts["alias"], outcome.facts["source"], outcome.changed) == ("127.0.0.17", "allocated", True)
    assert env.table() == {"a": ("127.0.0.17", NOW + 900)}
    assert f"the lease of a on 127.0.0.16 is void: container {PREFIX}intruder now holds" in outcome.warnings[0]


def test_an_expired_lease_frees_its_alias_for_others(env):
    env.lease("old", "127.0.0.16", expires_at=NOW)
    outcome = env.present("a")
    assert outcome.facts["alias"] == "127.0.0.16"
    assert env.table() == {"a": ("127.0.0.16", NOW + 900)}


def test_a_slug_whose_lease_expired_gets_its_old_alias_back_when_still_free(env):
    env.lease("b", "127.0.0.16")
    env.lease("a", "127.0.0.20", expires_at=NOW - 1)
    outcome = env.present("a")
    assert (outcome.facts["alias"], outcome.facts["source"], outcome.changed) == ("127.0.0.20", "allocated", True)
    assert env.table() == {"a": ("127.0.0.20", NOW + 900), "b": ("127.0.0.16", NOW + 600)}


def test_expired_leases_go_only_when_the_table_is_written_anyway(tmp_path):
    env = Env(tmp_path, Reader(bundle("a", "127.0.0.30")))
    env.lease("gone", "127.0.0.16", expires_at=NOW - 5)
    assert env.present("a").changed is False
    assert "gone" in env.table()
    env.present("b")
    assert "gone" not in env.table()


def test_check_mode_reports_the_choice_and_writes_nothing_not_even_the_lock(env):
    outcome = env.present("a", check_mode=True)
    assert (outcome.facts["alias"], outcome.facts["source"], outcome.changed) == ("127.0.0.16", "allocated", True)
    assert outcome.facts["msg"] == "127.0.0.16 would be leased to a for 900 s"
    assert outcome.as_dict(diff=True)["diff"]["after"]["leases"] == [
        {"slug": "a", "alias": "127.0.0.16", "expires_at": NOW + 900}]
    assert not env.dir.exists()


def test_check_mode_then_real_run_agree(env):
    assert env.present("a", check_mode=True).facts["alias"] == env.present("a").facts["alias"]


# ---- failures write nothing ----------------------------------------------------------------

def test_docker_unreadable_fails_and_writes_no_lease(tmp_path):
    env = Env(tmp_path, Reader(error=DockerStateError("cannot read the Docker engine at unix:///x")))
    with pytest.raises(DockerStateError):
        env.present("a")
    assert env.table() is None


def test_a_corrupt_lease_file_fails_and_is_left_alone(env):
    env.dir.mkdir()
    env.lease_path.write_text("{oops")
    with pytest.raises(LeaseError):
        env.present("a")
    assert env.lease_path.read_text() == "{oops"


def test_an_exhausted_pool_names_every_holder(tmp_path):
    env = Env(tmp_path, Reader(bundle("b", "127.0.0.16"), bundle("far", "127.0.0.99")), last="127.0.0.18")
    env.lease("c", "127.0.0.17")
    env.lease("d", "127.0.0.18", expires_at=NOW + 42.5)
    before = env.lease_path.read_text()
    with pytest.raises(AliasError) as caught:
        env.present("a")
    assert str(caught.value) == (
        "alias pool exhausted: 3 of 3 aliases of 127.0.0.16-127.0.0.18 (3 aliases) in use "
        f"(127.0.0.16 bound by {PREFIX}b; 127.0.0.17 leased to c for 600 s more; 127.0.0.18 leased to d for 42 s more); "
        "stop a bottle, release a lease with state=absent, or widen the pool with last")
    assert caught.value.facts["holders"] == [
        dict(alias="127.0.0.16", status="bound", slug="b", container=PREFIX + "b", machine=None, expires_at=None,
             holders=[dict(kind="container", name=PREFIX + "b", slug="b")]),
        dict(alias="127.0.0.17", status="leased", slug="c", container=None, machine=None, expires_at=NOW + 600,
             holders=[dict(kind="lease", name="c", slug="c")]),
        dict(alias="127.0.0.18", status="leased", slug="d", container=None, machine=None,
             expires_at=int(NOW + 42.5), holders=[dict(kind="lease", name="d", slug="d")]),
    ]
    assert env.lease_path.read_text() == before


def test_an_exhaustion_message_stays_short_for_a_big_pool(tmp_path):
    bundles = [bundle(f"s{i}", f"127.0.1.{i}") for i in range(0, 256)]
    env = Env(tmp_path, Reader(*bundles), first="127.0.1.0", last="127.0.1.255")
    with pytest.raises(AliasError) as caught:
        env.present("a")
    assert "; and 236 more);" in str(caught.value)
    assert len(caught.value.facts["holders"]) == 256


@pytest.mark.parametrize("slug", ["", "-a", "a b", "a/b", None])
def test_a_slug_that_cannot_name_a_container_is_refused(env, slug):
    with pytest.raises(AliasError) as caught:
        env.present(slug)
    assert f"slug={slug!r} cannot name a bottle" in str(caught.value)


@pytest.mark.parametrize("ttl", [0, -5, True, 604801, 10 ** 400])
def test_a_lease_ttl_must_be_a_sane_number_of_seconds(tmp_path, ttl):
    with pytest.raises(AliasError) as caught:
        Env(tmp_path, ttl=ttl)
    assert f"lease_ttl={ttl!r} is not a whole number of seconds from 1 to 604800" in str(caught.value)


# ---- release -------------------------------------------------------------------------------

def test_absent_releases_the_lease_once(env):
    env.present("a")
    env.lease("b", "127.0.0.17")
    check = env.absent("a", check_mode=True)
    assert (check.changed, check.facts["source"], check.facts["msg"]) == (True, "released", "the lease of a on 127.0.0.16 would be released")
    assert "a" in env.table()
    first = env.absent("a")
    assert (first.changed, first.facts["source"], first.facts["alias"], first.facts["lease"]) == (True, "released", None, None)
    assert env.table() == {"b": ("127.0.0.17", NOW + 600)}
    again = env.absent("a")
    assert (again.changed, again.facts["source"]) == (False, "none")


def test_absent_needs_no_docker(tmp_path):
    env = Env(tmp_path, Reader(error=DockerStateError("down")))
    env.lease("a", "127.0.0.16")
    allocator = AliasAllocator(AliasPool(), None, env.store, str(env.lock_path), 900)
    assert allocator.ensure_absent("a").changed is True
    assert env.reader.reads == 0


def test_a_released_alias_is_handed_out_again(env):
    env.present("a")
    env.present("b")
    env.absent("a")
    assert env.present("c").facts["alias"] == "127.0.0.16"


# ---- the pool report -----------------------------------------------------------------------

def test_the_report_lists_every_alias_with_its_holder(tmp_path):
    env = Env(tmp_path, Reader(bundle("b", "127.0.0.16"), bundle("far", "127.0.0.200"), bundle("c", "127.0.0.18")),
              last="127.0.0.19")
    env.lease("c", "127.0.0.17")
    env.lease("b", "127.0.0.16")
    env.lease("old", "127.0.0.19", expires_at=NOW)
    report = env.allocator.report()
    assert report == dict(
        aliases=[
            dict(alias="127.0.0.16", status="bound", slug="b", container=PREFIX + "b", machine=None, expires_at=None,
                 holders=[dict(kind="container", name=PREFIX + "b", slug="b"), dict(kind="lease", name="b", slug="b")]),
            dict(alias="127.0.0.17", status="leased", slug="c", container=PREFIX + "c", machine=None,
                 expires_at=NOW + 600, holders=[dict(kind="lease", name="c", slug="c")]),
            dict(alias="127.0.0.18", status="bound", slug="c", container=PREFIX + "c", machine=None, expires_at=None,
                 holders=[dict(kind="container", name=PREFIX + "c", slug="c")]),
            dict(alias="127.0.0.19", status="free", slug=None, container=None, machine=None, expires_at=None,
                 holders=[]),
        ],
        free=1, in_use=3,
        outside_pool=[dict(alias="127.0.0.200", status="bound", slug="far", container=PREFIX + "far", machine=None,
                           expires_at=None, holders=[dict(kind="container", name=PREFIX + "far", slug="far")])],
        machines=[], everywhere=[])


def test_the_report_writes_nothing(env):
    env.allocator.report()
    assert not env.dir.exists()


# ---- many addresses, many holders ----------------------------------------------------------

def test_a_pool_of_thousands_is_handed_out_lowest_first(tmp_path):
    bundles = [bundle(f"b{i}", str(ipaddress.IPv4Address(int(ipaddress.IPv4Address("127.0.1.0")) + i)))
               for i in range(0, 3000)]
    env = Env(tmp_path, Reader(*bundles), first="127.0.1.0", last="127.0.16.255")
    assert env.present("a").facts["alias"] == "127.0.12.184"
    assert env.present("b").facts["alias"] == "127.0.12.185"


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None)
@given(data=st.data())
def test_the_choice_is_the_lowest_address_neither_bound_nor_leased(tmp_path_factory, data):
    pool = AliasPool("127.0.0.16", "127.0.0.80")
    addresses = pool.addresses() + ["127.0.0.200", "127.0.0.1"]
    bound = data.draw(st.lists(st.sampled_from(addresses), unique=True, max_size=40))
    rest = [a for a in pool.addresses() if a not in bound]
    leased = data.draw(st.lists(st.sampled_from(rest), unique=True, max_size=30)) if rest else []
    expired = data.draw(st.lists(st.booleans(), min_size=len(leased), max_size=len(leased)))
    env = Env(tmp_path_factory.mktemp("prop"), Reader(*[bundle(f"b{i}", a) for i, a in enumerate(bound)]),
              last="127.0.0.80")
    for i, (alias, gone) in enumerate(zip(leased, expired)):
        env.lease(f"l{i}", alias, expires_at=NOW - 1 if gone else NOW + 10)
    taken = set(bound) | {a for a, gone in zip(leased, expired) if not gone}
    free = [a for a in pool.addresses() if a not in taken]
    if not free:
        with pytest.raises(AliasError) as caught:
            env.present("new")
        assert "alias pool exhausted" in str(caught.value)
        return
    outcome = env.present("new")
    assert outcome.facts["alias"] == free[0]
    assert outcome.facts["source"] == "allocated"
    assert set(env.table()) == {"new"} | {f"l{i}" for i, gone in enumerate(expired) if not gone}


def test_lock_and_lease_files_are_private(env):
    env.present("a")
    assert oct(os.stat(env.lease_path).st_mode & 0o777) == "0o600"
    assert oct(os.stat(env.lock_path).st_mode & 0o777) == "0o600"
    assert oct(os.stat(env.dir).st_mode & 0o777) == "0o700"


# ---- issue 12, item 1: every holder counts -------------------------------------------------

def test_a_vm_whose_bundle_stopped_keeps_its_address(tmp_path):
    # Bottle A's bundle is stopped (no container), its VM runs confined to 127.0.0.16: B must not get it.
    env = Env(tmp_path, machines=Machines(**{"bot-bottle-a": policy("127.0.0.16/32", state="running")}))
    outcome = env.present("b")
    assert (outcome.facts["alias"], outcome.facts["source"]) == ("127.0.0.17", "allocated")


def test_a_stopped_vm_holds_its_address_too(tmp_path):
    env = Env(tmp_path, machines=Machines(other=policy("127.0.0.16/32", state="stopped")))
    assert env.present("b").facts["alias"] == "127.0.0.17"


def test_a_machine_allowed_a_wide_cidr_holds_every_pool_address_it_covers(tmp_path):
    env = Env(tmp_path, machines=Machines(wide=policy("127.0.0.0/27", "2001:db8::/32", state="created")),
              last="127.0.0.18")
    env.lease("c", "127.0.0.18")
    with pytest.raises(AliasError) as caught:
        env.present("b")
    assert str(caught.value).startswith(
        "alias pool exhausted: 3 of 3 aliases of 127.0.0.16-127.0.0.18 (3 aliases) in use "
        "(127.0.0.16 allowed to smolvm machine wide; 127.0.0.17 allowed to smolvm machine wide; 127.0.0.18 "
        "allowed to smolvm machine wide)")


def test_a_bottle_whose_vm_holds_an_address_gets_it_back_idempotently(tmp_path):
    env = Env(tmp_path, machines=Machines(**{"bot-bottle-a": policy("127.0.0.20/32")}))
    first = env.present("a")
    again = env.present("a")
    assert first.as_dict() == again.as_dict() == dict(
        changed=False, slug="a", alias="127.0.0.20", source="machine", container=None, machine="bot-bottle-a",
        lease=None, msg="127.0.0.20 is held by smolvm machine bot-bottle-a, whose stored allowlist allows it")
    assert env.table() is None


def test_a_bottle_whose_bundle_and_vm_agree_is_bound(tmp_path):
    env = Env(tmp_path, Reader(bundle("a", "127.0.0.20")), machines=Machines(**{"bot-bottle-a": policy("127.0.0.20")}))
    outcome = env.present("a")
    assert (outcome.facts["alias"], outcome.facts["source"], outcome.facts["machine"], outcome.changed) == ("127.0.0.20", "bound", "bot-bottle-a", False)


def test_a_bottle_whose_bundle_and_vm_disagree_fails(tmp_path):
    env = Env(tmp_path, Reader(bundle("a", "127.0.0.20")), machines=Machines(**{"bot-bottle-a": policy("127.0.0.21/32")}))
    with pytest.raises(AliasError) as caught:
        env.present("a")
    assert str(caught.value).startswith(
        f"a holds several addresses of the pool: bundle container {PREFIX}a publishes on 127.0.0.20; smolvm "
        f"machine bot-bottle-a is allowed 127.0.0.21 (allowed_cidrs ['127.0.0.21/32'])")


def test_an_address_two_machines_are_allowed_is_refused_to_both(tmp_path):
    env = Env(tmp_path, machines=Machines(**{"bot-bottle-a": policy("127.0.0.20/32"), "x": policy("127.0.0.16/27")}))
    with pytest.raises(AliasError) as caught:
        env.present("a")
    assert "address 127.0.0.20 of a is also held by smolvm machine x" in str(caught.value)


def test_a_lease_on_an_address_a_machine_now_holds_is_void(tmp_path):
    env = Env(tmp_path)
    env.present("a")
    env.machines.policies["bot-bottle-b"] = policy("127.0.0.16/32")
    outcome = env.present("a")
    assert (outcome.facts["alias"], outcome.facts["source"]) == ("127.0.0.17", "allocated")
    assert "the lease of a on 127.0.0.16 is void: smolvm machine bot-bottle-b now holds" in outcome.warnings[0]


def test_an_unrestricted_machine_takes_nothing_and_is_named_in_a_warning(tmp_path):
    env = Env(tmp_path, machines=Machines(open=policy(), closed=policy(network=False)))
    outcome = env.present("a")
    assert outcome.facts["alias"] == "127.0.0.16"
    assert outcome.warnings == ["smolvm machine open has networking on and no allowlist: it is confined to "
                                "nothing and can reach every bottle's address"]


@pytest.mark.parametrize("bad", [dict(allowed_cidrs="127.0.0.16/32"), "junk", dict(allowed_cidrs=["nope"])])
def test_a_machine_policy_that_cannot_be_read_fails_closed(tmp_path, bad):
    env = Env(tmp_path, machines=Machines(m=bad))
    with pytest.raises(AliasError) as caught:
        env.present("a")
    assert "smolvm machine 'm'" in str(caught.value)
    assert env.table() is None


def test_the_report_shows_which_machine_holds_which_address(tmp_path):
    env = Env(tmp_path, Reader(Publisher("web", None, ["127.0.0.17"])), last="127.0.0.17",
              machines=Machines(**{"bot-bottle-a": policy("127.0.0.16/32"), "open": policy()}))
    report = env.allocator.report()
    assert report["aliases"] == [
        dict(alias="127.0.0.16", status="machine", slug="a", container=None, machine="bot-bottle-a", expires_at=None,
             holders=[dict(kind="machine", name="bot-bottle-a", slug="a")]),
        dict(alias="127.0.0.17", status="bound", slug=None, container="web", machine=None, expires_at=None,
             holders=[dict(kind="container", name="web", slug=None)]),
    ]
    assert report["machines"] == [
        dict(machine="bot-bottle-a", slug="a", state="stopped", aliases=["127.0.0.16"],
             allowed_cidrs=["127.0.0.16/32"], unrestricted=False),
        dict(machine="open", slug=None, state="stopped", aliases=[], allowed_cidrs=None, unrestricted=True)]


# ---- any container counts; containers on every address -------------------------------------

def test_a_container_of_any_name_publishing_on_a_pool_address_holds_it(tmp_path):
    env = Env(tmp_path, Reader(Publisher("postgres", None, ["127.0.0.16"]), Publisher(PREFIX + "x", "x", ["127.0.0.17"])))
    assert env.present("a").facts["alias"] == "127.0.0.18"


def test_a_container_publishing_on_every_address_stops_every_allocation(tmp_path):
    # Decision: it is reachable on every pool address, so any bottle would reach it: fail closed.
    everywhere = Publisher("web", None, everywhere=["8080->80/tcp on 0.0.0.0", "8080->80/tcp on ::"])
    env = Env(tmp_path, Reader(everywhere, bundle("a", "127.0.0.16")))
    for slug in ("a", "b"):
        with pytest.raises(AliasError) as caught:
            env.present(slug)
        assert str(caught.value).startswith(
            "container(s) publishing on every host address run: web (8080->80/tcp on 0.0.0.0, 8080->80/tcp on ::)")
        assert caught.value.facts["everywhere"] == [dict(container="web", ports=list(everywhere.everywhere))]
    assert env.table() is None
    assert env.allocator.report()["everywhere"] == [dict(container="web", ports=list(everywhere.everywhere))]


# ---- issue 12, item 5: no control characters ----------------------------------------------

@pytest.mark.parametrize("slug", ["a\n", " a", "a ", "a\tb", "a\x00", "a\u2028"])
def test_a_slug_with_a_control_character_or_surrounding_space_is_refused(env, slug):
    with pytest.raises(AliasError) as caught:
        env.present(slug)
    assert f"slug={slug!r}" in str(caught.value)
    assert env.table() is None


def test_a_slug_with_a_trailing_newline_cannot_take_a_second_lease(env):
    env.present("a")
    with pytest.raises(AliasError):
        env.present("a\n")
    assert env.table() == {"a": ("127.0.0.16", NOW + 900)}


# ---- issue 12, item 7: leases on reserved or non-pool addresses ----------------------------

@pytest.mark.parametrize("address", ["127.0.0.1", "127.0.0.53", "127.0.0.200", "10.0.0.1"])
def test_a_lease_on_a_reserved_or_non_pool_address_is_not_honoured(tmp_path, address):
    env = Env(tmp_path, first="127.0.0.4", last="127.0.0.60")
    env.lease("a", address)
    outcome = env.present("a")
    assert (outcome.facts["alias"], outcome.facts["source"], outcome.changed) == ("127.0.0.4", "allocated", True)
    assert outcome.warnings == [f"the lease of a on {address} is not honoured: that address is reserved or "
                                f"outside the pool 127.0.0.4-127.0.0.60 (55 aliases); a gets a pool address"]
    assert env.table() == {"a": ("127.0.0.4", NOW + 900)}


# ---- issue 12, item 6: the lock and the table ---------------------------------------------

def test_lock_path_equal_to_lease_path_is_refused_before_anything(tmp_path):
    store = LeaseStore(str(tmp_path / "t.json"))
    with pytest.raises(LeaseError) as caught:
        AliasAllocator(AliasPool("127.0.0.16", "127.0.0.31"), Reader(), store, str(tmp_path / "t.json"), 900)
    assert f"lock_path and lease_path both name {tmp_path}/t.json" in str(caught.value)
    assert list(tmp_path.iterdir()) == []


def test_lock_path_equal_to_the_tables_own_lock_is_refused(tmp_path):
    store = LeaseStore(str(tmp_path / "t.json"))
    with pytest.raises(LeaseError) as caught:
        AliasAllocator(AliasPool("127.0.0.16", "127.0.0.31"), Reader(), store, str(tmp_path / "t.json.lock"), 900)
    assert "is the lease table's own lock" in str(caught.value)


def test_an_allocation_takes_the_tables_own_lock_beside_it(env):
    env.present("a")
    assert (env.dir / "leases.json.lock").is_file()
    assert oct(os.stat(env.dir / "leases.json.lock").st_mode & 0o777) == "0o600"


@pytest.mark.parametrize("timeout", [0, -1, float("nan"), float("inf"), True])
def test_a_lock_timeout_must_be_positive_and_finite(tmp_path, timeout):
    store = LeaseStore(str(tmp_path / "t.json"))
    with pytest.raises(AliasError) as caught:
        AliasAllocator(AliasPool("127.0.0.16", "127.0.0.31"), Reader(), store, str(tmp_path / "l"), 900,
                       lock_timeout=timeout)
    assert f"lock_timeout={timeout!r} is not a positive, finite number of seconds" in str(caught.value)


def test_an_infinite_expiry_in_the_table_is_refused_never_turned_into_a_crash(env):
    env.dir.mkdir()
    env.lease_path.write_text('{"version": 1, "leases": [{"slug": "x", "alias": "127.0.0.16", "expires_at": Infinity}]}')
    os.chmod(env.lease_path, 0o600)
    with pytest.raises(LeaseError) as caught:
        env.present("a")
    assert "cannot convert" not in str(caught.value)
    assert "not JSON" in str(caught.value) and "Infinity is not a finite number" in str(caught.value)
