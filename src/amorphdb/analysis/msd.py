"""Unwrapping, centre-of-mass drift and FFT mean-squared displacements.

All functions work on whole numpy arrays in blocks of frames or series, never one
Python object per frame, so a 100k-frame trajectory costs a few copies of the
positions of the atoms analysed.
"""

from __future__ import annotations

import warnings

import numpy as np
import scipy.fft
from pymatgen.core.periodic_table import Element

from amorphdb.analysis.errors import AnalysisError, AnalysisWarning
from amorphdb.analysis.trajectory import Trajectory

__all__ = [
    "SlopeKernel",
    "atomic_masses",
    "fft_length",
    "msd_direct",
    "msd_fft",
    "msd_from_spectrum",
    "power_spectra",
    "unwrapped_displacements",
    "unwrapped_series",
]

# _NO_BLAS_THREADS: products with an inner dimension of 3 or single vectors are done
# with numpy's own loops (stacked small matmuls, einsum), not one large BLAS call:
# multithreaded OpenBLAS on a busy machine spin-waits and was measured 200x slower
# (0.3 s instead of 1.5 ms for a (4096·100, 3) × (3, 3) product on 2 loaded cores).


def _dot(a: np.ndarray, v: np.ndarray) -> np.ndarray:
    """``a @ v`` over the last axis without BLAS threads (see _NO_BLAS_THREADS)."""
    return np.einsum("...i,i->...", a, v)


#: fraction of a cell per frame above which unwrapping becomes ambiguous
JUMP_WARN_FRACTION = 0.4


def atomic_masses(species: np.ndarray) -> np.ndarray:
    """Atomic mass of each atom, amu (pymatgen's element data)."""
    table = {}
    for s in np.unique(species):
        try:
            table[s] = float(Element(str(s)).atomic_mass)
        except ValueError as exc:
            raise AnalysisError(f"unknown element symbol {s!r}; use element symbols") from exc
    return np.array([table[s] for s in species])


def unwrapped_series(
    traj: Trajectory,
    atoms: np.ndarray,
    remove_drift: bool = True,
    chunk_frames: int = 1024,
) -> tuple[np.ndarray, np.ndarray, float]:
    """Unwrapped, drift-free displacements of ``atoms`` as time series.

    Same as :func:`unwrapped_displacements` but laid out ``(len(atoms), 3, n_frames)``
    (C-contiguous: each atom's x, y, z is one contiguous time series, the layout the
    FFT wants, so no transposed copy is needed).

    Frame-to-frame displacements are taken as the minimum image in the cell of the
    later frame: ``Δr = w(t+1) − w(t) − L(t+1)·round(L(t+1)⁻¹ (w(t+1) − w(t)))``
    (the "toroidal-view-preserving" scheme of von Bülow, Bullerjahn & Hummer,
    J. Chem. Phys. 153, 021101 (2020)); this is right for triclinic and for NPT
    cells, where unwrapping with lattice images (``w + L(t)·n``) inflates the MSD by
    the volume fluctuations. With a constant cell the image shifts come from float32
    fractional steps and the displacements are formed exactly as ``Δr − shift·L`` in
    float64 for the analysed atoms and the centre of mass only.

    Returns
    -------
    x
        ``(len(atoms), 3, n_frames)`` displacements from frame 0, Å.
    com
        ``(n_frames, 3)`` centre-of-mass displacement of all atoms, Å (zeros if not
        removed).
    max_jump_fraction
        Largest per-frame displacement as a fraction of a cell vector.
    """
    n_frames = traj.n_frames
    pos = traj.positions
    lat = traj.lattice
    constant = traj.is_constant_cell
    atoms = np.asarray(atoms)
    # a contiguous block of atoms (species usually are) is selected by a view
    contiguous = len(atoms) > 0 and np.array_equal(atoms, np.arange(atoms[0], atoms[-1] + 1))
    sel = slice(int(atoms[0]), int(atoms[-1]) + 1) if contiguous else atoms
    w = None
    if remove_drift:
        masses = atomic_masses(traj.species)
        w = masses / masses.sum()
    x = np.empty((len(atoms), 3, n_frames))
    x[:, :, 0] = 0.0
    com = np.zeros((n_frames, 3))
    if constant:
        max_jump = _unwrap_constant_cell(pos, lat, sel, w, chunk_frames, x, com)
    else:
        max_jump = _unwrap_variable_cell(pos, lat, sel, w, chunk_frames, x, com)
    if max_jump > JUMP_WARN_FRACTION:
        warnings.warn(
            f"an atom moved {max_jump:.2f} of a cell vector between two stored frames; "
            "unwrapping is ambiguous beyond 0.5 - save frames more often",
            AnalysisWarning,
            stacklevel=3,
        )
    return x, com, max_jump


