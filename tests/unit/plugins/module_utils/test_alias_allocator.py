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
    Bundle, DockerStateError,
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


def bundle(slug, *aliases):
    return Bundle(PREFIX + slug, slug, aliases)


class Env:
    def __init__(self, tmp_path, reader=None, first="127.0.0.16", last="127.0.0.31", ttl=900):
        self.dir = tmp_path / "cache"
        self.lease_path = self.dir / "leases.json"
        self.lock_path = self.dir / "smolmachines.lock"
        self.clock = Clock()
        self.store = LeaseStore(str(self.lease_path), clock=self.clock)
        self.reader = reader or Reader()
        self.allocator = AliasAllocator(AliasPool(first, last), self.reader, self.store, str(self.lock_path), ttl)

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
    assert (outcome.alias, outcome.source, outcome.changed) == ("127.0.0.16", "allocated", True)
    assert outcome.lease == Lease("a", "127.0.0.16", NOW + 900)
    assert env.table() == {"a": ("127.0.0.16", NOW + 900)}
    assert outcome.as_dict(diff=True)["diff"] == dict(
        before={"version": 1, "leases": []},
        after={"version": 1, "leases": [{"slug": "a", "alias": "127.0.0.16", "expires_at": NOW + 900}]})
    assert env.reader.reads == 1


def test_bound_and_leased_aliases_are_skipped(tmp_path):
    env = Env(tmp_path, Reader(bundle("b", "127.0.0.16"), bundle("c", "127.0.0.18")))
    env.lease("d", "127.0.0.17")
    assert env.present("a").alias == "127.0.0.19"


def test_asking_again_gives_the_leased_alias_back_unchanged_and_unrenewed(env):
    env.present("a")
    env.clock.now += 100
    content = env.lease_path.read_text()
    outcome = env.present("a")
    assert (outcome.alias, outcome.source, outcome.changed) == ("127.0.0.16", "leased", False)
    assert outcome.lease.expires_at == NOW + 900
    assert env.lease_path.read_text() == content
    assert outcome.as_dict(diff=True)["diff"]["before"] == outcome.as_dict(diff=True)["diff"]["after"]


def test_a_bound_bottle_gets_its_alias_back_and_nothing_is_written(tmp_path):
    env = Env(tmp_path, Reader(bundle("a", "127.0.0.20")))
    outcome = env.present("a")
    assert outcome.as_dict() == dict(changed=False, slug="a", alias="127.0.0.20", source="bound",
                                     container=PREFIX + "a", lease=None,
                                     msg=f"127.0.0.20 is bound by {PREFIX}a")
    assert env.table() is None


def test_a_bound_bottle_keeps_its_lease_on_the_same_alias_and_reports_no_change(tmp_path):
    env = Env(tmp_path)
    env.present("a")
    env.reader.bundles = [bundle("a", "127.0.0.16")]
    outcome = env.present("a")
    assert (outcome.source, outcome.alias, outcome.changed) == ("bound", "127.0.0.16", False)
    assert outcome.lease == Lease("a", "127.0.0.16", NOW + 900)
    assert env.table() == {"a": ("127.0.0.16", NOW + 900)}


def test_a_bound_bottle_loses_a_lease_on_another_alias(tmp_path):
    env = Env(tmp_path, Reader(bundle("a", "127.0.0.20")))
    env.lease("a", "127.0.0.16")
    env.lease("b", "127.0.0.17")
    outcome = env.present("a")
    assert (outcome.source, outcome.alias, outcome.changed, outcome.lease) == ("bound", "127.0.0.20", True, None)
    assert env.table() == {"b": ("127.0.0.17", NOW + 600)}
    assert "released the lease of a on 127.0.0.16" in outcome.warnings[0]


def test_a_bound_alias_outside_the_pool_is_kept_with_a_warning_and_no_pool_alias_given(tmp_path):
    env = Env(tmp_path, Reader(bundle("a", "127.0.0.200")))
    outcome = env.present("a")
    assert (outcome.source, outcome.alias, outcome.changed) == ("bound", "127.0.0.200", False)
    assert outcome.warnings == [f"{PREFIX}a publishes on 127.0.0.200, outside the pool "
                                f"127.0.0.16-127.0.0.31 (16 aliases); a keeps it and gets no pool alias"]
    assert env.table() is None


def test_a_bundle_on_an_alias_outside_the_pool_takes_nothing_from_it(tmp_path):
    env = Env(tmp_path, Reader(bundle("x", "127.0.0.200"), bundle("y", "10.1.2.3")))
    assert env.present("a").alias == "127.0.0.16"


def test_a_bundle_with_another_name_is_not_this_bottle(tmp_path):
    env = Env(tmp_path, Reader(bundle("a-1", "127.0.0.16")))
    outcome = env.present("a")
    assert (outcome.alias, outcome.source, outcome.container) == ("127.0.0.17", "allocated", None)


def test_a_running_bundle_without_published_ports_gets_a_lease(tmp_path):
    env = Env(tmp_path, Reader(bundle("a")))
    outcome = env.present("a")
    assert (outcome.alias, outcome.source, outcome.container) == ("127.0.0.16", "allocated", PREFIX + "a")


