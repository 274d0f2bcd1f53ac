# Copyright: (c) 2026, bot-bottle developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one result type every manager returns, and the one way a module exits with it."""

from __future__ import annotations


class ModuleResult:
    """What a manager found or did: `changed`, the module's return `facts`, the `diff` (returned in
    diff mode only) and `warnings` (shown through module.warn, not returned as a key)."""

    def __init__(self, changed, diff=None, warnings=(), **facts):
        self.changed = changed
        self.diff = diff
        self.warnings = list(warnings)
        self.facts = facts

    def as_dict(self, diff: bool = False) -> dict:
        result = dict(changed=self.changed, **self.facts)
        if diff and self.diff is not None:
            result["diff"] = self.diff
        return result


def exit_with(module, result: ModuleResult, **known) -> None:
    """Warn, then exit_json with the result; `known` are keys the module adds (smolvm_version...),
    and give way to the result's own of the same name."""
    for warning in result.warnings:
        module.warn(warning)
    module.exit_json(**dict(known, **result.as_dict(diff=module._diff)))
