import numpy as np
import pytest

from amorphdb.analysis.synthetic import random_walk_trajectory


@pytest.fixture(scope="session")
def rw_traj():
    """30 Li random walkers (D = 1e-4 cm²/s) + 70 vibrating O, 4000 frames of 2 fs."""
    return random_walk_trajectory(4000, D_cm2_s=1e-4, seed=11)


TRICLINIC = np.array([[12.0, 0.0, 0.0], [4.0, 11.0, 0.0], [-3.0, 2.0, 10.0]])
