"""A light trajectory container: numpy arrays, no per-frame Python objects.

:class:`Trajectory` holds one symbol per atom, Cartesian positions (Å, wrapped or
unwrapped), the cell (constant ``(3, 3)`` or per frame ``(n_frames, 3, 3)``, Å), and
the time between stored frames (fs). It converts to and from pymatgen and ASE, reads
the usual MD files (:mod:`amorphdb.analysis.readers`), and serialises compactly
(MSONable) so jobflow can keep it in a JobStore data store.

Why not pymatgen's ``Trajectory``: it stores fractional coordinates and builds a
``Structure`` per frame on iteration; the analysis here works on whole arrays.
"""

from __future__ import annotations

import base64
import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from monty.json import MSONable

from amorphdb.analysis.errors import AnalysisError

__all__ = ["Trajectory", "decode_array", "encode_array", "json_safe"]


def json_safe(value: Any) -> Any:
    """NaN/inf → None, recursively through dicts/lists (strict JSON has no NaN)."""
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value


def encode_array(array: np.ndarray, dtype: str | None = None) -> dict[str, Any]:
    """Encode an array as zlib-compressed, base64 bytes (JSON/BSON friendly).

    Parameters
    ----------
    array
        The array to encode.
    dtype
        Store as this dtype (e.g. ``"float32"``); default: the array's own dtype.
    """
    arr = np.ascontiguousarray(array, dtype=dtype)
    if arr.dtype.kind == "U":  # strings: store as a JSON list
        return {"dtype": str(arr.dtype), "shape": list(arr.shape), "list": arr.ravel().tolist()}
    data = base64.b64encode(zlib.compress(arr.astype(arr.dtype.newbyteorder("<")).tobytes(), 6))
    return {"dtype": arr.dtype.str, "shape": list(arr.shape), "zlib_b64": data.decode("ascii")}


def decode_array(encoded: dict[str, Any]) -> np.ndarray:
    """Inverse of :func:`encode_array`."""
    shape = tuple(encoded["shape"])
    if "list" in encoded:
        return np.array(encoded["list"], dtype=encoded["dtype"]).reshape(shape)
    raw = zlib.decompress(base64.b64decode(encoded["zlib_b64"]))
    return np.frombuffer(raw, dtype=np.dtype(encoded["dtype"])).reshape(shape).copy()


