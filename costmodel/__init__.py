"""Features from the loop-nest IR and the XGBoost cost model (issue 6; nothing here yet)."""
