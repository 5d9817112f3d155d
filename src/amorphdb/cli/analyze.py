"""``amorphdb analyze``: reading the files, the text/JSON output and the plots of the
command; the analysis itself is :mod:`amorphdb.analysis`.
"""

from __future__ import annotations

import glob
import json
import re
import warnings
from pathlib import Path
from typing import Annotated, Any

import typer

from amorphdb.errors import AmorphdbError

_TEMPERATURE_IN_PATH = re.compile(
    r"(?<![\d.])(\d+(?:\.\d+)?)\s*K(?![a-zA-Z])"  # 1500K, run_1500.5K
    r"|(?:^|(?<=[/_\-.]))T(\d{2,5})(?=$|[/_\-.])"  # T1500/, run_T1500.dump
)


def expand_files(patterns: list[str]) -> list[Path]:
    """Paths from arguments, expanding globs the shell left alone (``'runs/*/XDATCAR'``)."""
    out: list[Path] = []
    for pat in patterns:
        if any(c in pat for c in "*?["):
            hits = sorted(glob.glob(pat, recursive=True))
            if not hits:
                raise AmorphdbError(f"no file matches {pat!r}; check the pattern")
            out += [Path(h) for h in hits]
        else:
            out.append(Path(pat))
    return list(dict.fromkeys(out))


def _split(values: list[str] | None) -> list[str] | None:
    """``--species Li,S --species O`` → ``["Li", "S", "O"]``."""
    if not values:
        return None
    return [s.strip() for v in values for s in v.split(",") if s.strip()]


def _temperatures(files: list[Path], given: str | None) -> list[float | None]:
    """One temperature per file: ``--temperature`` (one value, or one per file), else the
    thermostat of the run's files (INCAR/OUTCAR TEBEG, LAMMPS ``fix nvt temp``), else a
    ``<number>K`` or ``T<number>`` in the file's path (``1500K/XDATCAR``, ``T1500/traj.dump``)."""
    from amorphdb.analysis.timing import run_temperature_K

    if given:
        try:
            values = [float(v) for v in given.split(",") if v.strip()]
        except ValueError as exc:
            raise AmorphdbError(f"--temperature {given!r}: give K, e.g. 1200 or 1000,1500") from exc
        if len(values) == 1:
            return values * len(files)
        if len(values) != len(files):
            raise AmorphdbError(
                f"--temperature has {len(values)} values for {len(files)} files; give one "
                "value or one per file"
            )
        return values
    out: list[float | None] = []
    for f in files:
        t, _ = run_temperature_K(f)
        if t is None:
            hits = _TEMPERATURE_IN_PATH.findall(str(f))
            t = float(next(v for v in hits[-1] if v)) if hits else None
        out.append(t)
    return out


def analyze_file(
    path: Path,
    species: list[str] | None = None,
    frame_interval_fs: float | None = None,
    timestep_fs: float | None = None,
    nblock: int | None = None,
    file_format: str | None = None,
    temperature_K: float | None = None,
    type_map: str | None = None,
) -> dict[str, Any]:
    """Analyse one trajectory file (library entry of the CLI).

    Returns
    -------
    dict
        ``summary`` (plain JSON numbers: D, σ, conductivity, Haven ratio, network
        relaxation, density, time source, warnings) and ``results`` (the
        :class:`~amorphdb.analysis.diffusion.DiffusionResult` objects, for plots).
    """
    from amorphdb.analysis import AnalysisError, Trajectory, density, diffusivity
    from amorphdb.analysis.relaxation import network_relaxation, network_species
    from amorphdb.analysis.trajectory import json_safe

    kwargs = {}
    if type_map:
        kwargs["type_map"] = [s.strip() for s in type_map.split(",") if s.strip()]
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            traj = Trajectory.from_file(
                path,
                format=file_format,
                frame_interval_fs=frame_interval_fs,
                timestep_fs=timestep_fs,
                nblock=nblock,
                **kwargs,
            )
            names = species or traj.symbols
            traj.indices(names)  # unknown species: one line naming those present
            results = {}
            for name in dict.fromkeys([*names, *network_species(traj.symbols)]):
                results[name] = diffusivity(traj, species=name, temperature_K=temperature_K)
            network = network_relaxation(traj, results, temperature_K=temperature_K)
    except AnalysisError as exc:
        raise AmorphdbError(str(exc)) from exc
    shown = [results[n] for n in names]
    summary = {
        "file": str(path),
        "trajectory": repr(traj),
        "format": traj.metadata.get("format"),
        "time_source": traj.metadata.get("time_source", ""),
        "n_frames": traj.n_frames,
        "n_atoms": traj.n_atoms,
        "frame_interval_fs": traj.time_step,
        "duration_ps": traj.duration_ps,
        "temperature_K": temperature_K,
        "density_g_cm3": density(traj),
        "diffusion": [_diffusion_json(r) for r in shown],
        "network_relaxation": json_safe(network.as_dict()),
        "regime": network.regime,
        "warnings": sorted({str(w.message) for w in caught}),
    }
    return {"summary": summary, "results": shown, "network": network, "trajectory": traj}


