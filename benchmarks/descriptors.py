"""Speed of matml's moment invariants against dscribe's SOAP and the milad package.

All 1,525 atoms of the mlearn Si test set, cutoff 5 Å, CPU. matml: N = 7, degree <= 4
(and, for context, degree <= 3 and <= 2), float32, all environments in one padded batch;
forward pass, and forward + gradient (of a random linear function of all features with
respect to positions and a symmetric strain: what a descriptor potential needs). Peers
run in the same script, one after the other, in a separate venv (they are
benchmark-only dependencies, never matml's):

    python3.11 -m venv /work/venv-bench
    /work/venv-bench/bin/pip install dscribe milad ase pymatgen
    python benchmarks/descriptors.py [--bench-python /work/venv-bench/bin/python]

dscribe SOAP: r_cut 5, n_max 8, l_max 6, periodic, ``create`` on every structure
(its own neighbour search included), and ``derivatives`` on the first structure.
milad 0.3.1: its default descriptor (``milad.descriptor``: Zernike moments N = 7, its
own stored set of invariants), cosine-smoothed cutoff 5 Å, environments from
``milad.play.asetools.extract_environments``, timed over the first ``--milad-atoms``
atoms after a warm-up. milad 0.3.1 imports ``dscribe.descriptors.Descriptor``, which
dscribe 2.x no longer exports; the peer script aliases it before importing milad.

Writes ``benchmarks/results/descriptors.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = (
    Path(os.environ.get("MATML_SHARED", ROOT / ".." / "shared")).resolve()
    / "data"
    / "mlearn"
    / "Si"
    / "test.json"
)

PEERS = r"""
import json, sys, time, warnings
warnings.filterwarnings("ignore")
from pymatgen.core import Structure
from pymatgen.io.ase import AseAtomsAdaptor
path, n_milad, repeats = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
atoms = [AseAtomsAdaptor.get_atoms(Structure.from_dict(d["structure"]))
         for d in json.load(open(path))]
n_atoms = sum(len(a) for a in atoms)
out = {}
try:
    from importlib.metadata import version
    from dscribe.descriptors import SOAP
    soap = SOAP(species=["Si"], r_cut=5.0, n_max=8, l_max=6, periodic=True)
    soap.create(atoms[0])
    ts = []
    for _ in range(repeats):
        t = time.perf_counter(); [soap.create(a) for a in atoms]
        ts.append(time.perf_counter() - t)
    t = time.perf_counter(); soap.derivatives(atoms[0], return_descriptor=True)
    td = time.perf_counter() - t
    out["dscribe_soap"] = {
        "version": version("dscribe"), "n_features": soap.get_number_of_features(),
        "seconds_forward": min(ts), "atoms_per_s_forward": n_atoms / min(ts),
        "atoms_per_s_forward_gradient": len(atoms[0]) / td,
        "gradient_timed_on_atoms": len(atoms[0]),
    }
except Exception as err:
    out["dscribe_soap"] = {"error": repr(err)}
try:
    import dscribe.descriptors, dscribe.descriptors.descriptor as _dd
    if not hasattr(dscribe.descriptors, "Descriptor"):
        dscribe.descriptors.Descriptor = _dd.Descriptor
    import milad
    from importlib.metadata import version
    from milad.play import asetools
    desc = milad.descriptor(cutoff=5.0, smooth_cutoff=True)
    envs = []
    for a in atoms:
        envs += [asetools.ase2milad(e) for e in asetools.extract_environments(a, cutoff=5.0)]
        if len(envs) >= n_milad + 5:
            break
    for e in envs[:5]:
        desc.evaluate(e)
    t = time.perf_counter()
    for e in envs[5 : 5 + n_milad]:
        desc.evaluate(e)
    dt = time.perf_counter() - t
    out["milad"] = {
        "version": version("milad"), "n_features": int(desc.fingerprint_len),
        "timed_on_atoms": n_milad, "atoms_per_s_forward": n_milad / dt,
    }
except Exception as err:
    out["milad"] = {"error": repr(err)}
