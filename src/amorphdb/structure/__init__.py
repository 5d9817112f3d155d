"""Structure generation: compositions, enumerations, density estimates, packing.

See ``docs/structure.md``.
"""

from amorphdb.structure.compositions import formula_string, parse_composition
from amorphdb.structure.density import (
    DensityEstimate,
    DensityModel,
    estimate_density,
    estimate_density_details,
)
from amorphdb.structure.enumeration import (
    PseudoBinaryPoint,
    fraction_range,
    pseudo_binary,
    pseudo_binary_points,
)
from amorphdb.structure.formula_units import (
    FormulaUnitRounding,
    formula_units_for,
    integer_formula_unit,
    scaled_composition,
)
from amorphdb.structure.packing import (
    check_packable,
    find_packmol,
    hard_sphere_packing_fraction,
    min_pbc_distance,
    pack_structure,
)

__all__ = [
    "DensityEstimate",
    "DensityModel",
    "FormulaUnitRounding",
    "PseudoBinaryPoint",
    "check_packable",
    "estimate_density",
    "estimate_density_details",
    "find_packmol",
    "formula_string",
    "formula_units_for",
    "fraction_range",
    "hard_sphere_packing_fraction",
    "integer_formula_unit",
    "min_pbc_distance",
    "pack_structure",
    "parse_composition",
    "pseudo_binary",
    "pseudo_binary_points",
    "scaled_composition",
]
