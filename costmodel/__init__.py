"""The cost model: features from the lowered IR and an XGBoost ranking model."""

from costmodel.features import N_FEATURES, feature_names, features
from costmodel.model import (
    CostModel,
    Sample,
    XGBoostModel,
    pairwise_accuracy,
    recall_at,
)

__all__ = [
    "N_FEATURES",
    "CostModel",
    "Sample",
    "XGBoostModel",
    "feature_names",
    "features",
    "pairwise_accuracy",
    "recall_at",
]
