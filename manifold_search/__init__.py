"""manifold-search: an Optuna sampler that searches the manifold of trained networks."""

from manifold_search.representations import (
    Probe,
    ProbeMismatchError,
    capture_representations,
    load_network,
    load_representation,
    record_network,
    record_representations,
)

__all__ = [
    "Probe",
    "ProbeMismatchError",
    "capture_representations",
    "load_network",
    "load_representation",
    "record_network",
    "record_representations",
]
__version__ = "0.1.0"

from manifold_search.sampler import ManifoldSampler  # noqa: E402

__all__ += ["ManifoldSampler"]