def _scatter(index: np.ndarray, values: np.ndarray, size: int) -> np.ndarray:
    """``out[index] += values`` for repeated indices; ``values`` (m, 3) → (size, 3)."""
    return np.stack(
        [np.bincount(index, weights=values[:, j], minlength=size) for j in range(3)], axis=1
    )


def _unwrap_constant_cell(pos, lat, sel, w, chunk, x, com) -> float:
    """Constant cell: image shifts from float32 fractional steps of all atoms; the
    analysed atoms' and the centre of mass's steps exact in float64.

    All atoms are needed for the centre of mass, but only their integer image shifts
    ``rint(Δfrac)`` (exact in float32 unless a step is ~half a cell, which is flagged
    anyway; few are non-zero, so they are applied sparsely) and the weighted sum
    Σ w·r; the float64 steps ``Δr − shift·L`` are formed for the analysed atoms and
    the centre of mass only. Work is per block of ``chunk`` frames, so each all-atom
    array is touched once, in cache.
    """
    n_frames, n_all = pos.shape[:2]
    n_sel = x.shape[0]
    # position of each atom in the selection, -1 if not analysed
    where = np.full(n_all, -1)
    where[np.arange(n_all)[sel]] = np.arange(x.shape[0])
    inv32 = np.linalg.inv(lat).astype(np.float32)
    prev_f = np.matmul(pos[0], inv32, dtype=np.float32)
    prev_sel = np.asarray(pos[0, sel], dtype=np.float64)
    prev_w = np.matmul(w, np.asarray(pos[0], dtype=np.float64)) if w is not None else None
    carry = np.zeros(x.shape[:2])
    com_carry = np.zeros(3)
    max_jump = 0.0
    for start in range(1, n_frames, chunk):
        stop = min(start + chunk, n_frames)
        p = pos[start:stop]
        # fractional steps (stacked small products, see _NO_BLAS_THREADS)
        f = np.matmul(p, inv32, dtype=np.float32)
        d = np.empty_like(f)
        np.subtract(f[0], prev_f, out=d[0])
        np.subtract(f[1:], f[:-1], out=d[1:])
        prev_f = f[-1].copy()
        shift = np.rint(d)
        d -= shift
        max_jump = max(max_jump, float(d.max()), -float(d.min()))
        # the few image crossings of this block (1-D nonzero: fast; 3-D is not)
        flat = np.flatnonzero(shift != 0)
        fr, rest = np.divmod(flat, 3 * n_all)
        at, ax = np.divmod(rest, 3)
        jumps = shift.ravel()[flat].astype(np.float64)[:, None] * lat[ax]  # Cartesian, Å
        ps = np.asarray(p[:, sel], dtype=np.float64)
        step = np.empty_like(ps)
        np.subtract(ps[0], prev_sel, out=step[0])
        np.subtract(ps[1:], ps[:-1], out=step[1:])
        prev_sel = ps[-1].copy()
        k = where[at]
        mine = k >= 0
        if mine.any():
            step -= _scatter(fr[mine] * n_sel + k[mine], jumps[mine], len(step) * n_sel).reshape(
                step.shape
            )
        if w is not None:
            wp = np.matmul(w, np.asarray(p, dtype=np.float64))  # Σ w·r per frame
            cstep = np.empty_like(wp)
            np.subtract(wp[0], prev_w, out=cstep[0])
            np.subtract(wp[1:], wp[:-1], out=cstep[1:])
            prev_w = wp[-1].copy()
            if len(fr):
                cstep -= _scatter(fr, w[at][:, None] * jumps, len(cstep))
            step -= cstep[:, None, :]
            cm = np.cumsum(cstep, axis=0)
            cm += com_carry
            com_carry = cm[-1].copy()
            com[start:stop] = cm
        step = np.cumsum(step, axis=0)
        step += carry
        carry = step[-1].copy()
        x[:, :, start:stop] = step.transpose(1, 2, 0)
    return max_jump