def _diffusion_json(res) -> dict[str, Any]:
    """Plain-number dict of a result; a non-diffusive species gets ``D: null`` and its bound
    (the fitted slope stays in ``D_fit``), never a negative D."""
    d = res.as_dict(max_points=100, plain=True)
    d["D_fit"] = d["D"]
    if not res.diffusive:
        d["D"] = None
    return d


def arrhenius_over_files(
    analyses: list[dict[str, Any]], temperatures: list[float | None]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Arrhenius fits per species and regime over files at different temperatures.

    Only diffusive, reliable D values enter (:meth:`DiffusionResult.diffusive`); a file's
    regime is ``glass`` when its network formers/anions are caged.

    Returns
    -------
    (json, objects)
        Plain-number summary per species, and per species ``(RegimeFits, T, D, regimes)``
        of the points left out of the fits (unreliable: drawn as open markers).
    """
    from amorphdb.analysis.regimes import RegimeFits, fit_arrhenius_regimes
    from amorphdb.analysis.trajectory import json_safe

    out: dict[str, Any] = {}
    objects: dict[str, Any] = {}
    species = list(dict.fromkeys(r.species for a in analyses for r in a["results"]))
    for sp in species:
        T, D, S, R, used = [], [], [], [], []
        for a, t in zip(analyses, temperatures, strict=True):
            res = next((r for r in a["results"] if r.species == sp), None)
            if res is None or t is None:
                continue
            T.append(t)
            D.append(res.D if res.diffusive else None)
            S.append(res.D_std)
            R.append(a["network"].regime)
            used.append(bool(res.diffusive and res.reliable))
        pick = [i for i, u in enumerate(used) if u]
        fits = RegimeFits()
        if len({T[i] for i in pick}) >= 2:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                fits = fit_arrhenius_regimes(
                    [T[i] for i in pick],
                    [D[i] for i in pick],
                    [S[i] for i in pick],
                    [R[i] for i in pick],
                )
            out[sp] = json_safe({**fits.as_dict(), "summary": fits.summary()})
        else:
            out[sp] = {"error": f"{len(pick)} usable temperature(s); an Arrhenius fit needs 2"}
        unused = [i for i, u in enumerate(used) if not u]
        objects[sp] = (fits, [T[i] for i in unused], [D[i] for i in unused], [R[i] for i in unused])
    return out, objects


def register(app: typer.Typer) -> None:
    """Add the ``analyze`` command."""

    @app.command("analyze", context_settings={"help_option_names": ["-h", "--help"]})
    def analyze(
        files: Annotated[
            list[str],
            typer.Argument(
                help="Trajectory file(s) or glob(s): XDATCAR, vasprun.xml, LAMMPS dump, extxyz, "
                "ASE .traj or any ASE format; .gz/.bz2/.xz read directly.",
                show_default=False,
            ),
        ],
        species: Annotated[
            list[str] | None,
            typer.Option(
                "--species", "-s", help="Element(s): 'Li' or 'Li,S' (default: every element)."
            ),
        ] = None,
        frame_interval_fs: Annotated[
            float | None,
            typer.Option(
                "--frame-interval-fs",
                help="fs between stored frames. Not with --timestep-fs/--nblock.",
            ),
        ] = None,
        timestep_fs: Annotated[
            float | None,
            typer.Option(
                "--timestep-fs",
                help="MD time step, fs (VASP POTIM, LAMMPS timestep); frames are this x "
                "--nblock apart (LAMMPS: x the TIMESTEP spacing). XDATCAR: read from an "
                "OUTCAR/vasprun.xml/INCAR next to it when not given.",
            ),
        ] = None,
        nblock: Annotated[
            int | None,
            typer.Option("--nblock", help="MD steps between stored frames (VASP NBLOCK)."),
        ] = None,
        file_format: Annotated[
            str | None,
            typer.Option(
                "--format",
                help="xdatcar, vasprun, extxyz, lammps-dump, traj or an ase.io format "
                "(default: guess).",
            ),
        ] = None,
        temperature: Annotated[
            str | None,
            typer.Option(
                "--temperature",
                "-T",
                help="K (one, or one per file); default: a '<number>K' in each path. For "
                "the Nernst-Einstein conductivity and the Arrhenius fit.",
            ),
        ] = None,
        type_map: Annotated[
            str | None, typer.Option("--type-map", help="Elements of LAMMPS types 1,2,..: 'Li,O'.")
        ] = None,
        plot: Annotated[
            Path | None,
            typer.Option(
                "--plot",
                help="Image to write (e.g. msd.png): the MSD per species for one file; the "
                "Arrhenius plot for several (MSD plots beside it as NAME-msd-N.png).",
            ),
        ] = None,
        structure: Annotated[
            bool,
            typer.Option(
                "--structure",
                help="Also structure descriptors (last half): CN with cut-offs, RDF peaks, "
                "N4, Qn, packing fraction, S(q); with --plot, NAME-structure.png.",
            ),
        ] = False,
        as_json: Annotated[
            bool, typer.Option("--json", help="Print JSON instead of text.")
        ] = False,
    ) -> None:
        """Diffusivity (σ, fit window, conductivity, Haven ratio), network relaxation and
        density of trajectories; an Arrhenius fit per regime over several temperatures."""
        paths = expand_files(files)
        temps = _temperatures(paths, temperature)
        if len(paths) > 1 and all(t is not None for t in temps):  # rows in order of T
            order = sorted(range(len(paths)), key=lambda i: temps[i])
            paths, temps = [paths[i] for i in order], [temps[i] for i in order]
        names = _split(species)
        if plot is not None:
            _check_plot_path(plot)
        args = (names, frame_interval_fs, timestep_fs, nblock, file_format)
        if len(paths) == 1:  # one file: any problem is bad input (exit 2)
            analyses = [analyze_file(paths[0], *args, temps[0], type_map)]
            failed: dict[str, str] = {}
        else:  # several: a file that fails is a row with its error, the rest goes on
            analyses, failed, kept = [], {}, []
            for p, t in zip(paths, temps, strict=True):
                try:
                    analyses.append(analyze_file(p, *args, t, type_map))
                    kept.append(t)
                except AmorphdbError as exc:
                    failed[str(p)] = str(exc)
            temps = kept
            if not analyses:
                raise AmorphdbError(
                    f"no file could be analysed; first error: {next(iter(failed.values()))}"
                )
        arrhenius, fit_objects = ({}, {})
        if len(analyses) > 1:
            arrhenius, fit_objects = arrhenius_over_files(analyses, temps)
        plots = _plots(plot, analyses, fit_objects) if plot is not None else []
        if structure:
            from amorphdb.cli.structure_section import add_structure

            plots += add_structure(analyses, plot)
        if as_json:
            doc: dict[str, Any] = {"files": [a["summary"] for a in analyses], "plots": plots}
            if len(paths) > 1:
                doc["arrhenius"] = arrhenius
                doc["failed"] = failed
            typer.echo(json.dumps(doc))
            if failed:
                raise typer.Exit(1)
            return
        for a in analyses:
            _print_text(a["summary"], a["results"], a["network"])
            for line in a.get("structure_lines", []):
                typer.echo("  " + line)
        if len(analyses) > 1:
            _print_table(analyses)
            for sp, fit in arrhenius.items():
                for line in fit.get("summary", [fit.get("error", "")]):
                    typer.echo(f"Arrhenius {sp}: {line}")
        for p in plots:
            typer.echo(f"plot: {p}")
        for p, err in failed.items():
            typer.echo(f"failed: {p}: {err}", err=True)
        if failed:
            typer.echo(f"{len(failed)} of {len(paths)} files could not be analysed", err=True)
            raise typer.Exit(1)


def _check_plot_path(plot: Path) -> None:
    """Refuse, before any work, a --plot in a missing folder or of an unknown image type."""
    if not plot.parent.is_dir():
        raise AmorphdbError(f"folder {plot.parent} of --plot does not exist; create it")
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    kinds = FigureCanvasAgg.get_supported_filetypes()
    if plot.suffix.lstrip(".").lower() not in kinds:
        raise AmorphdbError(
            f"--plot {plot.name}: unknown image type; end it with one of "
            f"{', '.join('.' + k for k in sorted(kinds))}"
        )


def _plots(plot: Path, analyses: list[dict[str, Any]], fits: dict[str, Any]) -> list[str]:
    from amorphdb.analysis import AnalysisError
    from amorphdb.analysis.plots import plot_arrhenius_regimes, plot_msd

    def title(s: dict[str, Any]) -> str:
        t = f", {s['temperature_K']:g} K" if s["temperature_K"] else ""
        state = "network frozen" if s["regime"] == "glass" else "network relaxed"
        return f"{s['file']}{t} ({state})"

    out = []
    try:
        if len(analyses) == 1:
            a = analyses[0]
            return [str(plot_msd(a["results"], plot, title(a["summary"]), mkdir=False))]
        for i, a in enumerate(analyses, 1):
            p = plot.with_name(f"{plot.stem}-msd-{i}{plot.suffix}")
            out.append(str(plot_msd(a["results"], p, title(a["summary"]), mkdir=False)))
        for k, (sp, (fit, T, D, R)) in enumerate(fits.items()):
            p = plot if k == 0 else plot.with_name(f"{plot.stem}-{sp}{plot.suffix}")
            out.insert(k, str(plot_arrhenius_regimes(fit, p, T, D, R, f"D({sp})", mkdir=False)))
    except AnalysisError as exc:
        raise AmorphdbError(str(exc)) from exc
    return out


def _print_text(s: dict[str, Any], results: list, network) -> None:
    typer.echo(f"{s['file']}: {s['trajectory']}")
    typer.echo(f"  time between frames: {s['frame_interval_fs']:g} fs ({s['time_source']})")
    typer.echo(f"  density = {s['density_g_cm3']:.4f} g/cm³")
    for r in results:
        typer.echo("  " + r.summary().replace("\n", "\n  "))
    typer.echo(f"  {network.summary()}")
    for w in s["warnings"]:
        typer.echo(f"warning: {w}", err=True)


def _print_table(analyses: list[dict[str, Any]]) -> None:
    typer.echo("")
    typer.echo(f"{'file':<40} {'T (K)':>7} {'regime':>6}  D ± σ (cm²/s) per species")
    for a in analyses:
        s = a["summary"]
        cells = []
        for r in a["results"]:
            if r.diffusive:
                cells.append(f"{r.species} {r.D:.2e}±{r.D_std:.1e}{'' if r.reliable else '*'}")
            else:
                cells.append(f"{r.species} <{r.D_upper_bound:.1e}")
        t = f"{s['temperature_K']:g}" if s["temperature_K"] else "?"
        typer.echo(f"{s['file'][-40:]:<40} {t:>7} {s['regime']:>6}  " + "  ".join(cells))
    typer.echo("(* unreliable: not in the Arrhenius fit; <x: not diffusive, upper bound)")
