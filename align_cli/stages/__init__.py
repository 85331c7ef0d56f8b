"""The pipeline stages, one module each, in the order a pair goes through them:
subwords → batching → attention (or hidden_states) → aggregation → extraction → symmetrize."""
