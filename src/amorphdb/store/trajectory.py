"""Trajectories in the blob store: compact lossless encoding and frame subsampling.

The analysis :class:`~amorphdb.analysis.Trajectory` serialises positions as
zlib-compressed float32 in base64 text. MD positions barely compress with plain zlib
(~0.90 of raw float32 on a 100-atom melt), and base64 adds 4/3, so a stored frame would
be ~1.2 x raw float32. :class:`StoredTrajectory` is the same object with a better
*lossless* codec for the positions: XOR of each frame's float32 bit pattern with the
previous frame (consecutive frames share sign, exponent and leading mantissa bits),
byte shuffle (as in Blosc/HDF5 shuffle filters) and zlib. Measured ~0.66 of raw float32
before base64, ~0.88 after (see ``benchmarks/bench_store.py``). Base64 text is kept
(not BSON binary) because maggma's ``GridFSStore`` serialises payloads as JSON.

Use :func:`prepare_trajectory` in the job that returns the trajectory::

    @job(data="trajectory")
    def production(...):
        ...
        return {"trajectory": prepare_trajectory(traj, stride=config.trajectory_stride), ...}
"""

from __future__ import annotations

import base64
import zlib
from enum import StrEnum
from typing import Any

import numpy as np

from amorphdb.analysis import Trajectory
from amorphdb.analysis.trajectory import decode_array, encode_array
from amorphdb.errors import StoreError

#: name of the position codec written by :func:`encode_positions`
CODEC = "xor-shuffle-zlib"


class Precision(StrEnum):
    """How trajectory positions/velocities are stored (recorded as ``stored_dtype``)."""

    #: in the dtype they came in (float64 stays float64): lossless
    LOSSLESS = "lossless"
    #: float32 (~1e-5 Å resolution at 100 Å; half the size of float64): lossy for float64
    FLOAT32 = "float32"


def encode_positions(positions: np.ndarray, dtype: str = "float32") -> dict[str, Any]:
    """Losslessly encode ``(n_frames, n_atoms, 3)`` positions (Å) in ``dtype``.

    Parameters
    ----------
    positions
        Cartesian positions, Å.
    dtype
        ``"float32"`` or ``"float64"``; the codec itself is lossless in that dtype.
    """
    arr = np.ascontiguousarray(positions, dtype=np.dtype(dtype).newbyteorder("<"))
    itemsize = arr.dtype.itemsize
    bits = arr.view(f"<u{itemsize}").reshape(arr.shape[0], -1)
    delta = bits.copy()
    delta[1:] ^= bits[:-1]
    shuffled = np.ascontiguousarray(delta.view(np.uint8).reshape(-1, itemsize).T)
    payload = base64.b64encode(zlib.compress(shuffled.tobytes(), 6)).decode("ascii")
    return {"codec": CODEC, "dtype": arr.dtype.str, "shape": list(arr.shape), "data": payload}


def decode_positions(encoded: dict[str, Any]) -> np.ndarray:
    """Inverse of :func:`encode_positions` (also accepts the analysis' own encoding)."""
    if encoded.get("codec") != CODEC:
        return decode_array(encoded)
    dtype = np.dtype(encoded["dtype"])
    shape = tuple(encoded["shape"])
    itemsize = dtype.itemsize
    raw = np.frombuffer(zlib.decompress(base64.b64decode(encoded["data"])), dtype=np.uint8)
    delta = np.ascontiguousarray(raw.reshape(itemsize, -1).T).view(f"<u{itemsize}")
    delta = delta.reshape(shape[0], -1)
    bits = np.bitwise_xor.accumulate(delta, axis=0)
    return bits.view(dtype).reshape(shape).astype(dtype.newbyteorder("="))


