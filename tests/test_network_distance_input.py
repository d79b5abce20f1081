"""network_distance refuses representations: it compares diffusion operators only."""

import numpy as np
import pytest

from manifold_search.geometry import diffusion_operator, network_distance


def test_representations_are_refused_with_the_fix():
    rng = np.random.default_rng(0)
    wide, narrow, same = rng.normal(size=(128, 32)), rng.normal(size=(128, 8)), rng.normal(size=(128, 32))
    for a, b in ((wide, narrow), (wide, same)):  # different widths, and the same width
        with pytest.raises(ValueError, match=r"diffusion_operator\(representation\)"):
            network_distance(a, b)
    square = rng.normal(size=(16, 16))  # square, but not a Markov matrix
    with pytest.raises(ValueError, match="second argument"):
        network_distance(diffusion_operator(wide[:16]), square)
    assert network_distance(diffusion_operator(wide), diffusion_operator(same)) > 0
    with pytest.raises(ValueError, match="same probe set"):
        network_distance(diffusion_operator(wide), diffusion_operator(wide[:10]))
