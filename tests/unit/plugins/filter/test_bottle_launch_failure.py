# Copyright: (c) 2026, bot-bottle developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The bottle_launch_failure filter: the message the bottle role's rescue fails with."""

from __future__ import annotations

import pytest

from ansible_collections.bot_bottle.smolmachines.plugins.filter.bottle_launch_failure import FilterModule

bottle_launch_failure = FilterModule().filters()["bottle_launch_failure"]

SKIPPED = {"changed": False, "skipped": True, "skip_reason": "Conditional result was False"}
UNDONE = {"changed": True}


def undo(*results):
    names = ["deleting VM bot-bottle-x", "stopping VM bot-bottle-x", "removing container bot-bottle-sidecars-x",
             "removing network bot-bottle-bundle-x", "releasing the alias lease"]
    return [{"what": name, "result": result} for name, result in zip(names, results)]


@pytest.mark.parametrize("undone", [None, [], undo(UNDONE, SKIPPED, UNDONE, UNDONE, UNDONE), undo(SKIPPED, SKIPPED)])
def test_the_step_and_its_error_when_the_undoing_worked(undone):
    message = bottle_launch_failure("Create the bundle network", {"failed": True, "msg": "Error connecting: refused"},
                                    undone)

    assert message == "Create the bundle network: Error connecting: refused"


def test_each_undoing_step_that_failed_is_named_in_order():
    message = bottle_launch_failure(
        "Start the VM and wait until the guest answers", {"failed": True, "msg": "smolvm machine start failed"},
        undo({"failed": True, "msg": "machine busy"}, SKIPPED, {"failed": True, "msg": "Error connecting"},
             UNDONE, {"failed": True}))

    assert message == ("Start the VM and wait until the guest answers: smolvm machine start failed (undoing this run "
                       "also failed: deleting VM bot-bottle-x: machine busy; removing container "
                       "bot-bottle-sidecars-x: Error connecting; releasing the alias lease: failed)")


@pytest.mark.parametrize("result", [{"failed": True}, {"failed": True, "msg": ""}, None])
def test_a_result_without_a_message_still_says_which_step_failed(result):
    assert bottle_launch_failure("Give the bottle its loopback alias", result) == "Give the bottle its loopback alias: failed"