@pytest.mark.parametrize("bundles, message", [
    ([bundle("a", "127.0.0.16", "127.0.0.17")],
     f"bundle container {PREFIX}a publishes on several addresses (127.0.0.16, 127.0.0.17)"),
    ([bundle("a", "127.0.0.16"), bundle("b", "127.0.0.16")],
     f"alias 127.0.0.16 of a is also published on by {PREFIX}b"),
    ([bundle("a", "127.0.0.1")],
     f"bundle container {PREFIX}a publishes on 127.0.0.1, a reserved address"),
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
    assert (outcome.alias, outcome.source, outcome.changed) == ("127.0.0.17", "allocated", True)
    assert env.table() == {"a": ("127.0.0.17", NOW + 900)}
    assert f"the lease of a on 127.0.0.16 is void: {PREFIX}intruder now publishes" in outcome.warnings[0]


def test_an_expired_lease_frees_its_alias_for_others(env):
    env.lease("old", "127.0.0.16", expires_at=NOW)
    outcome = env.present("a")
    assert outcome.alias == "127.0.0.16"
    assert env.table() == {"a": ("127.0.0.16", NOW + 900)}


def test_a_slug_whose_lease_expired_gets_its_old_alias_back_when_still_free(env):
    env.lease("b", "127.0.0.16")
    env.lease("a", "127.0.0.20", expires_at=NOW - 1)
    outcome = env.present("a")
    assert (outcome.alias, outcome.source, outcome.changed) == ("127.0.0.20", "allocated", True)
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
    assert (outcome.alias, outcome.source, outcome.changed) == ("127.0.0.16", "allocated", True)
    assert outcome.msg == "127.0.0.16 would be leased to a for 900 s"
    assert outcome.as_dict(diff=True)["diff"]["after"]["leases"] == [
        {"slug": "a", "alias": "127.0.0.16", "expires_at": NOW + 900}]
    assert not env.dir.exists()


def test_check_mode_then_real_run_agree(env):
    assert env.present("a", check_mode=True).alias == env.present("a").alias


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
        "(127.0.0.16 bound by b; 127.0.0.17 leased to c for 600 s more; 127.0.0.18 leased to d for 42 s more); "
        "stop a bottle, release a lease with state=absent, or widen the pool with last")
    assert caught.value.facts["holders"] == [
        dict(alias="127.0.0.16", status="bound", slug="b", container=PREFIX + "b", expires_at=None),
        dict(alias="127.0.0.17", status="leased", slug="c", container=None, expires_at=NOW + 600),
        dict(alias="127.0.0.18", status="leased", slug="d", container=None, expires_at=int(NOW + 42.5)),
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


@pytest.mark.parametrize("ttl", [0, -5, True])
def test_a_lease_ttl_must_be_positive(tmp_path, ttl):
    with pytest.raises(AliasError) as caught:
        Env(tmp_path, ttl=ttl)
    assert f"lease_ttl={ttl!r} is not a positive number of seconds" in str(caught.value)


# ---- release -------------------------------------------------------------------------------

def test_absent_releases_the_lease_once(env):
    env.present("a")
    env.lease("b", "127.0.0.17")
    check = env.absent("a", check_mode=True)
    assert (check.changed, check.source, check.msg) == (True, "released", "the lease of a on 127.0.0.16 would be released")
    assert "a" in env.table()
    first = env.absent("a")
    assert (first.changed, first.source, first.alias, first.lease) == (True, "released", None, None)
    assert env.table() == {"b": ("127.0.0.17", NOW + 600)}
    again = env.absent("a")
    assert (again.changed, again.source) == (False, "none")


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
    assert env.present("c").alias == "127.0.0.16"


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
            dict(alias="127.0.0.16", status="bound", slug="b", container=PREFIX + "b", expires_at=None),
            dict(alias="127.0.0.17", status="leased", slug="c", container=PREFIX + "c", expires_at=NOW + 600),
            dict(alias="127.0.0.18", status="bound", slug="c", container=PREFIX + "c", expires_at=None),
            dict(alias="127.0.0.19", status="free", slug=None, container=None, expires_at=None),
        ],
        free=1, in_use=3,
        outside_pool=[dict(alias="127.0.0.200", status="bound", slug="far", container=PREFIX + "far",
                           expires_at=None)])


def test_the_report_writes_nothing(env):
    env.allocator.report()
    assert not env.dir.exists()


# ---- many addresses, many holders ----------------------------------------------------------

def test_a_pool_of_thousands_is_handed_out_lowest_first(tmp_path):
    bundles = [bundle(f"b{i}", str(ipaddress.IPv4Address(int(ipaddress.IPv4Address("127.0.1.0")) + i)))
               for i in range(0, 3000)]
    env = Env(tmp_path, Reader(*bundles), first="127.0.1.0", last="127.0.16.255")
    assert env.present("a").alias == "127.0.12.184"
    assert env.present("b").alias == "127.0.12.185"


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
    assert outcome.alias == free[0]
    assert outcome.source == "allocated"
    assert set(env.table()) == {"new"} | {f"l{i}" for i, gone in enumerate(expired) if not gone}


def test_lock_and_lease_files_are_private(env):
    env.present("a")
    assert oct(os.stat(env.lease_path).st_mode & 0o777) == "0o600"
    assert oct(os.stat(env.lock_path).st_mode & 0o777) == "0o600"
    assert oct(os.stat(env.dir).st_mode & 0o777) == "0o700"
