"""``amorphdb compare``: the table, JSON and plots of :mod:`amorphdb.compare`."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Annotated

import typer

from amorphdb.errors import AmorphdbError


def _cell(value, fmt: str) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "—"
    return format(value, fmt)


def _pm(x, s, fmt: str) -> str:
    if x is None:
        return "—"
    return _cell(x, fmt) + ("" if s is None else f" ± {_cell(s, fmt.lstrip('+'))}")


def print_table(cmp, species: str) -> None:
    """Rich table of the comparison (one row per composition and temperature)."""
    from rich.console import Console
    from rich.table import Table

    ea = {(a.formula, a.species): a for a in cmp.arrhenius}
    pairs = sorted({k for p in cmp.points for k in p.cn_diff})
    table = Table(title=f"B = {cmp.label_b}  vs  A = {cmp.label_a}")
    for col in ["formula", "T (K)", "RDF R²", "ρ_A (g/cm³)", "ρ_B/ρ_A",
                *[f"ΔCN {p}" for p in pairs], f"D_{species} A (cm²/s)", f"D_{species} B/A",
                f"ΔEa_{species} (eV)"]:
        table.add_column(col, justify="left" if col == "formula" else "right")
    for p in cmp.points:
        a = ea.get((p.formula, species))
        table.add_row(
            p.formula,
            f"{p.temperature_K:g}",
            _cell(p.rdf_r2, ".3f"),
            _cell(p.density_a_g_cm3, ".3f"),
            _pm(p.density_ratio, p.density_ratio_std, ".3f"),
            *[_pm(p.cn_diff.get(k), p.cn_diff_std.get(k), "+.2f") for k in pairs],
            _cell(p.D_a_cm2_s.get(species), ".2e"),
            _pm(p.D_ratio.get(species), p.D_ratio_std.get(species), ".2g"),
            _pm(a.Ea_diff_eV, a.Ea_diff_std_eV, "+.2f") if a else "—",
        )
    Console(width=max(120, 16 * (9 + len(pairs)))).print(table)
    for p in cmp.points:  # notes on the structure and on the species shown (all in --json)
        for note in p.notes:
            if note.startswith("D_") and not note.startswith(f"D_{species} "):
                continue
            typer.echo(f"note: {p.formula} {p.temperature_K:g} K: {note}", err=True)
    for side, keys in (("A", cmp.unmatched_a), ("B", cmp.unmatched_b)):
        if keys:
            typer.echo(f"only in {side}: {', '.join(keys)}", err=True)
    print_activation_energies(cmp, species)


def print_activation_energies(cmp, species: str) -> None:
    """One line per composition: Ea of each side and ΔEa = B − A ± σ, or why it is missing."""
    for a in cmp.arrhenius:
        if a.species != species:
            continue
        if a.Ea_diff_eV is None:
            typer.echo(f"ΔEa_{species} {a.formula}: — ({a.note})")
            continue
        scaled = "" if a.Ea_diff_std_scaled_eV is None else (
            f" (± {a.Ea_diff_std_scaled_eV:.2f} scaled by χ²/dof)")
        typer.echo(
            f"ΔEa_{species} {a.formula}: {_pm(a.Ea_diff_eV, a.Ea_diff_std_eV, '+.2f')} eV"
            f"{scaled}; A {_pm(a.Ea_a_eV, a.Ea_a_std_eV, '.2f')}, "
            f"B {_pm(a.Ea_b_eV, a.Ea_b_std_eV, '.2f')}"
        )


def register(app: typer.Typer) -> None:
    """Add ``amorphdb compare``."""

    @app.command("compare")
    def compare(
        campaign_a: Annotated[str, typer.Argument(help="Reference campaign (A), e.g. cmp-lammps.")],
        campaign_b: Annotated[str, typer.Argument(help="Candidate campaign (B), e.g. cmp-chgnet.")],
        store: Annotated[
            Path | None, typer.Option("--store", help="Store YAML (default: the embedded store).")
        ] = None,
        species: Annotated[
            str, typer.Option("--species", help="Species of the D and Ea columns.")
        ] = "Li",
        plot: Annotated[
            Path | None,
            typer.Option(
                "--plot",
                help="Plot prefix: writes PREFIX-rdf.png, PREFIX-D.png, PREFIX-arrhenius.png.",
            ),
        ] = None,
        as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    ) -> None:
        """Compare two campaigns (engines or potentials) on shared compositions and
        temperatures: RDF R², density ratio, CN differences, D ratio and ΔEa with σ."""
        from amorphdb.compare import compare_in_store
        from amorphdb.store import open_database

        if plot is not None and not plot.parent.is_dir():
            raise AmorphdbError(f"folder {plot.parent} of --plot does not exist; create it")
        with open_database(store, must_exist=True) as db:
            cmp = compare_in_store(db, campaign_a, campaign_b)
        plots = []
        if plot is not None:
            from amorphdb.compare.plots import plot_comparison

            plots = [str(p) for p in plot_comparison(cmp, plot, species)]
        if as_json:
            typer.echo(json.dumps(_json_safe({**cmp.to_dict(), "plots": plots})))
            return
        print_table(cmp, species)
        for p in plots:
            typer.echo(f"plot: {p}")


def _json_safe(value):
    """NaN/inf → null (strict JSON), recursively."""
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


__all__ = ["print_activation_energies", "print_table", "register"]