class Trajectory(MSONable):
    """Positions of atoms over time in a periodic cell.

    Parameters
    ----------
    species
        One element symbol per atom (``n_atoms``).
    positions
        Cartesian positions, Å, shape ``(n_frames, n_atoms, 3)``; wrapped into the
        cell or unwrapped, both are fine (the analysis unwraps from fractional
        differences). ``float32`` input is kept as ``float32`` to save memory.
    lattice
        Cell vectors as rows, Å: ``(3, 3)`` for a constant cell or
        ``(n_frames, 3, 3)`` for a variable (NPT) cell. A per-frame array whose frames
        are all identical is stored as one constant cell.
    time_step
        Time between stored frames, fs (MD time step × dump interval), > 0.
    velocities
        Optional velocities, Å/fs: ``(n_frames, n_atoms, 3)`` or ``(n_atoms, 3)``
        (the last frame only, e.g. to restart).
    metadata
        Free-form provenance (source file, temperature_K, engine, ...).

    Notes
    -----
    ``lattice`` returns what is stored: ``(3, 3)`` when :attr:`is_constant_cell`,
    else ``(n_frames, 3, 3)``; :attr:`lattices` always returns ``(n_frames, 3, 3)``
    (a broadcast view, no copy). A one-frame trajectory is accepted (a snapshot for
    structure analysis); diffusion analysis needs at least two frames.
    """

    def __init__(
        self,
        species: Sequence[str],
        positions: np.ndarray,
        lattice: np.ndarray,
        time_step: float,
        velocities: np.ndarray | None = None,
        metadata: dict | None = None,
    ) -> None:
        pos = np.asarray(positions)
        if pos.dtype not in (np.float32, np.float64):
            try:
                pos = pos.astype(np.float64)
            except (TypeError, ValueError) as exc:
                raise AnalysisError(
                    f"positions are not numbers ({exc}); pass a float array"
                ) from exc
        if pos.ndim == 2:
            pos = pos[None]
        if pos.ndim != 3 or pos.shape[-1] != 3:
            raise AnalysisError(
                f"positions have shape {pos.shape}; expected (n_frames, n_atoms, 3) in Å"
            )
        n_frames, n_atoms = pos.shape[:2]
        if n_frames == 0 or n_atoms == 0:
            raise AnalysisError(
                f"the trajectory is empty ({n_frames} frames, {n_atoms} atoms); "
                "give at least one frame with one atom"
            )
        spec = np.asarray([str(s) for s in species])
        if spec.shape != (n_atoms,):
            raise AnalysisError(
                f"{spec.size} species for {n_atoms} atoms; give one element symbol per atom"
            )
        if not np.isfinite(pos).all():
            bad = np.argwhere(~np.isfinite(pos).all(axis=2))[0]
            raise AnalysisError(
                f"non-finite position (NaN/inf) at frame {bad[0]}, atom {bad[1]}; "
                "remove the broken frames (e.g. slice the trajectory) before analysis"
            )
        lat = np.asarray(lattice, dtype=np.float64)
        if lat.shape == (3, 3):
            pass
        elif lat.shape == (n_frames, 3, 3):
            if np.all(lat == lat[:1]):
                lat = lat[0].copy()
        else:
            raise AnalysisError(
                f"lattice has shape {lat.shape}; expected (3, 3) or ({n_frames}, 3, 3) in Å"
            )
        if not np.isfinite(lat).all():
            raise AnalysisError("the lattice contains NaN/inf; give finite cell vectors in Å")
        dets = np.linalg.det(lat)
        if np.any(np.abs(dets) < 1e-8):
            raise AnalysisError(
                "the lattice is singular (zero volume); give three independent cell vectors"
            )
        try:
            dt = float(time_step)
        except (TypeError, ValueError) as exc:
            raise AnalysisError(
                f"time_step {time_step!r} is not a number; give fs between frames"
            ) from exc
        if not np.isfinite(dt) or dt <= 0:
            raise AnalysisError(
                f"time_step must be > 0 fs between stored frames, got {time_step!r}"
            )
        vel = None
        if velocities is not None:
            vel = np.asarray(velocities)
            if vel.shape not in ((n_frames, n_atoms, 3), (n_atoms, 3)):
                raise AnalysisError(
                    f"velocities have shape {vel.shape}; expected ({n_frames}, {n_atoms}, 3) "
                    f"or ({n_atoms}, 3) in Å/fs"
                )
            if vel.dtype not in (np.float32, np.float64):
                vel = vel.astype(np.float64)
        self._species = spec
        self._positions = pos
        self._lattice = lat
        self._time_step = dt
        self._velocities = vel
        self.metadata: dict = dict(metadata or {})

    # ------------------------------------------------------------------ properties
    @property
    def n_frames(self) -> int:
        """Number of stored frames."""
        return self._positions.shape[0]

    @property
    def n_atoms(self) -> int:
        """Number of atoms."""
        return self._positions.shape[1]

    @property
    def species(self) -> np.ndarray:
        """Element symbol of each atom, ``(n_atoms,)`` array of str."""
        return self._species

    @property
    def positions(self) -> np.ndarray:
        """Cartesian positions, Å, ``(n_frames, n_atoms, 3)`` (as given: wrapped or not)."""
        return self._positions

    @property
    def lattice(self) -> np.ndarray:
        """Cell vectors as rows, Å: ``(3, 3)`` if constant, else ``(n_frames, 3, 3)``."""
        return self._lattice

    @property
    def lattices(self) -> np.ndarray:
        """Cell vectors of every frame, Å, ``(n_frames, 3, 3)`` (read-only view)."""
        if self._lattice.ndim == 2:
            return np.broadcast_to(self._lattice, (self.n_frames, 3, 3))
        return self._lattice

    @property
    def is_constant_cell(self) -> bool:
        """True when every frame has the same cell (NVT/NVE)."""
        return self._lattice.ndim == 2

    @property
    def time_step(self) -> float:
        """Time between stored frames, fs."""
        return self._time_step

    @property
    def times_ps(self) -> np.ndarray:
        """Time of each frame from the first, ps."""
        return np.arange(self.n_frames) * (self._time_step / 1000.0)

    @property
    def duration_ps(self) -> float:
        """Time from the first to the last frame, ps."""
        return (self.n_frames - 1) * self._time_step / 1000.0

    @property
    def volume_A3(self) -> np.ndarray:
        """Cell volume of every frame, Å³, ``(n_frames,)``."""
        vol = np.abs(np.linalg.det(self._lattice))
        return np.full(self.n_frames, vol) if self.is_constant_cell else vol

    @property
    def velocities(self) -> np.ndarray | None:
        """Velocities, Å/fs, if known."""
        return self._velocities

    @property
    def symbols(self) -> list[str]:
        """Distinct element symbols in order of first appearance."""
        _, idx = np.unique(self._species, return_index=True)
        return [str(self._species[i]) for i in sorted(idx)]

    def indices(self, species: str | Sequence[str]) -> np.ndarray:
        """Indices of the atoms of one or more elements (raises if none present)."""
        wanted = [species] if isinstance(species, str) else list(species)
        missing = [s for s in wanted if s not in set(self._species.tolist())]
        if missing:
            raise AnalysisError(
                f"species {', '.join(missing)} not in the trajectory (present: "
                f"{', '.join(self.symbols)}); choose one of those"
            )
        return np.flatnonzero(np.isin(self._species, wanted))

    def __len__(self) -> int:
        return self.n_frames

    def __repr__(self) -> str:
        counts = ", ".join(f"{s}{int(np.sum(self._species == s))}" for s in self.symbols)
        cell = "constant cell" if self.is_constant_cell else "variable cell"
        return (
            f"Trajectory({counts}; {self.n_frames} frames every {self._time_step:g} fs "
            f"= {self.duration_ps:g} ps; {cell})"
        )

    # ------------------------------------------------------------------ frames
    def _replace(self, frames: slice | np.ndarray, time_step: float) -> Trajectory:
        lat = self._lattice if self.is_constant_cell else self._lattice[frames]
        vel = self._velocities
        if vel is not None and vel.ndim == 3:
            vel = vel[frames]
        return Trajectory(
            self._species, self._positions[frames], lat, time_step, vel, dict(self.metadata)
        )

    def __getitem__(self, item: slice) -> Trajectory:
        """Frames ``item`` (a slice with positive step) as a new trajectory (views, no copy)."""
        if not isinstance(item, slice):
            raise AnalysisError(
                "index a Trajectory with a slice (traj[100:], traj[::10]); "
                "use frame_structure(i) for one frame"
            )
        step = 1 if item.step is None else int(item.step)
        if step <= 0:
            raise AnalysisError("frame slices need a positive step (time runs forward)")
        idx = range(self.n_frames)[item]
        if len(idx) == 0:
            raise AnalysisError(f"slice {item} selects no frame of {self.n_frames}")
        return self._replace(item, self._time_step * step)

    def subsample(self, every: int) -> Trajectory:
        """Keep every ``every``-th frame (the time step grows accordingly)."""
        if int(every) < 1:
            raise AnalysisError(f"subsample every must be >= 1, got {every}")
        return self[:: int(every)]

    def concatenate(self, other: Trajectory, drop_duplicate: bool = True) -> Trajectory:
        """Append a later segment of the same run (continuous time).

        Parameters
        ----------
        other
            The next segment: same atoms in the same order and the same time step.
        drop_duplicate
            Drop ``other``'s first frame when it repeats this trajectory's last frame
            (restarted runs often write the restart frame twice).
        """
        if not np.array_equal(self._species, other._species):
            raise AnalysisError("cannot concatenate: the two segments have different atoms/order")
        if not np.isclose(self._time_step, other._time_step, rtol=1e-6):
            raise AnalysisError(
                f"cannot concatenate: time steps differ ({self._time_step} vs "
                f"{other._time_step} fs); subsample one segment first"
            )
        start = 0
        if (
            drop_duplicate
            and other.n_frames > 1
            and np.allclose(other._positions[0], self._positions[-1], atol=1e-6)
        ):
            start = 1
        pos = np.concatenate([self._positions, other._positions[start:]])
        if (
            self.is_constant_cell
            and other.is_constant_cell
            and np.array_equal(self._lattice, other._lattice)
        ):
            lat = self._lattice
        else:
            lat = np.concatenate([self.lattices, other.lattices[start:]])
        vel = None
        if (
            self._velocities is not None
            and other._velocities is not None
            and self._velocities.ndim == 3
            and other._velocities.ndim == 3
        ):
            vel = np.concatenate([self._velocities, other._velocities[start:]])
        elif other._velocities is not None and other._velocities.ndim == 2:
            vel = other._velocities
        return Trajectory(self._species, pos, lat, self._time_step, vel, dict(self.metadata))

    def frame_structure(self, i: int = -1):
        """Frame ``i`` as a pymatgen ``Structure`` (positions wrapped into the cell)."""
        from pymatgen.core import Lattice, Structure

        return Structure(
            Lattice(self.lattices[i]),
            self._species.tolist(),
            np.asarray(self._positions[i], dtype=np.float64),
            coords_are_cartesian=True,
            to_unit_cell=True,
        )

    def to_pymatgen_structures(self) -> list:
        """Every frame as a pymatgen ``Structure`` (slow for long runs: one object per frame)."""
        return [self.frame_structure(i) for i in range(self.n_frames)]

    def to_ase(self, i: int = -1):
        """Frame ``i`` as an ASE ``Atoms`` (periodic)."""
        from ase import Atoms

        return Atoms(
            symbols=self._species.tolist(),
            positions=np.asarray(self._positions[i], dtype=np.float64),
            cell=self.lattices[i],
            pbc=True,
        )

    # ------------------------------------------------------------------ constructors
    @classmethod
    def from_pymatgen(cls, trajectory, time_step: float | None = None) -> Trajectory:
        """From a pymatgen ``Trajectory`` or a list of ``Structure`` objects.

        Parameters
        ----------
        trajectory
            ``pymatgen.core.trajectory.Trajectory`` (its ``time_step`` is used when
            ``time_step`` is None) or a sequence of ``Structure`` with the same atoms.
        time_step
            fs between frames.
        """
        from pymatgen.core.trajectory import Trajectory as PmgTrajectory

        if isinstance(trajectory, PmgTrajectory):
            frac = np.asarray(trajectory.coords, dtype=np.float64)
            if trajectory.coords_are_displacement:
                base = np.asarray(trajectory.base_positions, dtype=np.float64)
                frac = base[None] + np.cumsum(frac, axis=0)
            lat = np.asarray(trajectory.lattice, dtype=np.float64)
            pos = frac @ lat if lat.ndim == 2 else np.einsum("fai,fij->faj", frac, lat)
            species = [getattr(s, "symbol", None) or str(s) for s in trajectory.species]
            dt = time_step if time_step is not None else trajectory.time_step
            if dt is None:
                raise AnalysisError(
                    "the pymatgen Trajectory has no time_step; pass time_step= (fs between frames)"
                )
            return cls(species, pos, lat, dt, metadata={"source": "pymatgen.Trajectory"})
        structures = list(trajectory)
        if not structures:
            raise AnalysisError("no structures given; pass at least one pymatgen Structure")
        if time_step is None:
            raise AnalysisError("pass time_step= (fs between the structures)")
        species = [site.specie.symbol for site in structures[0]]
        pos = np.stack([s.cart_coords for s in structures])
        lat = np.stack([s.lattice.matrix for s in structures])
        return cls(species, pos, lat, time_step, metadata={"source": "pymatgen.Structure list"})

    @classmethod
    def from_ase(cls, images, time_step: float) -> Trajectory:
        """From a list (or ASE trajectory) of ``Atoms`` with the same atoms; fs between frames."""
        images = list(images)
        if not images:
            raise AnalysisError("no ASE Atoms given; pass at least one frame")
        species = images[0].get_chemical_symbols()
        pos = np.stack([a.get_positions() for a in images])
        lat = np.stack([np.asarray(a.get_cell()) for a in images])
        vel = None
        if all(a.has("momenta") for a in images):
            from ase import units

            # ASE velocities are in Å / (ASE time unit); 1 fs = units.fs
            vel = np.stack([a.get_velocities() for a in images]) * units.fs
        return cls(species, pos, lat, time_step, vel, metadata={"source": "ase"})

    @classmethod
    def from_file(
        cls,
        path: str | Path,
        format: str | None = None,
        frame_interval_fs: float | None = None,
        timestep_fs: float | None = None,
        nblock: int | None = None,
        **kwargs: Any,
    ) -> Trajectory:
        """Read a trajectory file; see :func:`amorphdb.analysis.readers.read_trajectory`.

        Parameters
        ----------
        path
            XDATCAR, vasprun.xml, extended XYZ, LAMMPS dump (text), ASE ``.traj`` or
            any format ASE reads; ``.gz``/``.bz2``/``.xz`` read transparently.
        format
            ``"xdatcar"``, ``"vasprun"``, ``"extxyz"``, ``"lammps-dump"``, ``"traj"``
            or an ``ase.io`` format name; guessed when None.
        frame_interval_fs
            fs between stored frames (``--frame-interval-fs``).
        timestep_fs, nblock
            MD time step (fs) and MD steps between stored frames (``--timestep-fs``,
            ``--nblock``); either these or ``frame_interval_fs``, not both. XDATCAR:
            POTIM and NBLOCK are read from an OUTCAR/vasprun.xml/INCAR next to it;
            LAMMPS dumps: the steps between frames from the ``TIMESTEP`` items.
        **kwargs
            Reader options (``type_map`` for LAMMPS dumps with a ``type`` column,
            ``time_step`` = old name of ``frame_interval_fs``, ...).
        """
        from amorphdb.analysis.readers import read_trajectory

        f = read_trajectory(
            path,
            format=format,
            frame_interval_fs=frame_interval_fs,
            timestep_fs=timestep_fs,
            nblock=nblock,
            **kwargs,
        )
        return cls(f.species, f.positions, f.lattice, f.frame_interval_fs, metadata=f.metadata)

    # ------------------------------------------------------------------ serialisation
    def as_dict(self, float64: bool | None = None) -> dict[str, Any]:
        """JSON-able dict with compressed arrays.

        Positions and velocities are stored as float32 by default (resolution about
        1e-5 Å for coordinates up to ~100 Å, far below thermal motion), or float64 when
        ``float64=True`` or ``metadata["store_float64"]`` is true. Lattices are float64.
        """
        if float64 is None:
            float64 = bool(self.metadata.get("store_float64", False))
        fdt = "float64" if float64 else "float32"
        out: dict[str, Any] = {
            "@module": type(self).__module__,
            "@class": type(self).__name__,
            "species": self._species.tolist(),
            "positions": encode_array(self._positions, fdt),
            "lattice": encode_array(self._lattice, "float64"),
            "time_step": self._time_step,
            "velocities": None if self._velocities is None else encode_array(self._velocities, fdt),
            "metadata": self.metadata,
        }
        return out

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Trajectory:
        """Inverse of :meth:`as_dict`."""
        vel = d.get("velocities")
        return cls(
            d["species"],
            decode_array(d["positions"]),
            decode_array(d["lattice"]),
            d["time_step"],
            None if vel is None else decode_array(vel),
            d.get("metadata"),
        )