def _unwrap_variable_cell(pos, lat, sel, w, chunk, x, com) -> float:
    """Variable (NPT) cell: Cartesian minimum-image steps in each later frame's cell."""
    n_frames = pos.shape[0]
    prev = np.asarray(pos[0], dtype=np.float64)
    carry = np.zeros(x.shape[:2])
    com_carry = np.zeros(3)
    max_jump = 0.0
    for start in range(1, n_frames, chunk):
        stop = min(start + chunk, n_frames)
        cur = np.asarray(pos[start:stop], dtype=np.float64)
        d = np.empty_like(cur)
        np.subtract(cur[0], prev, out=d[0])
        np.subtract(cur[1:], cur[:-1], out=d[1:])
        prev = cur[-1].copy()
        lats = lat[start:stop]
        frac = np.matmul(d, np.linalg.inv(lats))
        shift = np.rint(frac)
        frac -= shift
        d -= np.matmul(shift, lats)
        max_jump = max(max_jump, float(frac.max()), -float(frac.min()))
        step = d[:, sel].copy()
        if w is not None:
            cstep = np.matmul(w, d)
            step -= cstep[:, None, :]
            cm = np.cumsum(cstep, axis=0)
            cm += com_carry
            com_carry = cm[-1].copy()
            com[start:stop] = cm
        step = np.cumsum(step, axis=0)
        step += carry
        carry = step[-1].copy()
        x[:, :, start:stop] = step.transpose(1, 2, 0)
    return max_jump


def unwrapped_displacements(
    traj: Trajectory,
    atoms: np.ndarray,
    remove_drift: bool = True,
    chunk_frames: int = 1024,
) -> tuple[np.ndarray, np.ndarray, float]:
    """Displacements of ``atoms`` from frame 0, unwrapped, optionally drift-free.

    See :func:`unwrapped_series` for the method.

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
        ``(n_frames, len(atoms), 3)`` displacements, Å (``disp[0] == 0``; a
        transposed view of :func:`unwrapped_series`'s array).
    com
        ``(n_frames, 3)`` centre-of-mass displacement of all atoms, Å (zeros if not
        removed).
    max_jump_fraction
        Largest per-frame displacement as a fraction of a cell vector (> 0.5 is
        impossible to unwrap; a warning is issued above 0.4).
    """
    x, com, max_jump = unwrapped_series(traj, atoms, remove_drift, chunk_frames)
    return x.transpose(2, 0, 1), com, max_jump


def fft_length(n: int) -> int:
    """Zero-padded FFT length for autocorrelations of ``n`` samples (no wrap-around)."""
    return scipy.fft.next_fast_len(2 * n - 1, real=True)


def msd_from_spectrum(power: np.ndarray, sq: np.ndarray, nfft: int) -> np.ndarray:
    """MSD curves from the power spectra and squares of series.

    Parameters
    ----------
    power
        ``(..., nfft//2 + 1)`` |rfft(x, nfft)|² of each series (or a sum of them).
    sq
        ``(..., n)`` x² of the same series (or the same sum).
    nfft
        The FFT length used (``fft_length(n)``).
    """
    n = sq.shape[-1]
    s2 = scipy.fft.irfft(power, n=nfft, axis=-1)[..., :n]
    # Q(m) = 2 Σ sq − Σ_{k<m} (sq[k] + sq[n−1−k])
    q = np.empty(sq.shape)
    q[..., 0] = 0.0
    np.cumsum(sq[..., :-1] + sq[..., :0:-1], axis=-1, out=q[..., 1:])
    np.subtract(2.0 * sq.sum(axis=-1, keepdims=True), q, out=q)
    q -= 2.0 * s2
    q /= n - np.arange(n)
    np.maximum(q, 0.0, out=q)  # round-off at long lags
    q[..., 0] = 0.0
    return q


