"""Surface energies of mlearn's slabs, from the DFT data and from trained models.

mlearn's ``Surface`` group holds one relaxed slab per facet. Its surface energy is
``gamma = (E_slab - N e_bulk) / (2 A)`` (two faces of area ``A``), with ``e_bulk`` the
energy per atom of the training set's "Ground state crystal" (mlearn's relaxed bulk;
else its lowest-energy ``Elastic`` structure); a model's gamma uses the model's own
energies for both. A model that fits every group but the surfaces shows here whether
it misses the facet dependence (gamma too uniform) or a constant (every facet off
alike). The data folder defaults to ``$MATML_SHARED/data/mlearn`` (``../shared``).

    python benchmarks/surface_energies.py --element Mo \\
        --model mace=runs/bench-mlearn/Mo/model.matml --out /tmp/mo_gamma.json
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
SHARED = Path(os.environ.get("MATML_SHARED", HERE.parent / ".." / "shared")).resolve()
EV_PER_A2_IN_J_PER_M2 = 16.02176634


def _facet(atoms) -> str:
    d = str(atoms.info.get("description", "?"))
    return d[d.index("_(") + 1 :] if "_(" in d else d


def gamma(energy: float, atoms, e_bulk: float) -> float:
    """Surface energy in J/m^2 of a slab with two faces normal to its cell's c axis."""
    c = atoms.cell.array
    area = float(np.linalg.norm(np.cross(c[0], c[1])))
    return (energy - len(atoms) * e_bulk) / (2 * area) * EV_PER_A2_IN_J_PER_M2


def surface_energies(data_dir: Path, element: str, models=()) -> dict:
    from matml.errors import InputError
    from matml.io import read_mlearn

    try:
        sets = {s: read_mlearn(data_dir / element / f"{s}.json")
                for s in ("training", "test")}  # fmt: skip
    except InputError as e:
        raise SystemExit(f"{element}: {e}") from None
    elastic = [a for a in sets["training"] if a.info.get("group") == "Elastic"]
    if not elastic:
        raise SystemExit(
            f"{element}: no Elastic structure in training.json for the bulk"
        )
    ground = [a for a in elastic if a.info.get("description") == "Ground state crystal"]
    bulk = ground[0] if ground else elastic[
        int(np.argmin([a.info["energy"] / len(a) for a in elastic]))
    ]  # fmt: skip
    slabs = [(s, a) for s, ats in sets.items() for a in ats
             if a.info.get("group") == "Surface"]  # fmt: skip
    if not slabs:
        raise SystemExit(f"{element}: no Surface structure")
    e_bulk = bulk.info["energy"] / len(bulk)
    rows = [{"set": s, "facet": _facet(a), "atoms": len(a),
             "dft_j_per_m2": round(gamma(a.info["energy"], a, e_bulk), 4)}
            for s, a in slabs]  # fmt: skip
    out = {"element": element, "bulk_ev_per_atom": e_bulk, "rows": rows, "models": {}}
    if models:
        from matml.prediction import predict

        labels = []
        for item in models:
            label, sep, path = item.partition("=")
            if not sep:
                label, path = item, item
            if label in labels or label in ("set", "facet", "atoms", "dft_j_per_m2"):
                raise SystemExit(f"--model {item!r}: the label {label!r} is taken")
            labels.append(label)
            e = np.asarray(predict(path, [bulk] + [a for _, a in slabs])["energy"])
            eb = float(e[0]) / len(bulk)
            out["models"][label] = {
                "path": path,
                "bulk_error_mev_per_atom": (eb - e_bulk) * 1000.0,
            }
            for row, (_, a), ei in zip(rows, slabs, e[1:], strict=True):
                row[label] = round(gamma(float(ei), a, eb), 4)
            for split in ("training", "test"):
                err = np.array([r[label] - r["dft_j_per_m2"] for r in rows
                                if r["set"] == split])  # fmt: skip
                if err.size == 0:
                    continue
                out["models"][label][f"{split}_rms_error_j_per_m2"] = float(
                    np.sqrt(np.mean(err**2))
                )
                out["models"][label][f"{split}_mean_error_j_per_m2"] = float(err.mean())
    return out


def table(res: dict) -> str:
    models = list(res["models"])
    cols = ["set", "facet", "atoms", "DFT"] + [
        f"model {i + 1}" for i in range(len(models))
    ]
    lines = ["| " + " | ".join(cols) + " |", "|" + " --- |" * len(cols)]
    for r in res["rows"]:
        cells = [r["set"], r["facet"], str(r["atoms"]), f"{r['dft_j_per_m2']:.2f}"]
        cells += [f"{r[m]:.2f}" for m in models]
        lines.append("| " + " | ".join(cells) + " |")
    for i, m in enumerate(models):
        r = res["models"][m]
        rms = [f"{k} {r[f'{k}_rms_error_j_per_m2']:.3f}" for k in ("training", "test")
               if f"{k}_rms_error_j_per_m2" in r]  # fmt: skip
        lines.append(f"model {i + 1}: {m}; RMS error {', '.join(rms)} J/m^2")
    return "\n".join(lines)


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--element", required=True)
    p.add_argument("--data-dir", default=str(SHARED / "data" / "mlearn"))
    p.add_argument("--model", action="append", default=[], metavar="[LABEL=]PATH",
                   help="a saved model (repeat for several)")  # fmt: skip
    p.add_argument("--out", help="JSON record")
    a = p.parse_args(argv)
    res = surface_energies(Path(a.data_dir), a.element, a.model)
    print(f"{a.element}: surface energies, J/m^2 (bulk {res['bulk_ev_per_atom']:.4f} "
          "eV/atom)")  # fmt: skip
    print(table(res))
    if a.out:
        Path(a.out).write_text(json.dumps(res, indent=2) + "\n")


if __name__ == "__main__":
    sys.exit(main())
