# Copyright: (c) 2026, bot-bottle developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The filters are controller code. Importing ansible-core's controller package (ansible.errors)
marks the whole process as the controller, after which a module tested in the same pytest worker
sends its warnings to the display instead of its result; the mark is put back as it was."""

from __future__ import annotations

from ansible.module_utils import _internal as module_utils_internal

_WAS_CONTROLLER = module_utils_internal.is_controller

import ansible.errors  # noqa: E402,F401 pylint: disable=unused-import,wrong-import-position

module_utils_internal.is_controller = _WAS_CONTROLLER
