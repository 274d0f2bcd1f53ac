# Copyright: (c) 2026, bot-bottle developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Launches that break half-way, and what each leaves behind.

Each fault is injected at one exact point, without timing: a proxy in front of the Docker engine
that refuses connections from a given request on, and stand-in hooks (tests/standins/smolvm's
docstring) that fail a command, lock the database, rewrite a row, or hold a command still until
the test kills the launch. After each, Docker, smolvm's database, the stand-in's boot records and
the lease table are read directly.
"""

from __future__ import annotations

import pytest

from conftest import MACHINE, OWNER_LABEL, alive

ALLOWLIST_TASK = "Force the VM's persisted allowlist to the alias's /32 and read it back"
START_TASK = "Start the VM and wait until the guest answers"
READ_AGAIN_TASK = "Read the started VM's allowlist again, in case another writer changed it"
ALIAS_TASK = "Give the bottle its loopback alias"
UNDO_FAILED = "undoing this run also failed"
CLEANUP_VERDICTS = "Show what is reaped and what is left alone"


def _nothing_left(lab, slug):
    assert lab.left(slug) == []
    assert lab.boot(slug) is None, "the VM was started"


def test_engine_stops_between_alias_and_bundle(lab):
    cutter = lab.engine_cutter()
    slug = lab.slug("noengine")

    run = lab.run("launch", slug, bottle_docker_host=cutter.url)

    assert run.rc != 0, run.tail()
    assert cutter.tripped.is_set(), cutter.requests
    # The alias was handed out (and its lease written) through the engine before it went away.
    assert run.task_results(ALIAS_TASK) == ["changed"], run.tail()
    failure = run.failure()
    # The first Docker call after the alias: the role's read of the parts, or (older roles) the network.
    assert failure.startswith(("Read which of the bottle's Docker parts exist already: Error connecting",
                               "Create the bundle network: Error connecting")), failure
    assert "Connection refused" in failure, failure
    # The read failed before this run created any Docker part, so the undo has nothing to remove
    # there; the lease needs no engine to be released.
    assert "undoing this run also failed" not in failure, failure
    assert not run.task_results(START_TASK)
    _nothing_left(lab, slug)
    assert lab.leases() == []


def test_machine_create_fails(lab):
    slug = lab.slug("nocreate")

    run = lab.run("launch", slug, bottle_environment=lab.environment(SMOLVM_STANDIN_FAIL="create"))

    assert run.rc != 0
    failure = run.failure()
    assert "smolvm machine create failed" in failure and "Error: injected failure" in failure, failure
    assert UNDO_FAILED not in failure, failure
    _nothing_left(lab, slug)


def test_database_locked_during_the_allowlist_step(lab):
    slug = lab.slug("locked")
    fifo = lab.fifo("lock")

    run = lab.start("launch", slug, bottle_smolvm_db_timeout=1,
                    bottle_environment=lab.environment(SMOLVM_STANDIN_LOCK_AFTER_CREATE=fifo))
    run.wait_for("fatal", ALLOWLIST_TASK, "stayed locked by another writer for 1 s")
    # The rescue's `machine delete` waits for the lock like any smolvm command; let it go now that
    # the allowlist step has failed.
    assert lab.release(fifo)
    rc = run.wait()

    assert rc != 0
    assert run.task_results(ALLOWLIST_TASK) == ["fatal"]
    assert not run.task_results(START_TASK)
    failure = run.failure()
    assert "stayed locked by another writer for 1 s" in failure, failure
    assert "is not proven" in failure, failure
    assert UNDO_FAILED not in failure, failure
    _nothing_left(lab, slug)
    assert lab.db_unlocked()


def _assert_caught_after_start(run, machine):
    """The launch started the VM, then failed at the re-read of its allowlist, saying the stored list
    differs, and its rescue undid what it had to."""
    assert run.rc != 0
    assert run.task_results(START_TASK) == ["changed"]
    assert run.task_results(READ_AGAIN_TASK) == ["fatal"]
    failure = run.failure()
    assert f"machine '{machine}' is running and its stored allowlist differs" in failure, failure
    assert UNDO_FAILED not in failure, failure


def test_allowlist_undone_between_patch_and_start(lab):
    slug = lab.slug("undone")

    run = lab.run("launch", slug,
                  bottle_environment=lab.environment(SMOLVM_STANDIN_UNDO_ALLOWLIST_ON_START="1"))

    assert run.task_results(ALLOWLIST_TASK) == ["changed"]
    _assert_caught_after_start(run, MACHINE.format(slug))
    # The hook really undid the patch: the VM booted unrestricted, and was deleted for it.
    assert lab.boot(slug)["allowed_cidrs"] is None
    assert lab.left(slug) == []


def test_allowlist_undone_on_a_vm_that_existed_before(lab):
    slug = lab.slug("undokept")
    machine = MACHINE.format(slug)
    assert lab.run("launch", slug).rc == 0
    assert lab.smolvm("machine", "stop", "--name", machine).returncode == 0

    run = lab.run("launch", slug,
                  bottle_environment=lab.environment(SMOLVM_STANDIN_UNDO_ALLOWLIST_ON_START="1"))

    _assert_caught_after_start(run, machine)
    # The VM, the bundle and its network existed before this run: kept, but the VM that booted
    # unrestricted is not left running.
    assert lab.boot(slug)["allowed_cidrs"] is None
    assert lab.left(slug) == ["container", "machine", "network"]
    assert lab.machines()[machine]["state"] == "stopped"
    # Stored as the other writer left it: the next launch patches it before it starts the VM.
    assert lab.machines()[machine]["allowed_cidrs"] is None


def _kill_at(lab, slug, subcommand):
    """Launch slug, SIGKILL the whole launch (ansible-playbook, its worker, the module and smolvm)
    once smolvm's `subcommand` is reached."""
    fifo = lab.fifo(f"block-{subcommand}")
    run = lab.start("launch", slug,
                    bottle_environment=lab.environment(SMOLVM_STANDIN_BLOCK=f"{subcommand}:{fifo}"))
    standin = lab.wait_for_hook(fifo, run)
    run.kill()
    assert run.wait() == -9
    assert not alive(standin), "smolvm outlived the launch"
    return run


