# Copyright: (c) 2026, bot-bottle developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The part of the loopback code every platform shares: method choice, messages, the runner, and
the decisions AliasManager makes whatever the platform (with an in-memory interface)."""

from __future__ import annotations

import pytest

from ansible_collections.bot_bottle.smolmachines.plugins.module_utils.loopback import (
    AliasManager, LoopbackError, resolve_method, subprocess_runner, summarize,
)
from ansible_collections.bot_bottle.smolmachines.plugins.module_utils.pool import AliasPool


@pytest.mark.parametrize("system, method", [
    ("Linux", "linux"), ("Darwin", "ifconfig"), ("FreeBSD", "ifconfig"), ("OpenBSD", "ifconfig"),
    ("NetBSD", "ifconfig"),
])
def test_auto_picks_the_platform_method(system, method):
    assert resolve_method("auto", system) == method
    assert resolve_method("ifconfig", "Linux") == "ifconfig"


def test_auto_on_an_unknown_platform_says_what_to_set():
    with pytest.raises(LoopbackError) as caught:
        resolve_method("auto", "SunOS")
    assert "'SunOS'" in str(caught.value) and "set method=ifconfig" in str(caught.value)


def test_an_unknown_method_is_refused():
    with pytest.raises(LoopbackError) as caught:
        resolve_method("netsh", "Linux")
    assert str(caught.value) == "method='netsh' is not one of auto, ifconfig, linux"


def test_summarize_folds_runs():
    folded = summarize(["127.0.0.18", "127.0.0.16", "127.0.0.17", "127.0.0.20"])
    assert folded == "127.0.0.16-127.0.0.18, 127.0.0.20"
    many = [f"127.0.0.{i}" for i in range(10, 30, 2)]
    assert summarize(many).endswith("127.0.0.16, and 6 more ranges")
    assert summarize(["198.18.0.255", "198.18.1.0"]) == "198.18.0.255-198.18.1.0"


def test_the_runner_feeds_stdin_and_reports_a_missing_program():
    assert subprocess_runner(["cat"], "line one\nline two") == (0, "line one\nline two", "")
    rc, out, err = subprocess_runner(["/nonexistent/ifconfig", "lo0"])
    assert (rc, out) == (127, "") and "No such file or directory" in err


class MemoryAliases(AliasManager):
    """An interface held in a list; `apply` can be told to stop early or to do nothing."""

    method = "memory"
    default_interface = "mem0"
    tool = "memtool"

    def __init__(self, pool, addresses=(), stop_after=None, no_op=False, **kwargs):
        super().__init__(pool, **kwargs)
        self.addresses = list(addresses)
        self.stop_after = stop_after
        self.no_op = no_op
        self.reads = 0
        self.applied = []

    def read(self):
        self.reads += 1
        return list(self.addresses)

    def apply(self, addresses, adding):
        self.applied.append((list(addresses), adding))
        for done, address in enumerate(addresses):
            if done == self.stop_after:
                return f"`memtool {address}` failed (rc 1): no room"
            if self.no_op:
                continue
            if adding:
                self.addresses.append(address)
            else:
                self.addresses.remove(address)
        return None


def pool16():
    return AliasPool("127.0.0.16", "127.0.0.19")


def test_an_unknown_state_is_refused_before_anything_is_read():
    manager = MemoryAliases(pool16(), euid=0)
    with pytest.raises(LoopbackError) as caught:
        manager.ensure("gone")
    assert str(caught.value) == "state='gone' is not one of present, absent"
    assert manager.reads == 0


def test_a_partial_change_reports_what_the_read_back_shows():
    manager = MemoryAliases(pool16(), addresses=["127.0.0.17"], stop_after=1, euid=0)
    with pytest.raises(LoopbackError) as caught:
        manager.ensure("present")
    assert str(caught.value) == (
        "`memtool 127.0.0.18` failed (rc 1): no room; reading mem0 back shows 1 alias added "
        "(127.0.0.16); fix the cause and run again (what was already added stays added)")
    assert caught.value.facts == {"changed": True, "present": ["127.0.0.17"],
                                  "added": ["127.0.0.16"], "removed": []}


def test_a_failure_before_any_change_is_not_a_change():
    manager = MemoryAliases(pool16(), addresses=["127.0.0.16"], stop_after=0, euid=0)
    with pytest.raises(LoopbackError) as caught:
        manager.ensure("absent")
    assert "; nothing was removed; " in str(caught.value)
    assert caught.value.facts["changed"] is False and caught.value.facts["removed"] == []


def test_a_tool_that_says_yes_and_does_nothing_fails_closed():
    manager = MemoryAliases(pool16(), addresses=["127.0.0.16", "127.0.0.17"], no_op=True, euid=0)
    with pytest.raises(LoopbackError) as caught:
        manager.ensure("absent")
    assert str(caught.value) == (
        "memtool reported success, but reading mem0 back shows 2 aliases still present: "
        "127.0.0.16-127.0.0.17; the pool is not removed")
    assert caught.value.facts["changed"] is False


def test_not_root_and_nothing_to_change_reads_once_and_succeeds():
    manager = MemoryAliases(pool16(), addresses=pool16().addresses(), euid=1000)
    result = manager.ensure("present")
    assert result.changed is False and manager.reads == 1 and manager.applied == []
