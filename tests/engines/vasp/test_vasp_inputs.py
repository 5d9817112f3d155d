"""Generated VASP inputs equal the MPMorph protocol values; overrides and bad input."""

from __future__ import annotations

import pytest
from pymatgen.core import Lattice, Structure
from pymatgen.io.vasp.inputs import Kpoints
from vasp_testkit import FAKE_VASP_CMD, tiny_cell

from amorphdb.engines import EngineSpec, MDSettings, get_engine
from amorphdb.engines.vasp.config import VaspSettings, check_overrides
from amorphdb.engines.vasp.inputs import VaspStage, md_input_set
from amorphdb.errors import ConfigError, UnsupportedCompositionError

# fake POTCARs: pymatgen warns that their hashes are unknown
pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")

# protocol values, shared/reference/mpmorph_protocol.md §2 (PMG MPMDSet, A2 MDSetGenerator nvt)
PROTOCOL = {
    "MDALGO": 2,
    "SMASS": 0,
    "ISIF": 2,
    "IBRION": 0,
    "ISYM": 0,
    "ISPIN": 1,
    "PREC": "Normal",
    "LREAL": "Auto",
    "NELM": 500,
    "NELMIN": 4,
    "KBLOCK": 100,
    "NBLOCK": 1,
    "LWAVE": False,
    "LCHARG": False,
    "LPLANE": False,
}


def _set(stage, structure=None, **kw):
    structure = structure or tiny_cell()
    args = dict(temperature_K=5000, end_temperature_K=None, n_steps=300, timestep_fs=2.0)
    args.update(kw)
    return md_input_set(structure, stage=stage, **args)


@pytest.mark.parametrize("stage", [VaspStage.MELT, VaspStage.ANNEAL])
def test_production_incar_is_mpmorph_protocol(psp_dir, stage):
    vis = _set(stage)
    incar = vis.incar
    for key, value in PROTOCOL.items():
        assert incar[key] == value, key
    assert incar["TEBEG"] == 5000 and incar["TEEND"] == 5000
    assert incar["NSW"] == 300 and incar["POTIM"] == 2.0
    # EDIFF_PER_ATOM = 1e-5 (MPMDSet) times 8 atoms, and no literal EDIFF_PER_ATOM tag
    assert incar["EDIFF"] == pytest.approx(8e-5)
    assert "EDIFF_PER_ATOM" not in incar
    assert "ENCUT" not in incar  # MPMDSet: unset -> VASP uses max ENMAX
    kpts = vis.kpoints
    assert kpts.style == Kpoints.supported_modes.Gamma and tuple(kpts.kpts[0]) == (1, 1, 1)


def test_equilibration_preset_is_looser_but_keeps_prec(psp_dir):
    incar = _set(VaspStage.EQUILIBRATION).incar
    assert incar["EDIFF"] == pytest.approx(8e-4)  # 1e-4 eV per atom
    assert incar["NELMIN"] == 2
    assert incar["PREC"] == "Normal"  # pressure criterion needs the stress tensor
    assert incar["MDALGO"] == 2 and incar["ISYM"] == 0


def test_overrides_apply_globally_then_per_stage(psp_dir):
    incar = _set(
        VaspStage.EQUILIBRATION,
        overrides={"PREC": "Low", "ENCUT": 400, "EDIFF_PER_ATOM": 2e-5},
        stage_overrides={"ENCUT": 350, "ALGO": "VeryFast"},
    ).incar
    assert incar["PREC"] == "Low" and incar["ENCUT"] == 350 and incar["ALGO"].lower() == "veryfast"
    assert incar["EDIFF"] == pytest.approx(1.6e-4)  # global EDIFF_PER_ATOM beats the preset


def test_ramp_and_hydrogen_timestep(psp_dir):
    incar = _set(VaspStage.ANNEAL, temperature_K=3000, end_temperature_K=2500).incar
    assert (incar["TEBEG"], incar["TEEND"]) == (3000, 2500)
    from amorphdb.engines.vasp.inputs import hydrogen_timestep

    h2o = Structure(Lattice.cubic(5.0), ["H", "H", "O"], [[0, 0, 0], [0.2, 0, 0], [0.1, 0.1, 0]])
    assert hydrogen_timestep(h2o, 2.0) == 0.5
    assert hydrogen_timestep(tiny_cell(), 2.0) == 2.0


