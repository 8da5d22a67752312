"""Looking at a detector: prior coverage and fitted priors, training logs, per-stage speed."""
