"""berth: one git worktree, one isolated development environment."""

__version__ = "0.1.0"