@pytest.mark.parametrize("point", ["create", "start"])
def test_killed_launch_then_relaunch(lab, point):
    slug = lab.slug(f"kill{point}")

    _kill_at(lab, slug, point)

    lease = lab.lease(slug)
    assert lease is not None
    if point == "create":
        assert lab.left(slug) == ["container", "lease", "network"]
    else:
        assert lab.left(slug) == ["container", "lease", "machine", "network"]
        # Killed after the patch, before the start: the VM exists, confined, and never booted.
        record = lab.machines()[MACHINE.format(slug)]
        assert record["state"] == "created" and record["allowed_cidrs"] == [f"{lease['alias']}/32"]
        assert lab.boot(slug) is None

    run = lab.run("launch", slug)

    assert run.rc == 0, run.report()
    fact = lab.fact(slug)
    assert fact["alias"] == lease["alias"]
    assert lab.left(slug) == ["container", "machine", "network"]
    assert lab.machines()[MACHINE.format(slug)]["allowed_cidrs"] == [f"{lease['alias']}/32"]
    assert lab.boot(slug)["allowed_cidrs"] == [f"{lease['alias']}/32"]
    # Nothing of the killed launch is left over: the bottle is whole (cleanup leaves whole bottles
    # alone, test_killed_launch_reaped_by_cleanup runs it) and its lease is released.
    assert lab.leases() == []


def test_killed_launch_reaped_by_cleanup(lab):
    slug = lab.slug("reaped")

    _kill_at(lab, slug, "create")
    assert lab.left(slug) == ["container", "lease", "network"]

    # While its lease lives, the bottle may still be being launched: cleanup leaves it alone.
    cleanup = lab.run("cleanup")
    assert cleanup.rc == 0, cleanup.report()
    verdicts = cleanup.shown(CLEANUP_VERDICTS)
    assert verdicts["reaped"] == [], verdicts
    assert [(item["slug"], item["parts"]) for item in verdicts["left_alone"]] == [(slug, ["container", "network"])]
    assert "live alias lease" in verdicts["left_alone"][0]["reason"], verdicts
    assert lab.left(slug) == ["container", "lease", "network"]

    # Once the lease has run out (its TTL, 15 minutes by default, is not waited for here), the
    # dead launch's container and network are orphans, and cleanup reaps them with the lease.
    # Only Docker parts cleanup can prove this user's are reaped: the role labels them with its smolvm
    # DB; without that label (a role that does not set it yet) they are left alone, saying why.
    lab.expire_lease(slug)
    labelled = lab.container(slug).labels.get(OWNER_LABEL) == str(lab.db)
    cleanup = lab.run("cleanup")
    assert cleanup.rc == 0, cleanup.report()
    verdicts = cleanup.shown(CLEANUP_VERDICTS)
    if not labelled:
        assert verdicts["reaped"] == [], verdicts
        assert [item["slug"] for item in verdicts["left_alone"]] == [slug], verdicts
        assert "not in this user's smolvm state" in verdicts["left_alone"][0]["reason"], verdicts
        # The expired lease stays in the table (no allocation has pruned it); it holds nothing.
        assert lab.left(slug) == ["container", "lease", "network"]
        return
    assert verdicts == {"reaped": [{"slug": slug, "parts": ["container", "network"]}], "left_alone": []}
    assert lab.left(slug) == []

    run = lab.run("launch", slug)
    assert run.rc == 0, run.report()
    assert lab.left(slug) == ["container", "machine", "network"]


def test_killed_launch_torn_down_at_once(lab):
    # The user who killed a launch need not wait for its lease to run out: a teardown of the slug
    # removes what the dead launch left, the live lease included.
    slug = lab.slug("killtorn")
    _kill_at(lab, slug, "start")
    assert lab.left(slug) == ["container", "lease", "machine", "network"]

    teardown = lab.run("teardown", slug)

    assert teardown.rc == 0, teardown.report()
    assert lab.left(slug) == []
    assert lab.boot(slug) is None


BAD_INPUTS = {
    "slug": ({}, "cannot name the bottle's VM"),
    "smolmachine": (dict(bottle_smolmachine="/nonexistent/agent.smolmachine"),
                    "bottle_smolmachine=/nonexistent/agent.smolmachine is not a file"),
    "port": (dict(bottle_bundle_ports=[9099, 70000]), "must list distinct TCP ports from 1 to 65535"),
    "pool": (dict(bottle_pool_first="100.96.0.0", bottle_pool_last="100.96.0.14"),
             "the pool 100.96.0.0-100.96.0.14 overlaps 100.96.0.0/30"),
}


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_input_creates_nothing(lab, case):
    overrides, expected = BAD_INPUTS[case]
    slug = f"{lab.run_id}--bad" if case == "slug" else lab.slug(f"bad{case}")

    run = lab.run("launch", slug, **overrides)

    assert run.rc != 0
    failure = run.failure()
    assert expected in failure, failure
    assert lab.left(slug) == []
    # Not even the allocation's files or smolvm's database were touched.
    assert not lab.state.exists(), sorted(lab.state.iterdir())
    assert not lab.data.exists(), sorted(lab.data.iterdir())