def test_missing_psp_dir_is_one_line_error(monkeypatch):
    from pymatgen.core import SETTINGS

    monkeypatch.delenv("PMG_VASP_PSP_DIR", raising=False)
    monkeypatch.delitem(SETTINGS, "PMG_VASP_PSP_DIR", raising=False)
    engine = get_engine(EngineSpec(name="vasp", settings={"vasp_cmd": FAKE_VASP_CMD}))
    with pytest.raises(ConfigError, match="PMG_VASP_PSP_DIR is not set") as exc:
        engine.check_composition(["Li", "O"])
    assert "\n" not in str(exc.value)


def test_element_without_potcar_is_named(psp_dir):
    engine = get_engine(EngineSpec(name="vasp", settings={"vasp_cmd": FAKE_VASP_CMD}))
    engine.check_composition(["Li", "Si", "O"])
    with pytest.raises(UnsupportedCompositionError, match=r"Ge \(Ge_d\)") as exc:
        engine.check_composition(["Li", "Ge", "O"])
    assert "\n" not in str(exc.value)
    with pytest.raises(UnsupportedCompositionError, match="unknown element"):
        engine.check_composition(["Xx"])


def test_missing_vasp_command(psp_dir):
    engine = get_engine(EngineSpec(name="vasp", settings={"vasp_cmd": "env vasp_std_nonexistent"}))
    with pytest.raises(ConfigError, match="'vasp_std_nonexistent' not found on PATH"):
        engine.preflight()
    # a missing launcher is named too
    engine = get_engine(EngineSpec(name="vasp", settings={"vasp_cmd": "nolauncher_xyz vasp_std"}))
    with pytest.raises(ConfigError, match="nolauncher_xyz"):
        engine.preflight()


def test_incompatible_overrides(psp_dir):
    md_npt = MDSettings(temperature_K=1000, n_steps=10, timestep_fs=2, ensemble="npt")
    settings = VaspSettings(vasp_cmd=FAKE_VASP_CMD)
    with pytest.raises(ConfigError, match="npt needs a VASP build with MDALGO=3"):
        check_overrides(settings, md_npt.ensemble)
    check_overrides(VaspSettings(vasp_cmd=FAKE_VASP_CMD, npt_capable=True), md_npt.ensemble)
    engine = get_engine(EngineSpec(name="vasp", settings={"vasp_cmd": FAKE_VASP_CMD,
                                                          "incar_melt": {"MDALGO": 3}}))
    with pytest.raises(ConfigError, match="MDALGO=3 needs an NPT-capable"):
        engine.preflight()  # depends on the build: checked before submission
    # overrides that are never MD, or that the protocol sets: refused when the spec loads
    for bad, pattern in [
        ({"incar": {"IBRION": 2}}, "incar: {'IBRION': 2} is invalid: IBRION=2 is not molecular"),
        ({"incar_anneal": {"potim": 1.0}},
         "incar_anneal: {'potim': 1.0} is invalid: POTIM is set by the protocol stage "
         "(timestep_fs)"),
        ({"incar_melt": {"ISPIN": 3}}, "incar_melt: {'ISPIN': 3} is invalid: ISPIN must be"),
    ]:
        with pytest.raises(ConfigError) as info:
            EngineSpec(name="vasp", settings={"vasp_cmd": FAKE_VASP_CMD, **bad})
        assert str(info.value).startswith(f"engine.settings.{pattern}"), str(info.value)
    with pytest.raises(ConfigError, match=r"^engine.settings.walltime_s: -5 is invalid"):
        EngineSpec(name="vasp", settings={"walltime_s": -5})
    with pytest.raises(ConfigError, match=r"^engine.settings.nonsense: unknown vasp engine"):
        EngineSpec(name="vasp", settings={"nonsense": 1})