class SlopeKernel:
    """The OLS slope of MSD(t) over a lag window as a linear functional of a series.

    The MSD of a series x (n samples) at lag m is
    ``(Q(m) − 2·S2(m)) / (n − m)`` with ``S2 = irfft(|rfft(x)|²)`` and ``Q`` a running
    sum of x². The OLS slope over lags ``i0..i1`` is linear in the MSD, hence

        slope = x² · u − 2 · |rfft(x)|² · k

    with two weight vectors computed once (one FFT). So the per-atom, per-axis
    slopes need only the forward transforms, no inverse transform and no per-atom
    MSD curve; this is exact (same as fitting each atom's FFT MSD at every lag of
    the window) and is what makes the per-atom and block uncertainties nearly free.

    Parameters
    ----------
    n
        Samples per series.
    i0, i1
        First and last lag (inclusive) of the fit window, 1 ≤ i0 < i1 < n.
    dt
        Time between samples (the slope is per this unit).
    nfft
        FFT length of the spectra it will be applied to; default the shortest fast
        length ≥ n + i1 (enough for lags ≤ i1 without wrap-around, 35 % less work
        than the 2n needed for every lag when the window ends at 0.3 n).
    """

    def __init__(self, n: int, i0: int, i1: int, dt: float, nfft: int | None = None) -> None:
        if not 0 <= i0 < i1 < n:
            raise AnalysisError(f"slope window {i0}..{i1} outside lags 0..{n - 1}")
        self.n = n
        self.nfft = nfft if nfft is not None else scipy.fft.next_fast_len(n + i1, real=True)
        if self.nfft < n + i1:
            raise AnalysisError(f"nfft {self.nfft} < n + i1 = {n + i1} would alias lags")
        m = np.arange(i0, i1 + 1)
        tc = (m - m.mean()) * dt
        v = np.zeros(n)
        v[m] = tc / (tc @ tc) / (n - m)
        # Σ_m v_m Q(m) = Σ_k sq[k]·(2 V − W(k) − W(n−1−k)), W(k) = Σ_{m>k} v_m
        tail = np.concatenate([np.cumsum(v[::-1])[::-1][1:], [0.0]])
        self.u = 2.0 * v.sum() - tail - tail[::-1]
        # Σ_m v_m irfft(P)[m] = Σ_k P_k · c_k/N · Re(rfft(v))_k, c_k = 2 but 1 at k=0, N/2
        c = np.full(self.nfft // 2 + 1, 2.0)
        c[0] = 1.0
        if self.nfft % 2 == 0:
            c[-1] = 1.0
        self.k = c / self.nfft * scipy.fft.rfft(v, n=self.nfft).real

    def slopes(self, power: np.ndarray, x: np.ndarray) -> np.ndarray:
        """Slopes (unit²/dt) of each series (``x``, last axis) from its power spectrum."""
        return np.einsum("...i,...i,i->...", x, x, self.u) - 2.0 * _dot(power, self.k)

    def summed_slope(self, power_sum: np.ndarray, x: np.ndarray) -> float:
        """Sum of the slopes of all series ``x`` (…, n) from their spectra or partial sums."""
        xs = x.reshape(-1, x.shape[-1])
        sq_u = np.einsum("ai,ai,i->", xs, xs, self.u)
        return float(sq_u - 2.0 * _dot(power_sum, self.k).sum())


def power_spectra(x: np.ndarray, nfft: int, workers: int | None = None) -> tuple:
    """rfft of each series (last axis) and its power |F|², float64."""
    f = scipy.fft.rfft(x, n=nfft, axis=-1, workers=workers)
    p = f.real * f.real
    p += f.imag * f.imag
    return f, p


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
    nfft = fft_length(n)
    out = np.empty((n_series, n))
    for a in range(0, n_series, chunk):
        xs = np.asarray(x[a : a + chunk], dtype=np.float64)
        _, p = power_spectra(xs, nfft, workers)
        out[a : a + chunk] = msd_from_spectrum(p, xs * xs, nfft)
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
    if traj.n_frames < 3:
        n = traj.n_frames
        raise AnalysisError(
            f"the trajectory has {n} frame{'s' if n != 1 else ''}; diffusion needs many "
            "frames (at least hundreds over several ps)"
        )
