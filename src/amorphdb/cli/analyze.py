"""``amorphdb analyze FILE``: diffusivity, density and plots of any trajectory file."""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Annotated

import typer

from amorphdb.errors import AmorphdbError


def analyze_file(
    path: Path,
    species: list[str] | None = None,
    plot_dir: Path | None = None,
    time_step: float | None = None,
    timestep_fs: float | None = None,
    file_format: str | None = None,
    temperature_K: float | None = None,
    type_map: str | None = None,
) -> dict:
    """Analyse one trajectory file; returns a JSON-able summary (library entry of the CLI)."""
    from amorphdb.analysis import AnalysisError, Trajectory, density, diffusivity
    from amorphdb.analysis.plots import plot_msd

    kwargs = {}
    if type_map:
        kwargs["type_map"] = [s.strip() for s in type_map.split(",") if s.strip()]
    try:
        traj = Trajectory.from_file(
            path, format=file_format, time_step=time_step, timestep_fs=timestep_fs, **kwargs
        )
        names = species or traj.symbols
        results = []
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            for name in names:
                results.append(diffusivity(traj, species=name, temperature_K=temperature_K))
        plots = []
        if plot_dir is not None:
            plots.append(str(plot_msd(results, Path(plot_dir) / "msd.png")))
        return {
            "file": str(path),
            "trajectory": repr(traj),
            "n_frames": traj.n_frames,
            "n_atoms": traj.n_atoms,
            "time_step_fs": traj.time_step,
            "duration_ps": traj.duration_ps,
            "density_g_cm3": density(traj),
            "diffusion": [r.as_dict(max_points=100) for r in results],
            "summaries": [r.summary() for r in results],
            "warnings": sorted({str(w.message) for w in caught}),
            "plots": plots,
        }
    except AnalysisError as exc:
        raise AmorphdbError(str(exc)) from exc


def register(app: typer.Typer) -> None:
    """Add the ``analyze`` command."""

    @app.command("analyze")
    def analyze(
        file: Annotated[Path, typer.Argument(help="XDATCAR, vasprun.xml, extxyz or LAMMPS dump.")],
        species: Annotated[
            list[str] | None,
            typer.Option("--species", "-s", help="Element(s) to analyse (default: every element)."),
        ] = None,
        plot: Annotated[
            Path | None, typer.Option("--plot", help="Directory for plots (msd.png).")
        ] = None,
        as_json: Annotated[
            bool, typer.Option("--json", help="Print JSON instead of text.")
        ] = False,
        time_step: Annotated[
            float | None, typer.Option("--time-step", help="fs between stored frames.")
        ] = None,
        timestep_fs: Annotated[
            float | None,
            typer.Option("--timestep-fs", help="MD time step, fs (LAMMPS: x TIMESTEP interval)."),
        ] = None,
        file_format: Annotated[
            str | None,
            typer.Option(
                "--format", help="xdatcar, vasprun, extxyz or lammps-dump (default: guess)."
            ),
        ] = None,
        temperature: Annotated[
            float | None,
            typer.Option("--temperature", help="K, for the Nernst-Einstein conductivity."),
        ] = None,
        type_map: Annotated[
            str | None, typer.Option("--type-map", help="Elements of LAMMPS types 1,2,..: 'Li,O'.")
        ] = None,
    ) -> None:
        """Diffusivity (with uncertainty and fit window), density and MSD plot of a trajectory."""
        out = analyze_file(
            file, species, plot, time_step, timestep_fs, file_format, temperature, type_map
        )
        if as_json:
            typer.echo(json.dumps(out))
            return
        typer.echo(out["trajectory"])
        typer.echo(f"density = {out['density_g_cm3']:.4f} g/cm³")
        for line in out["summaries"]:
            typer.echo(line)
        for w in out["warnings"]:
            typer.echo(f"warning: {w}", err=True)
        for p in out["plots"]:
            typer.echo(f"plot: {p}")
