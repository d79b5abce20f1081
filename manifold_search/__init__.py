"""manifold-search: an Optuna sampler that searches the manifold of trained networks."""

from manifold_search.embedding import align_to, phate_embedding
from manifold_search.features import diagram_distance, network_features
from manifold_search.geometry import diffusion_operator, network_distance, network_distances
from manifold_search.manifold import NetworkManifold
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
    "NetworkManifold",
    "Probe",
    "ProbeMismatchError",
    "align_to",
    "capture_representations",
    "diagram_distance",
    "diffusion_operator",
    "load_network",
    "load_representation",
    "network_distance",
    "network_distances",
    "network_features",
    "phate_embedding",
    "record_network",
    "record_representations",
]
__version__ = "0.1.0"

from manifold_search.sampler import ManifoldSampler  # noqa: E402

__all__ += ["ManifoldSampler"]
