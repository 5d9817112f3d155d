"""Losses of a parameter set: glass density and N4 against experiment, from MD.

:func:`glass_from_record` takes density and N4 (± σ over the analysed frames) of the
glass anneal from its record; :func:`glass_losses` compares them with the
targets — RMS relative density error and RMS absolute N4 error over the glasses — and
:class:`MDObjective` runs each parameter set as an ordinary melt–quench campaign
(one per evaluation, named after its parameters) through the local launcher and
reads the glasses back from the store.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from amorphdb.potfit.config import Mode, N4Source, ObjectiveSettings, PotfitConfig
from amorphdb.potfit.targets import GlassTarget, dbx_n4, load_targets

log = logging.getLogger(__name__)


@dataclass
class GlassProperties:
    """Density (g/cm³) and N4 of one simulated glass, with σ over the analysed frames."""

    density_g_cm3: float
    density_std_g_cm3: float
    n4: float
    n4_std: float
    n_frames: int

    def as_dict(self) -> dict[str, float]:
        """JSON form."""
        return asdict(self)


def n4_target(glass: GlassTarget, source: N4Source) -> float:
    """The N4 a glass is fitted to: measured, or Dell–Bray–Xiao where none is (or always)."""
    if source is N4Source.DBX or glass.n4 is None:
        return dbx_n4(glass)
    return glass.n4


def glass_losses(
    props: Mapping[str, GlassProperties | None],
    targets: Mapping[str, GlassTarget],
    settings: ObjectiveSettings,
) -> dict[str, float]:
    """``{"density": RMS (ρ − ρexp)/ρexp, "n4": RMS (N4 − N4exp)}`` over the glasses.

    A glass that did not finish (None) makes both losses NaN (a failed evaluation).
    """
    if any(props.get(label) is None for label in targets):
        return {"density": math.nan, "n4": math.nan}
    d_err, n_err = [], []
    for label, glass in targets.items():
        p = props[label]
        if glass.density_g_cm3 is not None:
            d_err.append((p.density_g_cm3 - glass.density_g_cm3) / glass.density_g_cm3)
        n_err.append(p.n4 - n4_target(glass, settings.n4_source))
    rms = lambda e: float(np.sqrt(np.mean(np.square(e)))) if e else 0.0  # noqa: E731
    return {"density": rms(d_err), "n4": rms(n_err)}


def combine(losses: dict[str, float], settings: ObjectiveSettings) -> float | dict[str, float]:
    """Weighted sum (weighted mode) or the named losses with weight > 0 (Pareto mode)."""
    used = {k: v for k, v in losses.items() if settings.weights.get(k, 0.0) > 0}
    if settings.mode is Mode.PARETO:
        return used
    return float(sum(settings.weights[k] * v for k, v in used.items()))


class MDObjective:
    """Objective of :func:`amorphdb.potfit.optimize` that runs melt–quench MD.

    Each parameter set becomes a campaign (:meth:`PotfitConfig.campaign_for`) run
    through the launcher registry (:func:`amorphdb.campaign.launchers.connect_launcher`:
    ``local`` or ``parsl``, which run to completion); its glasses land in the store
    under that campaign name with the parameters in ``provenance.potential``. A
    finished campaign is not run again (the launcher's claim skips it), so a resumed
    optimisation reuses what a killed one completed.
    """

    def __init__(
        self, config: PotfitConfig, on_progress: Callable[[str, str], None] | None = None
    ) -> None:
        self.config = config
        self.on_progress = on_progress
        self.targets = load_targets(config.objective.compositions, config._table())
        self._details: dict[str, dict[str, Any]] = {}

    def __call__(self, batch: list[dict[str, float]]) -> list[float | dict[str, float]]:
        """Run every parameter set of ``batch``; one loss per set."""
        return [self.evaluate(params) for params in batch]

    def evaluate(self, params: dict[str, float]) -> float | dict[str, float]:
        """Run one parameter set and return its loss (NaN when a glass failed)."""
        from amorphdb.campaign.launchers import connect_launcher

        spec = self.config.campaign_for(params)
        formula_of = {label: _reduced(t.formula) for label, t in self.targets.items()}
        release_interrupted(spec.name, spec.store_path(), list(formula_of.values()))
        launcher = connect_launcher(spec, self.config.launcher)
        results = launcher.submit(
            spec, list(formula_of.values()), on_progress=self.on_progress, claim=True
        )
        errors = {f: r.error for f, r in results.items() if not getattr(r, "ok", True)}
        props = self.read_glasses(spec.name, spec.store_path(), formula_of)
        losses = glass_losses(props, self.targets, self.config.objective)
        self._details[_key(params)] = {
            "campaign": spec.name,
            "glasses": {k: (v.as_dict() if v else None) for k, v in props.items()},
            "losses": losses,
            **({"errors": errors} if errors else {}),
        }
        return combine(losses, self.config.objective)

    def details(self, params: dict[str, float]) -> dict[str, Any] | None:
        """Per-glass results of an evaluated parameter set (stored in the history)."""
        return self._details.get(_key(params))

    def read_glasses(
        self, campaign: str, store: Any, formula_of: Mapping[str, str]
    ) -> dict[str, GlassProperties | None]:
        """Density and N4 of each glass of ``campaign`` from the store (None if missing).

        They come from the record's structure descriptors (computed once, when the
        glass anneal is recorded: :func:`glass_from_record`).
        """
        from amorphdb.store import open_database

        temperature = self.config.glass.glass_temperature_K
        out: dict[str, GlassProperties | None] = {}
        db = open_database(store)
        try:
            for label, formula in formula_of.items():
                docs = db.find(campaign=campaign, formula=formula, temperature_K=temperature)
                out[label] = glass_from_record(docs[0].descriptors) if docs else None
        finally:
            db.close()
        return out


def release_interrupted(campaign: str, store: Any, formulas: list[str]) -> list[str]:
    """Close attempts a killed potfit left open (waiting/running) as failed.

    An evaluation's campaign belongs to its potfit run (named after the parameters and
    settings), and one process drives a state file; an open attempt found when the
    evaluation starts is therefore from a run that was killed, and would otherwise keep
    the composition claimed. Returns the formulas released.
    """
    from amorphdb.store import open_database

    released = []
    db = open_database(store)
    try:
        for formula in formulas:
            doc = db.get_campaign(campaign, formula)
            if doc is not None and getattr(doc.state, "value", doc.state) in ("waiting", "running"):
                db.record_attempt(campaign, formula, "failed",
                                  error="interrupted: the potfit run was stopped; rerun")
                released.append(formula)
    finally:
        db.close()
    return released


def glass_from_record(descriptors: Mapping[str, Any]) -> GlassProperties | None:
    """Density and N4 ± σ from a record's ``descriptors.structure``
    (:func:`amorphdb.analysis.descriptors.structure_descriptors`: B–O bonds within the
    first minimum of g_BO); None when the record has none."""
    s = descriptors.get("structure") or {}
    if "density_g_cm3" not in s or "B" not in (s.get("n4") or {}):
        return None
    # N4 = ⟨CN_BO⟩ − 3 while boron is 3- or 4-fold, so σ(N4) is the spread of ⟨CN_BO⟩
    n4_std = (s.get("cn_std") or {}).get("B-O", math.nan)
    # the NVT anneal holds the volume: σ(ρ) is the NPT volume search's standard error
    volume_sem = (descriptors.get("volume_equilibration") or {}).get("density_sem_g_cm3")
    return GlassProperties(
        density_g_cm3=float(s["density_g_cm3"]),
        density_std_g_cm3=max(float(s.get("density_std_g_cm3") or 0.0), float(volume_sem or 0.0)),
        n4=float(s["n4"]["B"]),
        n4_std=float(n4_std),
        n_frames=int(s.get("n_frames") or 0),
    )


def _reduced(formula: str) -> str:
    from amorphdb.structure import parse_composition

    return parse_composition(formula).reduced_formula  # as CampaignSpec.formulas()


def _key(params: Mapping[str, float]) -> str:
    return repr(sorted((k, float(v)) for k, v in params.items()))
