"""jobflow makers of the melt–quench protocol (engine-independent)."""

from amorphdb.flows.md import MDMaker, run_md_stage
from amorphdb.flows.melt_quench import MeltQuenchMaker, check_composition
from amorphdb.flows.protocol import CoolingSettings, ProtocolSettings, VolumeSettings
from amorphdb.flows.volume import VolumeEquilibrationMaker, VolumeResult

__all__ = [
    "CoolingSettings",
    "MDMaker",
    "MeltQuenchMaker",
    "ProtocolSettings",
    "VolumeEquilibrationMaker",
    "VolumeResult",
    "VolumeSettings",
    "check_composition",
    "run_md_stage",
]

import warnings as _warnings

# jobflow's run_locally uses monty's deprecated ``cd``; the notice is for jobflow's
# developers and would otherwise print once per job in every campaign.
_warnings.filterwarnings("ignore", message="cd is deprecated", category=FutureWarning)
