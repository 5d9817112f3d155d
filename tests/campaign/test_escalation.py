"""Escalation policy: pure function of the recorded error and the last settings."""

import pytest

from amorphdb.campaign.escalation import (
    MIN_TIMESTEP_FS,
    FailureKind,
    classify_error,
    escalate,
)
from amorphdb.engines import EngineSpec
from amorphdb.flows.protocol import ProtocolSettings
from amorphdb.structure import estimate_density, parse_composition


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        ("packmol failed to pack 36 atoms of Li2Si2O5 at 2.4 g/cm³ in 5 attempts", "packing"),
        ("cannot pack 100 atoms at 9 g/cm³ with tolerance 2 Å", "packing"),
        ("MD failed after 3 correction(s) (budget 3): ERROR: Lost atoms: original 36 current 35",
         "unstable_md"),
        ("VASP MD in /x failed (energy drift 0.8 eV/atom) after 2 correction(s)", "unstable_md"),
        # exhausted recovery budgets (amorphdb.recovery.base.RecoveryExhaustedError)
        ("RecoveryExhaustedError: MD failed after 0 correction(s) (budget 0): ERROR: Lost "
         "atoms: original 36 current 34; rerun with a smaller time step or a larger recovery "
         "budget", "unstable_md"),
        ("MD failed after 2 correction(s) (budget 2): atoms too close: Li0-O3 at 0.40 Å "
         "(< 0.90 Å)", "unstable_md"),
        ("MD failed after 1 correction(s) (budget 1): max force 81.2 eV/Å above 50 eV/Å",
         "unstable_md"),
        ("MD failed after 3 correction(s) (budget 3): ERROR: Neighbor list overflow, boost "
         "neigh_modify one", "unstable_md"),
        ("ERROR: Bond atoms 3 4 missing at step 100", "unstable_md"),
        ("VASP MD in /x failed (recovery budget exhausted) after 3 correction(s)",
         "unstable_md"),
        # a LAMMPS error no smaller step fixes: nothing was tried, so no budget ran out
        ("MD failed after 0 correction(s) (budget 3): ERROR: Unrecognized pair style 'foo'",
         "unknown"),
        ("VASP MD in /x failed (unconverged electronic steps) after 1 correction(s)",
         "electronic"),
        ("volume search did not converge: |P| = 12 kbar after 6 checks", "eos"),
        ("worker process 123 died (killed by SIGKILL) after job 'melt'", "lost"),
        ("jobflow-remote job 9 REMOTE_ERROR: slurmstepd: CANCELLED DUE TO TIME LIMIT", "lost"),
        ("RuntimeError: something else", "unknown"),
        (None, "unknown"),
    ],
)
def test_classify(error, kind):
    assert classify_error(error) == FailureKind(kind)


def test_packing_new_seed_and_ten_percent_lower_density():
    p = ProtocolSettings(seed=7)
    esc = escalate("packmol failed to pack", EngineSpec(), p, formula="Li2Si2O5")
    rho = float(estimate_density(parse_composition("Li2Si2O5")))
    assert esc.protocol.seed != 7
    assert esc.protocol.density_g_cm3 == pytest.approx(0.9 * rho, rel=1e-3)
    again = escalate("packmol failed to pack", EngineSpec(), esc.protocol, [FailureKind.PACKING])
    assert again.protocol.density_g_cm3 == pytest.approx(0.81 * rho, rel=1e-3)
    assert p.density_g_cm3 is None and p.seed == 7  # inputs untouched


def test_unstable_md_halves_timestep_down_to_floor():
    engine = EngineSpec(name="lammps", timestep_fs=1.0)
    steps = []
    for _ in range(5):
        engine = escalate("Lost atoms", engine, ProtocolSettings()).engine
        steps.append(engine.timestep_fs)
    assert steps == [0.5, 0.25, 0.125, MIN_TIMESTEP_FS, MIN_TIMESTEP_FS]


def test_eos_widens_volume_scan():
    p = ProtocolSettings()
    esc = escalate("EOS fit did not converge", EngineSpec(), p)
    f = esc.protocol.volume.scale_factors
    assert min(f) == pytest.approx(0.8) and max(f) == pytest.approx(1.2)  # default ±0.1
    assert esc.protocol.volume.max_iterations == p.volume.max_iterations + 2
    for _ in range(5):
        esc = escalate("EOS fit did not converge", EngineSpec(), esc.protocol)
    assert min(esc.protocol.volume.scale_factors) == pytest.approx(0.5)  # capped


