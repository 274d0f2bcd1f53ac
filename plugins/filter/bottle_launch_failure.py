# Copyright: (c) 2026, bot-bottle developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: bottle_launch_failure
short_description: The message of a failed bottle launch, with whatever part of its undoing failed too
version_added: 0.1.0
author: bot-bottle developers
description:
  - "The rescue of the P(bot_bottle.smolmachines.bottle#role) role undoes what the failed launch created,
    then fails with this message: C(<step>: <its error>), followed by
    C(undoing this run also failed: <what>: <error>; ...) in parentheses when some of the undoing failed as well
    (for example because the Docker engine is gone)."
positional: _input, result
options:
  _input:
    description: The name of the step that failed (C(ansible_failed_task.name)).
    type: string
    required: true
  result:
    description: The failed step's result (C(ansible_failed_result)); its C(msg) is the error.
    type: dictionary
    required: true
  undone:
    description:
      - "The undoing steps, each C({what: <what it undid>, result: <its registered result>}); those whose
        result is failed are named."
    type: list
    elements: dictionary
    default: []
"""

EXAMPLES = r"""
---
- name: Fail with the error that stopped the launch
  ansible.builtin.fail:
    msg: >-
      {{ 'Create the bundle network' | bot_bottle.smolmachines.bottle_launch_failure(
           {'msg': 'Error connecting'},
           undone=[{'what': 'releasing the alias lease', 'result': {'failed': true, 'msg': 'lease file unreadable'}}]) }}
  # => Create the bundle network: Error connecting (undoing this run also failed: releasing the alias lease: lease file unreadable)
"""

RETURN = r"""
_value:
  description: The message.
  type: string
  sample: "Start the VM and wait until the guest answers: smolvm machine start failed (exit 1): ..."
"""

from ansible_collections.bot_bottle.smolmachines.plugins.plugin_utils.bottle_launch import launch_failure


def bottle_launch_failure(step, result, undone=None):
    return launch_failure(step, result, undone or ())


class FilterModule:
    def filters(self):
        return {"bottle_launch_failure": bottle_launch_failure}
