"""Every study and trial attribute key manifold-search writes, in one place.

One scheme: ``manifold_search:<what>``. Keys written by earlier versions are
kept in ``LEGACY`` so studies made before the rename still read back;
``read_attr`` is the only way code should look a key up.

>>> read_attr({"manifold_search:network": {"key": "x"}}, RECORD)
{'key': 'x'}
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

PREFIX = "manifold_search:"

# trial attributes
RECORD = PREFIX + "record"  # reference to the stored representation (artifact id, shape, layer)
WEIGHTS = PREFIX + "weights"  # reference to the kept trained weights (safetensors artifact)
PLACEMENT = PREFIX + "placement"  # features, region score, PHATE coordinates on the manifold
PROPOSAL = PREFIX + "proposal"  # why the sampler proposed this trial (anchors, prediction)
WORKER = PREFIX + "worker"  # which process runs the trial (host, pid), for stale-trial recovery
ERROR = PREFIX + "error"  # the one-line error of a failed trial
TEST_VALUE = PREFIX + "test_value"  # held-out value of a benchmark trial
PRUNED_AT = PREFIX + "pruned_at"  # epoch at which a pruned trial's network was recorded
CLAIM = PREFIX + "claim"  # the configuration a proposal chose, written before any parameter is suggested

# study attributes
PROBE = PREFIX + "probe"  # fingerprint of the study's probe set
RUN = PREFIX + "run"  # the runner's plan (config, seed, target) for resume checks
ARTIFACTS = PREFIX + "artifacts"  # where records and weights live (a folder or an s3:// URL)
DROPPED = PREFIX + "dropped_records"  # broken records left off the manifold: {trial number: problem}
SPARSE = PREFIX + "sparse"  # sparse networks of the refine stage: {trial: {method: {sparsity: artifact}}}

LEGACY: dict[str, tuple[str, ...]] = {
    RECORD: (PREFIX + "network",),
    PLACEMENT: (PREFIX + "manifold",),
    ERROR: ("error",),
    TEST_VALUE: ("test_value",),
}


def read_attr(attrs: Mapping[str, Any], key: str, default: Any = None) -> Any:
    """``attrs[key]``, falling back to the key's legacy names, else ``default``."""
    if key in attrs:
        return attrs[key]
    for old in LEGACY.get(key, ()):
        if old in attrs:
            return attrs[old]
    return default
