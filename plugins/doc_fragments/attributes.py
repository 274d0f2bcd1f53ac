# Copyright: (c) 2026, bot-bottle developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    """The attributes every module documents, described once; each module states its own support
    levels, and the fragments below say what several modules share."""

    # The descriptions; a module gives each attribute its support level (and details).
    DOCUMENTATION = r"""
options: {}
attributes:
  check_mode:
    description: Can run in C(check_mode) and return changed status prediction without modifying the target.
  diff_mode:
    description: Returns details on what has changed (or would change in C(check_mode)) when in diff mode.
  idempotent:
    description:
      - When run twice in a row outside check mode, with the same arguments, the second invocation indicates no change.
      - This assumes that the system controlled or queried by the module has not changed in a relevant way.
  platform:
    description: Target operating systems the module can be used against.
"""

    # A module that only reads: used together with the standard fragment.
    INFO_MODULE = r"""
options: {}
attributes:
  check_mode:
    support: full
    details:
      - This action does not modify state, so it runs in check mode as well.
  diff_mode:
    support: N/A
    details:
      - This action does not modify state.
  idempotent:
    support: full
    details:
      - This action does not modify state.
"""

    # The smolvm-facing modules: one C(module_defaults) group sets their shared options.
    ACTIONGROUP_SMOLVM = r"""
options: {}
attributes:
  action_group:
    description:
      - Use C(group/bot_bottle.smolmachines.smolvm) in C(module_defaults) to set the shared smolvm options
        (O(executable), O(state_dir), O(db_path), O(db_timeout)) once for every smolvm task of a play.
    support: full
    membership:
      - bot_bottle.smolmachines.smolvm
"""

    # Where smolvm itself runs.
    PLATFORM_SMOLVM = r"""
options: {}
attributes:
  platform:
    support: full
    platforms: posix
    details:
      - Wherever smolvm runs (Linux with KVM, macOS with Hypervisor.framework).
"""

    # The modules that take the allocation lock.
    PLATFORM_FLOCK = r"""
options: {}
attributes:
  platform:
    support: full
    platforms: posix
    details:
      - Needs C(fcntl.flock), so Linux, macOS and the BSDs.
"""
