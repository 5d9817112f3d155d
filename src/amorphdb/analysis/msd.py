"""Unwrapping, centre-of-mass drift and FFT mean-squared displacements.

All functions work on whole numpy arrays in blocks of frames or series, never one
Python object per frame, so a 100k-frame trajectory costs a few copies of the
positions of the atoms analysed.
"""

from __future__ import annotations

import warnings

import numpy as np
import scipy.fft

from amorphdb.analysis.errors import AnalysisError, AnalysisWarning
from amorphdb.analysis.trajectory import Trajectory

__all__ = [
    "atomic_masses",
    "msd_direct",
    "msd_fft",
    "unwrapped_displacements",
]

#: fraction of a cell per frame above which unwrapping becomes ambiguous
JUMP_WARN_FRACTION = 0.4


def atomic_masses(species: np.ndarray) -> np.ndarray:
    """Atomic mass of each atom, amu (pymatgen's element data)."""
    from pymatgen.core.periodic_table import Element

    table = {}
    for s in np.unique(species):
        try:
            table[s] = float(Element(str(s)).atomic_mass)
        except ValueError as exc:
            raise AnalysisError(f"unknown element symbol {s!r}; use element symbols") from exc
    return np.array([table[s] for s in species])


def unwrapped_displacements(
    traj: Trajectory,
    atoms: np.ndarray,
    remove_drift: bool = True,
    chunk_frames: int = 4096,
) -> tuple[np.ndarray, np.ndarray, float]:
    """Displacements of ``atoms`` from frame 0, unwrapped, optionally drift-free.

    Frame-to-frame displacements are taken as the minimum image in the cell of the
    later frame: ``Δr = w(t+1) − w(t) − L(t+1)·round(L(t+1)⁻¹ (w(t+1) − w(t)))``
    (the "toroidal-view-preserving" scheme of von Bülow, Bullerjahn & Hummer,
    J. Chem. Phys. 153, 021101 (2020)); this is right for triclinic cells and for
    NPT cells, where unwrapping with lattice images (``w + L(t)·n``) inflates the MSD
    by the volume fluctuations. Input positions may be wrapped or already unwrapped.

    Parameters
    ----------
    traj
        The trajectory.
    atoms
        Indices of the atoms whose displacements are returned.
    remove_drift
        Subtract the mass-weighted centre-of-mass displacement of *all* atoms (works
        with or without an immobile framework, e.g. in a melt).
    chunk_frames
        Frames processed per block.

    Returns
    -------
    disp
        ``(n_frames, len(atoms), 3)`` displacements, Å (``disp[0] == 0``).
    com
        ``(n_frames, 3)`` centre-of-mass displacement of all atoms, Å (zeros if not
        removed).
    max_jump_fraction
        Largest per-frame displacement as a fraction of a cell vector (> 0.5 is
        impossible to unwrap; a warning is issued above 0.4).
    """
    n_frames = traj.n_frames
    pos = traj.positions
    lat = traj.lattice
    constant = traj.is_constant_cell
    masses = atomic_masses(traj.species) if remove_drift else None
    mass_frac = masses / masses.sum() if masses is not None else None
    disp = np.zeros((n_frames, len(atoms), 3))
    com = np.zeros((n_frames, 3))
    inv_const = np.linalg.inv(lat) if constant else None
    max_jump = 0.0
    for start in range(1, n_frames, chunk_frames):
        stop = min(start + chunk_frames, n_frames)
        dr = np.asarray(pos[start:stop], dtype=np.float64) - pos[start - 1 : stop - 1]
        if constant:
            frac = dr @ inv_const
            shift = np.rint(frac)
            frac -= shift
            dr -= shift @ lat
        else:
            inv = np.linalg.inv(lat[start:stop])
            frac = np.einsum("fai,fij->faj", dr, inv)
            shift = np.rint(frac)
            frac -= shift
            dr -= np.einsum("fai,fij->faj", shift, lat[start:stop])
        max_jump = max(max_jump, float(np.abs(frac).max()))
        if mass_frac is not None:
            com[start:stop] = np.einsum("fai,a->fi", dr, mass_frac)
        disp[start:stop] = dr[:, atoms]
    np.cumsum(disp, axis=0, out=disp)
    if mass_frac is not None:
        np.cumsum(com, axis=0, out=com)
        disp -= com[:, None, :]
    if max_jump > JUMP_WARN_FRACTION:
        warnings.warn(
            f"an atom moved {max_jump:.2f} of a cell vector between two stored frames; "
            "unwrapping is ambiguous beyond 0.5 - save frames more often",
            AnalysisWarning,
            stacklevel=2,
        )
    return disp, com, max_jump


def msd_fft(x: np.ndarray, chunk: int = 64, workers: int | None = None) -> np.ndarray:
    """MSD of each series over all lags, by FFT (O(N log N)).

    Uses MSD(m) = S1(m) − 2·S2(m) with S2 the autocorrelation (Wiener–Khinchin) and
    S1 from running sums of squares (Calandrini et al., Collection SFN 12, 201 (2011)).

    Parameters
    ----------
    x
        ``(n_series, n_frames)`` coordinates (e.g. one atom's x), any unit.
    chunk
        Series transformed at once (bounds the FFT work memory).
    workers
        FFT threads (scipy.fft).

    Returns
    -------
    ``(n_series, n_frames)`` MSD at lags 0..n_frames−1 (unit²), averaged over all
    time origins.
    """
    x = np.atleast_2d(x)
    n_series, n = x.shape
    nfft = scipy.fft.next_fast_len(2 * n - 1, real=True)
    norm = n - np.arange(n)
    out = np.empty((n_series, n))
    for a in range(0, n_series, chunk):
        xs = np.asarray(x[a : a + chunk], dtype=np.float64)
        f = scipy.fft.rfft(xs, n=nfft, axis=1, workers=workers)
        np.multiply(f, f.conj(), out=f)
        s2 = scipy.fft.irfft(f, n=nfft, axis=1, workers=workers)[:, :n]
        del f
        sq = xs * xs
        # Q(m) = 2 Σ sq − Σ_{k<m} (sq[k] + sq[n−1−k])
        q = 2.0 * sq.sum(axis=1, keepdims=True) - np.concatenate(
            [np.zeros((xs.shape[0], 1)), np.cumsum(sq[:, :-1] + sq[:, :0:-1], axis=1)], axis=1
        )
        out[a : a + chunk] = (q - 2.0 * s2) / norm
    np.maximum(out, 0.0, out=out)  # round-off at long lags
    out[:, 0] = 0.0
    return out


def msd_direct(x: np.ndarray) -> np.ndarray:
    """MSD of each series by the O(N²) definition (reference for tests)."""
    x = np.atleast_2d(np.asarray(x, dtype=np.float64))
    n = x.shape[1]
    out = np.zeros(x.shape)
    for m in range(1, n):
        d = x[:, m:] - x[:, :-m]
        out[:, m] = (d * d).mean(axis=1)
    return out


def check_frames(traj: Trajectory) -> None:
    """Raise if the trajectory cannot give an MSD."""
    if traj.n_frames < 2:
        raise AnalysisError(
            f"the trajectory has {traj.n_frames} frame; diffusion needs many frames "
            "(at least hundreds over several ps)"
        )
