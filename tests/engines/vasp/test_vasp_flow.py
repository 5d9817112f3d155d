"""The whole melt–quench protocol with the VASP engine and the stand-in executable.

A campaign file with ``engine: {name: vasp}`` runs through the local campaign
runner (``run_campaign``): packmol, the P–V volume searches, the melt, two anneal
branches, ``record_temperature`` / ``record_arrhenius``, the embedded store. The
stand-in VASP runs under real Custodian; only VASP itself is replaced.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import yaml
from pymatgen.io.vasp.inputs import Incar, Kpoints, Poscar
from vasp_testkit import FAKE_VASP_CMD

from amorphdb.campaign import load_campaign
from amorphdb.campaign.local import run_campaign
from amorphdb.store import open_database

pytestmark = [pytest.mark.filterwarnings("ignore::UserWarning"), pytest.mark.slow]

FORMULA = "Li2SiO3"  # Li2O·SiO2
N_ATOMS = 12
ANNEALS_K = [2500.0, 3500.0]
MELT_STEPS = 40
ANNEAL_STEPS = 40
VOLUME_STEPS = 8
TRAJ_EVERY = 2
TIMESTEP_FS = 2.0


def write_vasp_campaign(tmp_path: Path) -> Path:
    """A campaign YAML (the shape docs/vasp.md shows) for a 12-atom Li2SiO3 cell."""
    store = tmp_path / "store.yaml"
    store.write_text(f"type: embedded\npath: {tmp_path / 'db'}\n")
    campaign = {
        "name": "vasp-tiny",
        "compositions": [FORMULA],
        "store": str(store),
        "workdir": str(tmp_path / "runs"),
        "engine": {
            "name": "vasp",
            "potential": "PBE",
            "timestep_fs": TIMESTEP_FS,
            "settings": {
                "vasp_cmd": FAKE_VASP_CMD,
                "polling_time_step_s": 0.05,
                "monitor_freq": 2,
                "incar": {"NELM": 20},
            },
        },
        "protocol": {
            "target_atoms": N_ATOMS,
            "packing_tolerance_A": 1.6,
            "melt_steps": MELT_STEPS,
            "anneal_temperatures_K": ANNEALS_K,
            "anneal_steps": ANNEAL_STEPS,
            "volume": {
                "n_steps": VOLUME_STEPS,
                "scale_factors": [0.9, 1.1],
                "max_iterations": 1,
                "pressure_tolerance_kbar": 5.0,
                "on_unconverged": "flag",
            },
            "cooling": {"method": "none"},  # MPMorph direct anneal (AIMD)
            "traj_every": TRAJ_EVERY,
            "thermo_every": 1,
        },
    }
    path = tmp_path / "campaign.yaml"
    path.write_text(yaml.safe_dump(campaign))
    return path


def _md_jobs(db) -> dict[str, list[dict]]:
    """MD job outputs in the job store by job name."""
    by_name: dict[str, list[dict]] = {}
    query = {"output.engine": "vasp"}
    for doc in db.job_store.docs_store.query(query, properties=["name", "output"]):
        by_name.setdefault(doc["name"], []).append(doc["output"])
    return by_name


def test_protocol_flow_with_vasp_writes_the_common_documents(psp_dir, tmp_path):
    spec = load_campaign(write_vasp_campaign(tmp_path))
    results = run_campaign(spec)
    assert results[FORMULA].ok, results[FORMULA].error

    db = open_database(spec.store_path())
    docs = db.find(campaign="vasp-tiny", sort="temperature_K")
    # one summary per anneal temperature plus the melt, like every engine
    assert [d.temperature_K for d in docs] == [*ANNEALS_K, 5000.0]
    assert [d.descriptors["stage"] for d in docs] == ["anneal", "anneal", "melt"]
    for doc in docs:
        assert doc.formula_reduced == FORMULA and doc.nsites == N_ATOMS
        prov = doc.provenance
        assert prov.engine == "vasp"
        assert prov.version.startswith("vasp.6.4.2")  # read from the OUTCAR header
        # functional and the POTCARs actually used (MP symbols from the fake library)
        assert prov.potential.startswith("PBE: ")
        assert {"PAW_PBE Li_sv 01Jan2000", "PAW_PBE Si 01Jan2000", "PAW_PBE O 01Jan2000"} == set(
            prov.potential.removeprefix("PBE: ").split(", ")
        )
        assert prov.timestep_fs == TIMESTEP_FS
        n_steps = MELT_STEPS if doc.descriptors["stage"] == "melt" else ANNEAL_STEPS
        assert prov.n_steps == n_steps
        # diffusion of every species, finite D with a fit window inside the run
        assert set(doc.diffusion) == {"Li", "O", "Si"}
        for summary in doc.diffusion.values():
            assert summary.D_cm2_s is not None and math.isfinite(summary.D_cm2_s)
            assert summary.fit_window_ps[1] <= n_steps * TIMESTEP_FS / 1000 + 1e-9
        # the volume search ran and is recorded (2 scaled runs + 1 checking run)
        vol = doc.descriptors["volume_equilibration"]
        assert vol["method"] == "eos" and vol["n_points"] == 3
        assert math.isfinite(doc.pressure_mean_kbar)
        # no correction was needed in a clean run
        assert doc.descriptors["corrections"] == []

        # the trajectory loads back from the data store: t = 0 plus every traj_every step
        traj = db.get_trajectory(doc)
        assert traj.n_atoms == N_ATOMS
        assert traj.n_frames == n_steps // TRAJ_EVERY + 1 == doc.trajectory.n_frames
        assert traj.time_step == pytest.approx(TRAJ_EVERY * TIMESTEP_FS)
        # the last frame is the stored final structure (same site order, same cell)
        final = db.get_structure(doc)
        assert list(traj.species) == [site.specie.symbol for site in final]
        assert np.allclose(traj.lattices[-1], final.lattice.matrix, atol=1e-5)
        frac_last = np.linalg.solve(traj.lattices[-1].T, traj.positions[-1].T).T
        dfrac = (frac_last - final.frac_coords + 0.5) % 1.0 - 0.5
        assert np.abs(dfrac).max() < 1e-5
        # density is the accepted volume of the search, not the packing density
        assert doc.density_g_cm3 == pytest.approx(final.density, rel=1e-6)

    # Arrhenius: one document per species over the anneal temperatures. 80 fs of MD
    # on 12 atoms cannot give a diffusion coefficient: the analysis flags every D as
    # unreliable, so no Ea is fitted and each document says why
    arrhenius = {a.species: a for a in db.find_arrhenius(campaign="vasp-tiny")}
    assert set(arrhenius) == {"Li", "O", "Si"}
    assert not any(s.reliable for d in docs for s in d.diffusion.values())
    for arr in arrhenius.values():
        assert arr.formula_reduced == FORMULA and arr.temperatures_K == []
        assert arr.Ea_eV is None and arr.D300_cm2_s is None
        assert arr.error.startswith("0 reliable D value(s)")

    # the INCARs written for VASP (each run's part_00): the equilibration preset for
    # the P–V runs, the production (MPMorph) values for the melt and the anneals
    jobs = _md_jobs(db)
    assert sorted(n for n in jobs if not n.startswith("volume")) == [
        f"anneal {t:g} K" for t in ANNEALS_K
    ] + ["melt 5000 K"]
    volume_runs = [o for name, outs in jobs.items() if name.startswith("volume") for o in outs]
    production = [o for name, outs in jobs.items() if not name.startswith("volume") for o in outs]
    assert len(volume_runs) == 3 * (1 + len(ANNEALS_K))  # 2 scaled + 1 check per temperature
    assert len(production) == 1 + len(ANNEALS_K)
    for out in volume_runs + production:
        part = Path(out["dir_name"]) / "part_00"
        incar = Incar.from_file(part / "INCAR")
        equilibration = out in volume_runs
        per_atom = 1e-4 if equilibration else 1e-5
        assert incar["EDIFF"] == pytest.approx(per_atom * N_ATOMS)
        assert incar["NELMIN"] == (2 if equilibration else 4)
        assert incar["PREC"] == "Normal" and incar["NELM"] == 20  # campaign override applies
        assert incar["IBRION"] == 0 and incar["MDALGO"] == 2 and incar["ISYM"] == 0
        assert incar["POTIM"] == TIMESTEP_FS
        assert incar["TEBEG"] == pytest.approx(out["md"]["temperature_K"])
        assert Kpoints.from_file(part / "KPOINTS").style.name == "Gamma"

    # hand-offs between stages reach VASP's POSCAR with positions *and* velocities:
    # each production starts from the CONTCAR of exactly one (the accepted) volume run
    # at its temperature, and each anneal search starts from the melt's last frame
    def poscar(out: dict, name: str) -> tuple[np.ndarray, np.ndarray]:
        p = Poscar.from_file(
            str(Path(out["dir_name"]) / "part_00" / name),
            check_for_potcar=False,
            read_velocities=True,
        )
        return p.structure.frac_coords, np.asarray(p.velocities)

    melt_end = poscar(jobs["melt 5000 K"][0], "CONTCAR")
    for name in ["melt 5000 K", *(f"anneal {t:g} K" for t in ANNEALS_K)]:
        temperature = jobs[name][0]["md"]["temperature_K"]
        start = poscar(jobs[name][0], "POSCAR")
        points = [
            poscar(outs[0], "CONTCAR")
            for vname, outs in jobs.items()
            if vname.startswith("volume") and vname.endswith(f" at {temperature:g} K")
        ]
        same = [np.allclose(start[0], f) and np.allclose(start[1], v) for f, v in points]
        assert len(points) == 3 and same.count(True) == 1
        if name != "melt 5000 K":
            first = poscar(jobs[f"volume 0.900 at {temperature:g} K"][0], "POSCAR")
            dfrac = (first[0] - melt_end[0] + 0.5) % 1.0 - 0.5
            assert np.abs(dfrac).max() < 1e-6
            assert np.allclose(first[1], melt_end[1]) and np.abs(melt_end[1]).max() > 1e-3
