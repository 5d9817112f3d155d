"""Structure descriptors of a record: computed when it is written, or back-filled later.

:func:`structure_record` turns a production trajectory into the
``descriptors.structure`` entry of an :class:`~amorphdb.store.schemas.AmorphousDoc`
(:func:`amorphdb.analysis.descriptors.structure_descriptors`), with the bond energy of
the classical potential that ran it. :func:`backfill_structure` does the same for
records already in a database, from their stored trajectories.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from amorphdb.analysis import AnalysisError, Trajectory
from amorphdb.analysis.descriptors import structure_descriptors

#: what ``mean_bond_energy_eV`` is, stored with the values
BOND_ENERGY_DEFINITION = (
    "pair energy V_ab(r) of the classical potential at the RDF first-peak distance of each "
    "cation-anion pair: short-range term + bare Coulomb q_a q_b e^2/(4 pi eps0 r) with the "
    "potential's charges (eV); mean weighted by bonds (N_cation x CN)"
)


def pair_energy_function(
    engine: str, potential: str | None
) -> Callable[[str, str, float], float] | None:
    """``V(a, b, r)`` (eV) of a fixed-charge library potential; None when the engine's
    potential has no pair form (ML potentials, DFT) or is not in the library."""
    if str(engine) != "lammps":
        return None
    from amorphdb.engines.potentials import COULOMB_EV_A, get_potential
    from amorphdb.errors import AmorphdbError

    try:
        pot = get_potential(potential or None)
    except AmorphdbError:
        return None

    def energy(a: str, b: str, r: float) -> float:
        coul = COULOMB_EV_A * pot.charges_e.get(a, 0.0) * pot.charges_e.get(b, 0.0) / r
        term = pot.pairs.get(frozenset((a, b)))
        if term is None:
            return coul
        if pot.style == "pedone":  # D[(1 - e^{-a(r - r0)})^2 - 1] + C/r^12
            d0, alpha, r0, c = term.params
            return coul + d0 * ((1 - math.exp(-alpha * (r - r0))) ** 2 - 1) + c / r**12
        big_a, rho, c = term.params  # buck: A e^{-r/rho} - C/r^6
        return coul + big_a * math.exp(-r / rho) - c / r**6

    return energy


def structure_record(
    trajectory: Trajectory, engine: str = "", potential: str | None = None
) -> dict[str, Any]:
    """``descriptors.structure`` of a record; ``{"error": ...}`` if the analysis fails.

    A record is never lost for its descriptors: a trajectory they cannot be computed
    from (no anion, no RDF minimum) stores the reason instead.
    """
    energy = pair_energy_function(engine, potential)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            desc = structure_descriptors(
                trajectory,
                pair_energy=energy,
                bond_energy_definition=BOND_ENERGY_DEFINITION if energy else "",
            )
    except AnalysisError as exc:
        return {"error": str(exc)}
    return desc.to_dict()


@dataclass
class BackfillReport:
    """Outcome of :func:`backfill_structure` (record keys per outcome)."""

    updated: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)


def backfill_structure(
    db,
    *,
    force: bool = False,
    progress: Callable[[str], None] | None = None,
    **filters: Any,
) -> BackfillReport:
    """Compute ``descriptors.structure`` for stored records from their trajectories.

    Parameters
    ----------
    db
        An open :class:`~amorphdb.store.AmorphousDB`.
    force
        Recompute records that already have descriptors.
    progress
        Called with each record key after it is handled.
    **filters
        :meth:`AmorphousDB.find` filters (``campaign=...``, ``formula=...``).
    """
    from amorphdb.errors import AmorphdbError

    report = BackfillReport()
    for doc in db.find(**filters):
        key = doc.key()
        have = doc.descriptors.get("structure")
        if have and "error" not in have and not force:
            report.skipped.append(key)
        else:
            try:
                traj = db.get_trajectory(doc)
            except AmorphdbError as exc:
                report.failed[key] = str(exc)
            else:
                prov = doc.provenance
                entry = structure_record(
                    traj, prov.engine if prov else "", prov.potential if prov else None
                )
                if "error" in entry:
                    report.failed[key] = entry["error"]
                # the final structure stays in its own collection (structure_id kept)
                doc.descriptors = {**doc.descriptors, "structure": entry}
                db.upsert_amorphous(doc)
                if "error" not in entry:
                    report.updated.append(key)
        if progress is not None:
            progress(key)
    return report

