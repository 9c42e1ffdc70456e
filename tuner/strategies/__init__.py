"""Search strategies by registry key."""

from tuner.strategies.base import SearchPolicy
from tuner.strategies.random import RandomSearch

STRATEGIES: dict[str, type[SearchPolicy]] = {"random": RandomSearch}

__all__ = ["STRATEGIES", "RandomSearch", "SearchPolicy"]
