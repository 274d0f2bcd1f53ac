# Copyright: (c) 2026, bot-bottle developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A TEST-ONLY stdout callback: one JSON object per line for each task start, task result and the
final stats, as they happen, so that tests read events instead of the default callback's human
output. (ansible.builtin.json is a redirect to ansible.posix, which this build does not carry.)
Enable with ANSIBLE_CALLBACK_PLUGINS=<this directory> ANSIBLE_STDOUT_CALLBACK=event_lines."""

from __future__ import annotations

DOCUMENTATION = r"""
name: event_lines
type: stdout
short_description: One JSON line per task start, task result and the final stats (test fixture)
description: One JSON line per task start, task result and the final stats (test fixture).
"""

import json

from ansible.parsing.ajson import AnsibleJSONEncoder
from ansible.plugins.callback import CallbackBase


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "stdout"
    CALLBACK_NAME = "event_lines"

    def _emit(self, event, **fields):
        self._display.display(json.dumps(dict(event=event, **fields), cls=AnsibleJSONEncoder, sort_keys=True))

    def _result(self, status, result):
        self._emit("result", status=status, task=result.task_name, host=result._host.get_name(),
                   result=self._clean_results(result._result, result._task.action) or result._result)

    def v2_playbook_on_task_start(self, task, is_conditional):
        self._emit("task", task=task.get_name())

    def v2_runner_on_ok(self, result):
        self._result("changed" if result._result.get("changed") else "ok", result)

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._result("ignored" if ignore_errors else "fatal", result)

    def v2_runner_on_skipped(self, result):
        self._result("skipping", result)

    def v2_runner_on_unreachable(self, result):
        self._result("unreachable", result)

    def v2_playbook_on_stats(self, stats):
        self._emit("stats", hosts={host: stats.summarize(host) for host in sorted(stats.processed)})
