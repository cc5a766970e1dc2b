"""The variables git sets for hooks, and an environment without them.

Inherited, they would point every git call at the repository that ran the
hook instead of the one asked about, and they are not for the user's commands.
Standard library only: the hook path imports this.
"""

from __future__ import annotations

import os

GIT_ENV = ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_COMMON_DIR", "GIT_PREFIX")


def clean_env() -> dict[str, str]:
    """This process's environment without git's hook variables."""
    return {k: v for k, v in os.environ.items() if k not in GIT_ENV}