class StoredTrajectory(Trajectory):
    """A :class:`~amorphdb.analysis.Trajectory` that serialises with the compact codec."""

    def as_dict(self, float64: bool | None = None) -> dict[str, Any]:
        """JSON-able dict; positions (and velocities) with :func:`encode_positions`.

        Stored in ``metadata["stored_dtype"]`` when set (by :func:`prepare_trajectory`),
        else losslessly in the positions' own dtype; ``float64`` forces one or the other.
        """
        if float64 is not None:
            fdt = "float64" if float64 else "float32"
        elif self.metadata.get("store_float64"):
            fdt = "float64"
        else:
            fdt = str(self.metadata.get("stored_dtype") or _float_name(self.positions.dtype))
        vel = self.velocities
        return {
            "@module": type(self).__module__,
            "@class": type(self).__name__,
            "species": self.species.tolist(),
            "positions": encode_positions(self.positions, fdt),
            "lattice": encode_array(self.lattice, "float64"),
            "time_step": self.time_step,
            "velocities": None
            if vel is None
            else (encode_positions(vel, fdt) if vel.ndim == 3 else encode_array(vel, fdt)),
            "metadata": self.metadata,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> StoredTrajectory:
        """Inverse of :meth:`as_dict`."""
        vel = d.get("velocities")
        return cls(
            d["species"],
            decode_positions(d["positions"]),
            decode_array(d["lattice"]),
            d["time_step"],
            None if vel is None else decode_positions(vel),
            d.get("metadata"),
        )


def _float_name(dtype: np.dtype) -> str:
    return "float32" if np.dtype(dtype).itemsize <= 4 else "float64"


def prepare_trajectory(
    trajectory: Trajectory, stride: int = 1, precision: Precision | str = Precision.LOSSLESS
) -> StoredTrajectory:
    """Subsample (keep every ``stride``-th frame) and wrap for compact storage.

    Parameters
    ----------
    trajectory
        The trajectory to store.
    stride
        Keep every ``stride``-th frame (the stored time step becomes ``stride`` x larger);
        ``StoreConfig.trajectory_stride`` is the configured value.
    precision
        ``lossless`` (default: positions stored in the dtype they came in) or ``float32``
        (a documented lossy choice for float64 input). The stored record states it:
        ``metadata["stored_dtype"]`` and ``metadata["stored_precision"]``.
    """
    try:
        precision = Precision(precision)
    except ValueError:
        known = ", ".join(p.value for p in Precision)
        raise StoreError(
            f"unknown trajectory precision '{precision}'; use one of {known}"
        ) from None
    if int(stride) < 1:
        raise StoreError(f"trajectory stride must be >= 1, got {stride}; use 1 to keep all frames")
    traj = trajectory.subsample(int(stride)) if int(stride) > 1 else trajectory
    meta = dict(traj.metadata)
    if int(stride) > 1:
        meta["storage_stride"] = int(meta.get("storage_stride", 1)) * int(stride)
    native = _float_name(traj.positions.dtype)
    meta["stored_dtype"] = native if precision is Precision.LOSSLESS else "float32"
    meta["stored_precision"] = (
        "lossless" if meta["stored_dtype"] == native else f"lossy ({native} stored as float32)"
    )
    meta.pop("store_float64", None)
    return StoredTrajectory(
        traj.species, traj.positions, traj.lattice, traj.time_step, traj.velocities, meta
    )


def trajectory_from_payload(data: Any) -> Trajectory:
    """Turn a blob-store payload (dict or object) into a plain analysis ``Trajectory``."""
    if isinstance(data, Trajectory):
        traj = data
    elif isinstance(data, dict) and "positions" in data and "species" in data:
        traj = StoredTrajectory.from_dict(data)  # decodes both codecs
    else:
        raise StoreError(
            "the stored object is not a trajectory (no species/positions); "
            "check the trajectory key of the document"
        )
    if type(traj) is Trajectory:
        return traj
    return Trajectory(
        traj.species, traj.positions, traj.lattice, traj.time_step, traj.velocities, traj.metadata
    )


def raw_float32_bytes(trajectory: Trajectory) -> int:
    """Size of the positions as raw float32 (bytes): the reference for stored size."""
    return int(trajectory.n_frames * trajectory.n_atoms * 3 * 4)
