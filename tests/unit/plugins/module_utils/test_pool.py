# Copyright: (c) 2026, bot-bottle developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given, strategies as st

from ansible_collections.bot_bottle.smolmachines.plugins.module_utils.pool import (
    AliasPool, PoolError, RESERVED,
)


def test_default_pool_is_sixteen_addresses_outside_127_8():
    # Issue 11, item 3: on smolvm >= 1.1.3 a guest's 127/8 is its own, so the default lies in 198.18.0.0/15.
    pool = AliasPool()
    assert pool.addresses() == [f"198.18.0.{i}" for i in range(16, 32)]
    assert len(pool) == 16
    assert not pool.loopback
    assert all(ipaddress.IPv4Address(a) in ipaddress.IPv4Network("198.18.0.0/15") for a in pool)


def test_a_127_8_pool_stays_available_for_tsi_era_smolvm():
    pool = AliasPool("127.0.0.16", "127.0.0.31")
    assert pool.loopback and len(pool) == 16


@pytest.mark.parametrize("first, last, message", [
    ("127.255.255.250", "128.0.0.1", "the pool 127.255.255.250-128.0.0.1 crosses the edge of 127.0.0.0/8"),
    ("126.255.255.250", "127.0.0.9", "crosses the edge of 127.0.0.0/8"),
    ("127.0.0.0", "127.0.0.9", "first=127.0.0.0 is an edge of 127.0.0.0/8"),
    ("127.0.0.16", "127.255.255.255", "last=127.255.255.255 is an edge of 127.0.0.0/8"),
    ("127.0.0.1", "127.0.0.9", "first=127.0.0.1 is reserved"),
    ("127.0.0.16", "127.0.0.53", "last=127.0.0.53 is reserved"),
    ("127.0.0.31", "127.0.0.16", "first=127.0.0.31 is above last=127.0.0.16"),
    ("127.0.0.x", "127.0.0.31", "first='127.0.0.x' is not an IPv4 address"),
    ("::1", "127.0.0.31", "first='::1' is not an IPv4 address"),
    ("127.0.0.16", "127.1.0.16", "holds 65537 addresses"),
    ("100.96.0.0", "100.96.0.3", "overlaps 100.96.0.0/30: 100.96.0.0/30 is smolvm's guest network"),
    ("100.95.255.250", "100.96.0.1", "overlaps 100.96.0.0/30"),
    ("100.96.0.3", "100.96.0.9", "overlaps 100.96.0.0/30"),
    ("0.0.0.1", "0.0.0.9", "overlaps 0.0.0.0/8"),
    ("169.254.0.1", "169.254.0.9", "overlaps 169.254.0.0/16"),
    ("224.0.0.16", "224.0.0.31", "overlaps 224.0.0.0/4: 224.0.0.0/4 is multicast"),
    ("239.255.255.250", "240.0.0.5", "overlaps 224.0.0.0/4"),
    ("255.255.255.255", "255.255.255.255", "overlaps 240.0.0.0/4"),
    ("198.18.0.16\n", "198.18.0.31", "first='198.18.0.16\\n' holds the control character '\\n'"),
    (" 198.18.0.16", "198.18.0.31", "first=' 198.18.0.16' starts or ends with whitespace"),
])
def test_bad_ranges_name_the_bad_value(first, last, message):
    with pytest.raises(PoolError) as caught:
        AliasPool(first, last)
    assert message in str(caught.value)


def test_a_range_next_to_smolvms_guest_network_is_fine():
    assert len(AliasPool("100.96.0.4", "100.96.0.20")) == 17


def test_covered_by_clips_a_network_to_the_pool_without_walking_it():
    pool = AliasPool("127.0.0.4", "127.0.0.60")
    assert pool.covered_by(ipaddress.IPv4Network("0.0.0.0/0")) == pool.addresses()
    assert pool.covered_by(ipaddress.IPv4Network("127.0.0.48/28")) == [
        f"127.0.0.{i}" for i in range(48, 61) if i not in (53, 54)]
    assert pool.covered_by(ipaddress.IPv4Network("10.0.0.0/8")) == []


def test_reserved_addresses_inside_a_wide_pool_are_skipped():
    pool = AliasPool("127.0.0.4", "127.0.0.60")
    addresses = pool.addresses()
    assert "127.0.0.53" not in addresses and "127.0.0.54" not in addresses
    assert "127.0.0.53" not in pool
    assert len(pool) == len(addresses) == 55


def test_lowest_free_skips_taken_and_ignores_garbage():
    pool = AliasPool("127.0.0.16", "127.0.0.31")
    assert pool.lowest_free(["127.0.0.16", "127.0.0.17", "not-an-ip", "10.0.0.1"]) == "127.0.0.18"
    assert pool.lowest_free(pool.addresses()) is None


def test_lowest_free_in_a_large_pool():
    pool = AliasPool("127.0.1.0", "127.0.16.255")
    taken = pool.addresses()[:3000]
    assert pool.lowest_free(taken) == pool.addresses()[3000]


@given(st.integers(min_value=int(ipaddress.IPv4Address("127.0.0.4")),
                   max_value=int(ipaddress.IPv4Address("127.255.250.0"))),
       st.integers(min_value=0, max_value=300),
       st.sets(st.integers(min_value=0, max_value=300)))
def test_lowest_free_is_the_smallest_untaken_member(start, span, taken_offsets):
    first = ipaddress.IPv4Address(start)
    last = ipaddress.IPv4Address(start + span)
    if first in RESERVED or last in RESERVED:
        return
    pool = AliasPool(str(first), str(last))
    taken = [str(ipaddress.IPv4Address(start + o)) for o in taken_offsets]
    free = pool.lowest_free(taken)
    expected = next((a for a in pool.addresses() if a not in set(taken)), None)
    assert free == expected
    if free is not None:
        assert free in pool and ipaddress.IPv4Address(free) not in RESERVED