def test_vasp_electronic_ladder_climbs_per_failure():
    engine = EngineSpec(name="vasp", settings={"incar": {"ENCUT": 400}})
    seen = []
    for n in range(4):
        esc = escalate("unconverged electronic steps", engine, ProtocolSettings(),
                       [FailureKind.ELECTRONIC] * n)
        seen.append(esc.engine.settings["incar"])
    assert [s["ALGO"] for s in seen] == ["Normal", "All", "Damped", "Damped"]
    assert all(s["ENCUT"] == 400 for s in seen)
    assert seen[1]["NELM"] == engine.settings_model.electronic_ladder[1]["NELM"]


def test_lost_run_keeps_settings_so_results_keep_their_key():
    p, e = ProtocolSettings(), EngineSpec()
    esc = escalate("worker process 1 died (killed by SIGKILL)", e, p)
    assert esc.protocol == p and esc.engine == e


@pytest.mark.parametrize(("name", "default_fs"), [("mlip", 2.0), ("lammps", 1.0), ("vasp", 2.0)])
def test_unstable_md_halves_the_engines_own_default_timestep(name, default_fs):
    """Issue 15: the MLIP default is 2 fs (engines/mlip), so the first rerun runs at 1 fs."""
    from amorphdb.engines import get_engine

    spec = EngineSpec(name=name)  # time step left to the engine
    assert get_engine(spec).timestep_fs == default_fs
    esc = escalate("ERROR: Lost atoms: original 36 current 35", spec, ProtocolSettings())
    assert esc.changes == [f"timestep {default_fs:g} → {default_fs / 2:g} fs"]
    assert get_engine(esc.engine).timestep_fs == default_fs / 2


@pytest.mark.parametrize(
    ("error", "kind", "change"),
    [
        ("job 'melt' failed: OSError: [Errno 28] No space left on device",
         FailureKind.DISK_FULL, "same settings (the disk was full, not the run wrong)"),
        ("disk full (12 KiB free) during job 'anneal 1500 K': ERROR: Lost atoms",
         FailureKind.DISK_FULL, "same settings (the disk was full, not the run wrong)"),
        ("interrupted by SIGTERM after job 'melt 5000 K'; finished stages saved",
         FailureKind.LOST, "same settings (the run was lost, not wrong)"),
    ],
)
def test_disk_full_and_interrupted_keep_settings(error, kind, change):
    engine, protocol = EngineSpec(timestep_fs=1.0), ProtocolSettings(seed=3)
    esc = escalate(error, engine, protocol)
    assert esc.kind == kind and esc.changes == [change]
    assert esc.engine == engine and esc.protocol == protocol


@pytest.mark.slow
def test_escalated_mlip_run_really_runs_at_one_fs(tmp_path):
    """The MD the rerun's stage makers build from the escalated spec steps 1 fs (CHGNet)."""
    import numpy as np
    from pymatgen.core import Lattice, Structure

    from amorphdb.engines import get_engine
    from amorphdb.flows.md import MDMaker, stage_settings

    failed = EngineSpec(name="mlip")  # the first attempt ran at the engine default, 2 fs
    esc = escalate("MD failed after 3 correction(s) (budget 3): ERROR: Lost atoms", failed,
                   ProtocolSettings())
    assert esc.changes == ["timestep 2 → 1 fs"]
    md = stage_settings(MDMaker(engine=esc.engine, temperature_K=1000.0, n_steps=20,
                                traj_every=5, thermo_every=5))
    assert md.timestep_fs == 1.0
    li2o = Structure.from_spacegroup(  # antifluorite Li2O, 12 atoms
        "Fm-3m", Lattice.cubic(4.61), ["Li", "O"], [[0.25, 0.25, 0.25], [0, 0, 0]])
    out = get_engine(esc.engine).run(li2o, md, tmp_path)
    assert out.trajectory.time_step == pytest.approx(5.0)  # 5 steps × 1 fs between frames
    assert out.thermo.time_fs == pytest.approx(np.arange(0, 21, 5.0))
