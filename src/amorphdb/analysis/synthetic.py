"""Synthetic trajectories with a known diffusivity (tests, benchmarks, docs).

Diffusing atoms make Gaussian random walks: each Cartesian component moves by
N(0, 2·D·Δt) per frame, so MSD(t) = 6·D·t exactly in expectation. The other atoms
vibrate around fixed sites. 1 cm²/s = 10 Å²/fs.
"""

from __future__ import annotations

import numpy as np

from amorphdb.analysis.trajectory import Trajectory

__all__ = ["random_walk_trajectory"]


def random_walk_trajectory(
    n_frames: int,
    D_cm2_s: float = 1e-5,
    n_diffusing: int = 30,
    n_framework: int = 70,
    time_step_fs: float = 2.0,
    lattice: np.ndarray | None = None,
    drift_A_per_ps: tuple[float, float, float] = (0.0, 0.0, 0.0),
    npt_strain: float = 0.0,
    vibration_A: float = 0.1,
    diffusing: str = "Li",
    framework: str = "O",
    wrap: bool = True,
    seed: int = 0,
    dtype: type = np.float64,
) -> Trajectory:
    """A trajectory whose ``diffusing`` atoms have diffusivity ``D_cm2_s``.

    Parameters
    ----------
    n_frames
        Frames.
    D_cm2_s
        Diffusivity of the random walkers, cm²/s.
    n_diffusing, n_framework
        Atom counts.
    time_step_fs
        fs between frames.
    lattice
        Cell rows, Å (default: cubic 12 Å); may be triclinic.
    drift_A_per_ps
        A uniform velocity added to *every* atom (a flying-ice-cube/thermostat drift).
    npt_strain
        Amplitude of an isotropic, random-phase cell breathing (NPT); positions are
        scaled affinely with the cell every frame, as a barostat does.
    vibration_A
        Thermal vibration (Gaussian σ per axis, Å) of the framework atoms.
    wrap
        Store positions wrapped into the cell (as most codes write them).
    seed
        Random seed.
    dtype
        Position dtype.
    """
    rng = np.random.default_rng(seed)
    lat0 = np.eye(3) * 12.0 if lattice is None else np.asarray(lattice, dtype=float)
    n_atoms = n_diffusing + n_framework
    sigma = np.sqrt(2.0 * D_cm2_s * 10.0 * time_step_fs)  # Å per axis per frame
    steps = rng.normal(0.0, sigma, size=(n_frames, n_diffusing, 3))
    steps[0] = 0.0
    drift = np.asarray(drift_A_per_ps, dtype=float) * time_step_fs / 1000.0
    frac0 = rng.random((n_atoms, 3))
    if npt_strain:
        # smooth random breathing: scale factor 1 + strain * slowly varying noise
        noise = np.cumsum(rng.normal(0, 1, n_frames))
        noise = (noise - noise.mean()) / (np.abs(noise - noise.mean()).max() + 1e-12)
        scales = 1.0 + npt_strain * noise
        lats = scales[:, None, None] * lat0[None]
        pos = np.empty((n_frames, n_atoms, 3))
        w = frac0 @ lats[0]
        for f in range(n_frames):
            if f:
                # affine rescaling with the cell (barostat), then the random step
                w = w * (scales[f] / scales[f - 1])
                w[:n_diffusing] += steps[f]
                w += drift
            pos[f] = w
        lattice_out = lats
    else:
        base = frac0 @ lat0
        pos = np.empty((n_frames, n_atoms, 3))
        pos[:, :n_diffusing] = base[:n_diffusing] + np.cumsum(steps, axis=0)
        pos[:, n_diffusing:] = base[n_diffusing:]
        pos += np.arange(n_frames)[:, None, None] * drift
        lattice_out = lat0
        lats = None
    if vibration_A:
        pos[:, n_diffusing:] += rng.normal(0.0, vibration_A, size=(n_frames, n_framework, 3))
    if wrap:
        if lats is None:
            inv = np.linalg.inv(lat0)
            frac = pos @ inv
            pos = (frac - np.floor(frac)) @ lat0
        else:
            inv = np.linalg.inv(lats)
            frac = np.einsum("fai,fij->faj", pos, inv)
            pos = np.einsum("fai,fij->faj", frac - np.floor(frac), lats)
    species = [diffusing] * n_diffusing + [framework] * n_framework
    return Trajectory(
        species,
        pos.astype(dtype, copy=False),
        lattice_out,
        time_step_fs,
        metadata={"synthetic": True, "D_cm2_s": D_cm2_s, "seed": seed},
    )