print(json.dumps(out))
"""


def _time(f, *args, repeats: int) -> tuple[float, float]:
    import jax

    t = time.perf_counter()
    jax.block_until_ready(f(*args))
    first = time.perf_counter() - t
    ts = []
    for _ in range(repeats):
        t = time.perf_counter()
        jax.block_until_ready(f(*args))
        ts.append(time.perf_counter() - t)
    return min(ts), first


def bench_matml(atoms, max_degree: int, repeats: int, gradient: bool) -> dict:
    import jax
    import jax.numpy as jnp

    from matml.descriptors import MomentInvariants

    n_atoms = sum(len(a) for a in atoms)
    desc = MomentInvariants(
        cutoff=5.0, max_order=7, max_degree=max_degree, species=("Si",)
    )
    t = time.perf_counter()
    graph = desc.graph(atoms)
    t_nl = time.perf_counter() - t
    jg = graph.to_jax(jnp.float32)
    sec, first = _time(desc.jit_from_graph, jg, repeats=repeats)
    row = {
        "max_order": 7,
        "max_degree": max_degree,
        "n_features": desc.n_features,
        "counts": desc.counts,
        "seconds_forward": sec,
        "atoms_per_s_forward": n_atoms / sec,
        "seconds_neighbour_list": t_nl,
        "atoms_per_s_forward_incl_neighbour_list": n_atoms / (sec + t_nl),
        "seconds_first_call_compile": first,
    }
    if gradient:
        w = jax.random.normal(jax.random.key(0), (desc.n_features,), jnp.float32)

        def scalar(pos, strain):
            deform = jnp.eye(3) + 0.5 * (strain + strain.T)
            feats = desc.from_graph(jg, pos @ deform, jg.cell @ deform)
            return jnp.sum(feats @ w)

        # compiled as matml compiles its own functions (matml._jit's XLA options)
        from matml._jit import jit

        vg = jit(jax.value_and_grad(scalar, argnums=(0, 1)))
        sec_g, _ = _time(vg, jg.positions, jnp.zeros((3, 3)), repeats=repeats)
        row["seconds_forward_gradient"] = sec_g
        row["atoms_per_s_forward_gradient"] = n_atoms / sec_g
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bench-python", default="/work/venv-bench/bin/python")
    parser.add_argument("--milad-atoms", type=int, default=150)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument(
        "--out", type=Path, default=ROOT / "benchmarks" / "results" / "descriptors.json"
    )
    args = parser.parse_args()

    from matml._files import versions, write_json
    from matml.descriptors import reuse_freed_memory
    from matml.io import read

    reuse_freed_memory()  # opt-in allocator tuning: this process only computes descriptors

    atoms = read(DATA)
    n_atoms = sum(len(a) for a in atoms)
    result = {
        "data": "mlearn Si test.json",
        "n_structures": len(atoms),
        "n_atoms": n_atoms,
        "cutoff": 5.0,
        "cpu_count": os.cpu_count(),
        "load_average_at_start": os.getloadavg(),
        "matml": {},
    }
    # the machine may be shared: measure everything in ``--rounds`` alternating rounds
    # and keep each side's best round
    for rnd in range(args.rounds):
        for deg in (4, 3, 2):
            print(f"round {rnd}: matml degree <= {deg} ...", flush=True)
            row = bench_matml(atoms, deg, args.repeats, gradient=deg >= 3)
            key = f"N7_degree{deg}"
            best = result["matml"].get(key)
            if best is None or row["atoms_per_s_forward"] > best["atoms_per_s_forward"]:
                if best is not None and "atoms_per_s_forward_gradient" in best:
                    row["atoms_per_s_forward_gradient"] = max(
                        row["atoms_per_s_forward_gradient"],
                        best["atoms_per_s_forward_gradient"],
                    )
                result["matml"][key] = row
        if not Path(args.bench_python).exists():
            result["peers_error"] = f"{args.bench_python} not found"
            continue
        print(f"round {rnd}: peers (dscribe SOAP, milad) ...", flush=True)
        with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as fh:
            fh.write(PEERS)
        try:
            proc = subprocess.run(
                [args.bench_python, fh.name, str(DATA), str(args.milad_atoms),
                 str(args.repeats)],
                capture_output=True, text=True, timeout=3600,
            )  # fmt: skip
        finally:
            os.unlink(fh.name)
        if proc.returncode != 0:
            result["peers_error"] = proc.stderr[-2000:]
            continue
        for name, row in json.loads(proc.stdout.strip().splitlines()[-1]).items():
            best = result.get(name)
            rate = row.get("atoms_per_s_forward", 0)
            if best is None or rate > best.get("atoms_per_s_forward", 0):
                result[name] = row
    ours = result["matml"]["N7_degree4"]["atoms_per_s_forward"]
    summary = {}
    soap = result.get("dscribe_soap", {}).get("atoms_per_s_forward")
    milad = result.get("milad", {}).get("atoms_per_s_forward")
    if soap:
        summary["speedup_vs_soap_forward"] = ours / soap
        summary["target_at_least_soap_met"] = bool(ours >= soap)
    if milad:
        summary["speedup_vs_milad_forward"] = ours / milad
        summary["target_100x_milad_met"] = bool(ours >= 100 * milad)
    summary["matml_feature_values_per_s"] = (
        ours * result["matml"]["N7_degree4"]["n_features"]
    )
    if soap:
        nf = result["dscribe_soap"]["n_features"]
        summary["soap_feature_values_per_s"] = soap * nf
    if milad:
        summary["milad_feature_values_per_s"] = milad * result["milad"]["n_features"]
    result["summary"] = summary
    result["load_average_at_end"] = os.getloadavg()
    result["versions"] = versions()
    write_json(args.out, result)
    print(json.dumps({"summary": summary, "matml_N7_deg4_atoms_per_s": ours,
                      "soap": soap, "milad": milad}, indent=1))  # fmt: skip


if __name__ == "__main__":
    sys.exit(main())
