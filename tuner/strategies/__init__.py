"""Search strategies by registry key."""

from tuner.strategies.base import SearchPolicy
from tuner.strategies.evolutionary import Evolutionary, EvolutionConfig
from tuner.strategies.random import RandomSearch
from tuner.strategies.tpe import OptunaTPE

STRATEGIES: dict[str, type[SearchPolicy]] = {
    "evolutionary": Evolutionary,
    "random": RandomSearch,
    "optuna": OptunaTPE,
}
DEFAULT_STRATEGY = "evolutionary"

__all__ = [
    "DEFAULT_STRATEGY",
    "STRATEGIES",
    "EvolutionConfig",
    "Evolutionary",
    "OptunaTPE",
    "RandomSearch",
    "SearchPolicy",
]
