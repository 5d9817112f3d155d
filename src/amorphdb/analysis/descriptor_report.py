"""Text and plots of :class:`~amorphdb.analysis.descriptors.StructureDescriptors`."""

from __future__ import annotations

from pathlib import Path

from amorphdb.analysis.descriptors import StructureDescriptors

__all__ = ["descriptor_lines", "plot_descriptors"]


def descriptor_lines(d: StructureDescriptors) -> list[str]:
    """Human-readable lines: density, CN (cut-off), peaks, N4, Qn, packing, bond energy."""
    lines = [
        f"structure ({d.n_frames} frames): density = {d.density_g_cm3:.4f} ± "
        f"{d.density_std_g_cm3:.4f} g/cm³"
    ]
    for pair, cn in d.cn.items():
        peak = d.rdf_peak_A.get(pair, float("nan"))
        lines.append(
            f"  CN {pair} = {cn:.3f} ± {d.cn_std.get(pair, 0.0):.3f} "
            f"(cut-off {d.cn_cutoff_A[pair]:.2f} Å, first peak {peak:.3f} Å)"
        )
    for el, n4 in d.n4.items():
        lines.append(f"  N4 {el} = {n4:.3f}")
    for el, dist in d.qn.items():
        text = ", ".join(f"{k} {v:.2f}" for k, v in sorted(dist.items()))
        lines.append(f"  Qn {el}: {text}")
    if d.packing_fraction is not None:
        lines.append(f"  packing fraction (Shannon ionic radii) = {d.packing_fraction:.3f}")
    if d.mean_bond_energy_eV is not None:
        per = ", ".join(f"{k} {v:.2f}" for k, v in d.bond_energy_eV.items())
        lines.append(f"  mean bond energy = {d.mean_bond_energy_eV:.3f} eV ({per} eV)")
    for note in d.notes:
        lines.append(f"  note: {note}")
    return lines


def plot_descriptors(d: StructureDescriptors, path: str | Path, title: str = "") -> Path:
    """Partial RDFs (with the CN cut-offs) and X-ray/neutron S(q) side by side."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = Path(path)
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4.2))
    for pair, g in d.rdf.items():
        if pair == "total":
            continue
        ax1.plot(d.rdf_r_A, g, lw=1.2, label=pair)
    for pair, rc in d.cn_cutoff_A.items():
        ax1.axvline(rc, ls=":", lw=0.8, color="grey")
        ax1.text(rc, ax1.get_ylim()[1] * 0.95, f" {pair}", fontsize=7, color="grey", va="top")
    ax1.set_xlabel("r (Å)")
    ax1.set_ylabel("g(r)")
    ax1.legend(fontsize=7, ncol=2)
    ax1.set_title("partial RDFs (dotted: CN cut-offs)")
    ax2.plot(d.sq_q_inv_A, d.sq_neutron, label="neutron")
    ax2.plot(d.sq_q_inv_A, d.sq_xray, label="X-ray")
    ax2.axhline(1.0, color="grey", lw=0.6)
    ax2.set_xlabel("q (1/Å)")
    ax2.set_ylabel("S(q) (Faber–Ziman)")
    ax2.legend()
    ax2.set_title("total structure factors")
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
