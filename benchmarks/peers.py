"""matml beside ace-jax's linear ACE on mlearn: accuracy, fit time and inference speed.

The helper of ``benchmarks/peers.sh``, which runs, in one sitting, ``matml bench mlearn``
and ``../shared/anchors/ace_fit.py`` (in its own venv), then this script twice:

``time``  -- energy + forces + stress of a saved matml model through
    ``matml.calculator.MatmlCalculator`` on the anchor's cells (diamond Si, a = 5.43 Å,
    cubic x2 = 64 atoms and x4 = 512 atoms, ``rattle(0.02, seed=0)``), float32, positions
    moved by 1e-4 Å every step, twice: with the calculator's default Verlet list (1 Å
    skin, as ace-jax's default: reused, the pairs within the cutoff picked at each
    step) and with ``skin=0`` (the list rebuilt every step, as ace's "skin 0" variant),
    so that each ratio compares like with like. As ``ace_fit.py``: first call
    (trace + compile) reported apart, 3 warm-up steps, then ``--rounds`` rounds of
    ``--steps`` timed steps; the median over all steps is the figure.

``merge`` -- ace_fit.json + matml's results.json (+ the timing) -> peers.json: both tables
    per element, the ratios (matml / ace for energy RMSE, force MAE and fit seconds;
    ace µs / matml µs per ace variant for speed, below 1 meaning matml is slower), the
    machine, versions, date and the exact commands.

    python benchmarks/peers.py time --model Si=runs/bench/Si/model.matml --out speed.json
    python benchmarks/peers.py merge --ace ace_fit.json --matml runs/bench/results.json \\
        [--speed speed.json] [--command NAME=CMD ...] --out benchmarks/results/peers.json
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent

# ace_fit.py's speed variants: what each one does, for naming the ratio's peer figure.
ACE_VARIANTS = {
    "radial table": "radial table + reused Verlet list (skin 1 Å)",
    "no radial table": "no radial table + reused Verlet list (skin 1 Å)",
    "radial table, skin 0": "radial table + neighbour list rebuilt every step (skin 0)",
}
# ace's variants that reuse their neighbour list (a 1 Å skin, as matml's default).
ACE_REUSED = {"radial table", "no radial table"}
# matml's calculator timed with these skins (Å): its default, and rebuilt every step.
SKINS = (1.0, 0.0)


def list_protocol(skin: float) -> str:
    if skin:
        return f"reused Verlet list (skin {skin:g} Å)"
    return "neighbour list rebuilt every step (skin 0)"


def si_cell(n_rep: int):
    """The anchors' cell: diamond Si, a = 5.43 Å, cubic, repeated, rattled 0.02 Å."""
    from ase.build import bulk

    atoms = bulk("Si", "diamond", a=5.43, cubic=True).repeat(n_rep)
    atoms.rattle(0.02, seed=0)
    return atoms


def time_model(path: str, n_rep: int, rounds: int, steps: int, skin: float) -> dict:
    import numpy as np

    from matml.calculator import MatmlCalculator

    atoms = si_cell(n_rep)
    # a fresh calculator per cell and skin
    atoms.calc = MatmlCalculator(path, dtype="float32", skin=skin)
    t0 = time.perf_counter()
    atoms.get_stress()  # the first call traces and compiles
    first_call = time.perf_counter() - t0
    for _ in range(3):  # warm-up
        atoms.positions += 1e-4
        atoms.get_stress()
    per_round = []
    for _ in range(rounds):
        t = []
        for _ in range(steps):
            atoms.positions += 1e-4  # a new geometry each step, as in MD
            t0 = time.perf_counter()
            atoms.get_potential_energy(), atoms.get_forces(), atoms.get_stress()
            t.append(time.perf_counter() - t0)
        per_round.append(t)
    n = len(atoms)
    med = float(np.median(np.concatenate(per_round)))
    return {
        "atoms": n,
        "first_call_s": round(first_call, 3),
        "median_ms_per_step": round(1e3 * med, 4),
        "us_per_atom_step": round(1e6 * med / n, 3),
        "us_per_atom_step_min": round(1e6 * float(np.min(per_round)) / n, 3),
        "round_medians_us_per_atom_step": [
            round(1e6 * float(np.median(t)) / n, 3) for t in per_round
        ],
        "shapes_compiled": len(atoms.calc.shapes_seen),
        "skin": skin,
        "neighbour_list": list_protocol(skin),
        "neighbour_list_builds": atoms.calc.neighbors.builds,
    }


def cmd_time(a) -> None:
    rows = []
    for item in a.model:
        element, sep, path = item.partition("=")
        if not sep or not Path(path).is_file():
            raise SystemExit(
                f"--model wants ELEMENT=PATH of a model file, got {item!r}"
            )
        for n_rep, skin in ((n, s) for n in (2, 4) for s in SKINS):  # 64, 512 atoms
            row = {"element_model": element, "model_file": path}
            row |= time_model(path, n_rep, a.rounds, a.steps, skin)
            rows.append(row)
            print(
                f"[matml speed] {element} model, {row['atoms']} Si atoms, "
                f"{row['neighbour_list']}: "
                f"{row['us_per_atom_step']:.1f} µs/atom/step "
                f"(rounds {row['round_medians_us_per_atom_step']}, "
                f"first call {row['first_call_s']:.1f} s)",
                flush=True,
            )
    result = {
        "dtype": "float32",
        "protocol": "MatmlCalculator, energy + forces + stress, positions moved 1e-4 Å "
        "every step, with its default Verlet list (skin 1 Å) and with skin 0 (rebuilt "
        "every step), a fresh calculator for each; 3 warm-up steps, then "
        f"{a.rounds} rounds of {a.steps} steps, median over all steps",
        "cells": "diamond Si, a = 5.43 Å, cubic x2 (64) and x4 (512), rattle(0.02, seed=0)",
        "cpus": len(os.sched_getaffinity(0)),
        "rows": rows,
    }
    Path(a.out).write_text(json.dumps(result, indent=2) + "\n")


def _ratio(x, y, digits=3):
    if x is None or y is None or not y:
        return None
    return round(x / y, digits)


def machine() -> dict:
    cpu = ""
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "nproc": os.cpu_count(),
        "cpus_allowed": len(os.sched_getaffinity(0)),
        "cpu": cpu,
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "platform": platform.platform(),
    }


def matml_versions() -> dict:
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": platform.python_version()}
    for name in ("matml", "jax", "jaxlib", "flax", "ase", "numpy"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = None
    try:
        out["git_commit"] = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=HERE, capture_output=True, text=True,
            check=True,
        ).stdout.strip()  # fmt: skip
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=HERE, capture_output=True, text=True, check=True,
        ).stdout.strip()  # fmt: skip
        out["git_dirty"] = bool(dirty)
    except (OSError, subprocess.CalledProcessError):
        out["git_commit"] = None
    return out


def merge(ace: dict, matml: dict, speed: dict | None, commands: dict) -> dict:
    ace_rows = {r["element"]: r for r in ace.get("fit", [])}
    matml_rows = matml.get("elements", {})
    elements = list(dict.fromkeys(list(matml_rows) + list(ace_rows)))
    tables: dict = {"ace_jax": {}, "matml": {}}
    ratios: dict = {}
    for el in elements:
        a, m = ace_rows.get(el), matml_rows.get(el)
        if a:
            tables["ace_jax"][el] = {
                "energy_rmse_mev_per_atom": a["energy_rmse_mev_atom"],
                "energy_mae_mev_per_atom": a["energy_mae_mev_atom"],
                "force_rmse_ev_per_a": a["force_rmse_ev_a"],
                "force_mae_ev_per_a": a["force_mae_ev_a"],
                "stress_rmse_gpa": a.get("stress_rmse_gpa"),
                "fit_seconds": a["fit_s"],
                "n_basis": a.get("n_basis"),
                "n_train": a.get("n_train"),
                "n_test": a.get("n_test"),
            }
        if m:
            tables["matml"][el] = {
                k: m.get(k)
                for k in (
                    "energy_rmse_mev_per_atom", "energy_mae_mev_per_atom",
                    "force_rmse_ev_per_a", "force_mae_ev_per_a", "stress_rmse_gpa",
                    "train_seconds", "wall_seconds", "n_params", "n_train", "n_test",
                    "model",
                )
            }  # fmt: skip
        if a and m:
            ratios[el] = {
                "energy_rmse_matml_over_ace": _ratio(
                    m["energy_rmse_mev_per_atom"], a["energy_rmse_mev_atom"]
                ),
                "force_mae_matml_over_ace": _ratio(
                    m.get("force_mae_ev_per_a"), a["force_mae_ev_a"]
                ),
                "seconds_matml_train_over_ace_fit": _ratio(
                    m.get("train_seconds"), a["fit_s"]
                ),
            }

    speed_out: dict = {"ace_jax": {}, "matml": {}, "ratios": []}
    ace_dtype = ace.get("speed_dtype", "float64")
    for r in ace.get("speed", []):
        variant = ACE_VARIANTS.get(r["variant"], r["variant"])
        speed_out["ace_jax"].setdefault(variant, {})[str(r["atoms"])] = {
            "us_per_atom_step": r["us_per_atom_step"],
            "first_call_s": r.get("first_call_s"),
            "dtype": ace_dtype,
        }
    if speed:
        for r in speed["rows"]:
            skin = r.get("skin", 0.0)  # files from before the Verlet list: rebuilt
            protocol = list_protocol(skin)
            key = f"{r['element_model']} model, {protocol}"
            speed_out["matml"].setdefault(key, {})[str(r["atoms"])] = {
                "us_per_atom_step": r["us_per_atom_step"],
                "round_medians_us_per_atom_step": r["round_medians_us_per_atom_step"],
                "first_call_s": r["first_call_s"],
                "dtype": speed["dtype"],
                "neighbour_list": protocol,
            }
            for p in ace.get("speed", []):
                if p["atoms"] != r["atoms"]:
                    continue
                speed_out["ratios"].append({
                    "atoms": r["atoms"],
                    "matml": f"{key}, {speed['dtype']}",
                    "ace_variant": f"{ACE_VARIANTS.get(p['variant'], p['variant'])}, "
                    f"{ace_dtype}",
                    "like_with_like_neighbour_list": (p["variant"] in ACE_REUSED)
                    == bool(skin),
                    "ace_us_per_atom_step": round(p["us_per_atom_step"], 3),
                    "matml_us_per_atom_step": r["us_per_atom_step"],
                    "ace_over_matml": _ratio(p["us_per_atom_step"], r["us_per_atom_step"]),
                })  # fmt: skip
        speed_out["matml_protocol"] = speed["protocol"]
        speed_out["cells"] = speed["cells"]
    speed_out["note"] = (
        "ace_over_matml > 1: matml faster. like_with_like_neighbour_list marks the "
        "pairs whose neighbour lists are handled alike (both reused with a 1 Å skin, or "
        "both rebuilt every step). Both processes use every allowed core (XLA)."
    )
    try:
        from matml.bench.mlearn import PUBLISHED

        published = {
            q: {k: {e: v[e] for e in elements if e in v} for k, v in by.items()}
            for q, by in PUBLISHED.items()
        }
    except ImportError:
        published = None
    return {
        "benchmark": "peers: matml bench mlearn beside ace-jax linear ACE",
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "elements": elements,
        "matml_model": matml.get("model"),
        "matml_config": matml.get("config"),
        "ace_basis": ace.get("basis"),
        "accuracy": tables,
        "ratios": ratios,
        "published_zuo_2020": published,
        "speed": speed_out,
        "machine": machine(),
        "versions": {
            "matml_venv": matml_versions(),
            "ace_venv": {k: ace.get(k) for k in ("ace_jax", "jax", "ase")}
            | {"cpus": ace.get("cpus")},
        },
        "commands": commands,
        "raw": {"ace_fit": ace, "matml_speed": speed},
    }


def _fmt(x, digits=2):
    return "-" if x is None else f"{x:.{digits}f}"


def summary(p: dict) -> str:
    lines = [
        "| element | matml E RMSE | ace E RMSE | ratio | matml F MAE | ace F MAE | ratio "
        "| matml s | ace s | ratio |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    m_t, a_t = p["accuracy"]["matml"], p["accuracy"]["ace_jax"]
    for el in p["elements"]:
        m, a, r = m_t.get(el, {}), a_t.get(el, {}), p["ratios"].get(el, {})
        lines.append(
            f"| {el} | {_fmt(m.get('energy_rmse_mev_per_atom'))} "
            f"| {_fmt(a.get('energy_rmse_mev_per_atom'))} "
            f"| {_fmt(r.get('energy_rmse_matml_over_ace'))} "
            f"| {_fmt(m.get('force_mae_ev_per_a'), 4)} "
            f"| {_fmt(a.get('force_mae_ev_per_a'), 4)} "
            f"| {_fmt(r.get('force_mae_matml_over_ace'))} "
            f"| {_fmt(m.get('train_seconds'), 0)} | {_fmt(a.get('fit_seconds'), 0)} "
            f"| {_fmt(r.get('seconds_matml_train_over_ace_fit'))} |"
        )
    if p["speed"]["ratios"]:
        lines += [
            "",
            "| atoms | matml µs/atom/step | ace variant | ace µs/atom/step | ace / matml |",
            "| --- | --- | --- | --- | --- |",
        ]
        for r in p["speed"]["ratios"]:
            lines.append(
                f"| {r['atoms']} | {r['matml_us_per_atom_step']:.1f} | {r['ace_variant']} "
                f"| {r['ace_us_per_atom_step']:.1f} | {_fmt(r['ace_over_matml'])} |"
            )
    return "\n".join(lines)


def cmd_merge(a) -> None:
    ace = json.loads(Path(a.ace).read_text())
    matml = json.loads(Path(a.matml).read_text())
    speed = json.loads(Path(a.speed).read_text()) if a.speed else None
    commands = {}
    for item in a.command:
        name, sep, cmd = item.partition("=")
        if not sep:
            raise SystemExit(f"--command wants NAME=CMD, got {item!r}")
        commands[name] = cmd
    result = merge(ace, matml, speed, commands)
    update_section(Path(a.out), "ace", result)
    print(summary(result))
    print(f"wrote the 'ace' section of {a.out}")


def update_section(out: Path, key: str, value: dict) -> None:
    """peers.json holds one section per suite (``ace``, ``equivariant``): replace one,
    keep the others; written whole to a temporary file, then renamed."""
    old = {}
    if out.exists():
        try:
            old = json.loads(out.read_text())
        except json.JSONDecodeError as e:
            raise SystemExit(f"{out}: not JSON ({e}); move it away first") from None
    old[key] = value
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(old, indent=2) + "\n")
    tmp.replace(out)


# The speed targets: matml's time over the peer's, at both cell sizes.
EQUIVARIANT_TARGETS = {
    ("mace-small", "mace"): 1 / 3,
    ("mace-small", "mlip"): 1 / 3,
    ("nequip-small", "nequix"): 1.0,
    ("nequip-wide", "nequix"): 1.0,
}


def _with_defaults(config: dict) -> dict:
    """A model config with the model's defaults for the keys it leaves out."""
    import inspect

    from matml.models import MODELS

    defaults = {}
    for cls in reversed(MODELS[config["name"]].__mro__):
        init = cls.__dict__.get("__init__")
        if init is not None:
            for q in inspect.signature(init).parameters.values():
                if q.default is not q.empty:
                    defaults[q.name] = q.default
    out = {**defaults, **config}
    # defaults resolved in the constructor: correlation by model name, the first
    # layer's width as `channels`
    cls = MODELS[config["name"]]
    if out.get("correlation", 0) is None:
        out["correlation"] = getattr(cls, "default_correlation", None)
    if "embedding_channels" in out and out["embedding_channels"] is None:
        out["embedding_channels"] = out.get("channels")
    return {k: list(v) if isinstance(v, tuple) else v for k, v in out.items()}


def _same_model(timed: dict, trained: dict) -> bool:
    """Whether a benchmark's model config is the timed one (a key that one side
    leaves out counts as the model's default)."""
    if timed.get("name") != trained.get("name"):
        return False
    a, b = _with_defaults(timed), _with_defaults(trained)
    return all(a.get(k) == b.get(k) for k in set(a) | set(b))


def equivariant(
    speed: dict, accuracy_dir: Path, commands: dict, date: str | None = None
) -> dict:
    """speed.py's record (matml rows + the mace, mlip, nequix anchors) -> the speed
    table, the ratios against the targets, FLOPs, and the mlearn Si accuracy of each
    timed configuration where ``matml bench mlearn`` has measured it."""
    now = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
    # where several records hold a timed configuration, the latest by its "date"
    # wins (a record without one counts as the oldest; then the last file name)
    records = [(json.loads(p.read_text()), p) for p in accuracy_dir.glob("*.json")]
    records.sort(key=lambda rp: (str(rp[0].get("date", "")), rp[1].name))
    accuracy = {}
    for res, path in records:
        si = res.get("elements", {}).get("Si")
        if not si or "config" not in res:
            continue
        for row in speed["rows"]:
            if row["model_config"]["name"] == res["config"]["model"]["name"] and (
                _same_model(row["model_config"], res["config"]["model"])
            ):
                accuracy[row["model"]] = {
                    "file": str(path.relative_to(HERE.parent)),
                    "energy_rmse_mev_per_atom": si["energy_rmse_mev_per_atom"],
                    "force_mae_ev_per_a": si["force_mae_ev_per_a"],
                    "train_seconds": si["train_seconds"],
                }
    ratios = []
    for label, anchor in speed.get("anchors", {}).items():
        peer = label.split(":")[0]
        for c in anchor.get("comparison", []):
            target = EQUIVARIANT_TARGETS.get((c["model"], peer))
            ratio = c["time_ratio_matml_over_peer"]
            ratios.append({
                "model": c["model"], "peer": label, "atoms": c["atoms"],
                "matml_us_per_atom_step": c["matml_us_per_atom_step"],
                "peer_us_per_atom_step": c["peer_us_per_atom_step"],
                "time_ratio_matml_over_peer": ratio,
                "target_ratio_at_most": None if target is None else round(target, 4),
                "meets_target": None if target is None else ratio <= target,
            })  # fmt: skip
    rows = []
    for r in speed["rows"]:
        inf = r["inference"]
        rows.append({
            "model": r["model"], "atoms": inf["atoms"], "n_params": r["n_params"],
            "calculator_us_per_atom_step": inf["calculator"]["us_per_atom_step_median"],
            "bare_us_per_atom_step": inf["bare"]["us_per_atom_step_median"],
            "train_steps_per_s": r["train"]["steps_per_s_median"],
            "flops_per_atom_step": inf.get("flops_per_atom_step"),
            "bare_fraction_of_matmul_peak": inf.get("bare_fraction_of_matmul_peak"),
            "bare_fraction_of_nominal_peak": inf.get("bare_fraction_of_nominal_peak"),
            "mlearn_si": accuracy.get(r["model"]),
        })  # fmt: skip
    return {
        "benchmark": "peers: matml's equivariant models beside mace-torch, mlip, nequix",
        "date": date or now,
        "accuracy_date": now,
        "protocol": speed.get("calculator_protocol"),
        "cells": speed.get("cells"),
        "rows": rows,
        "ratios": ratios,
        "targets": "matml / peer time: mace-small <= 1/3 of mace-torch and of mlip; "
        "nequip-small and nequip-wide <= 1 of nequix's small and wide",
        "machine": speed.get("machine"),
        "versions": {"matml_venv": matml_versions()}
        | {
            label: {k: v for k, v in a.items() if k not in ("comparison", "cells")}
            for label, a in speed.get("anchors", {}).items()
        },  # fmt: skip
        "commands": commands,
    }


def cmd_equivariant(a) -> None:
    speed = json.loads(Path(a.speed).read_text())
    commands = dict(item.partition("=")[::2] for item in a.command)
    result = equivariant(speed, Path(a.accuracy), commands, a.date)
    out = Path(a.out)
    if a.date:  # an earlier sitting's timings: keep its matml version and commands
        before = (
            json.loads(out.read_text()).get("equivariant", {}) if out.exists() else {}
        )
        if before.get("date") != a.date:
            raise SystemExit(
                f"--date {a.date}: {out}'s equivariant section is of "
                f"{before.get('date')}; refresh only the sitting it holds"
            )
        versions = result["versions"]
        versions["accuracy_matml_venv"] = versions["matml_venv"]
        versions["matml_venv"] = before.get("versions", {}).get("matml_venv")
        result["commands"] = {**before.get("commands", {}), **commands}
    update_section(out, "equivariant", result)
    print("| model | peer | atoms | matml µs | peer µs | matml / peer | target |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for r in result["ratios"]:
        target = r["target_ratio_at_most"]
        print(
            f"| {r['model']} | {r['peer']} | {r['atoms']} "
            f"| {r['matml_us_per_atom_step']:.0f} | {r['peer_us_per_atom_step']:.0f} "
            f"| {r['time_ratio_matml_over_peer']:.2f} "
            f"| {'-' if target is None else f'<= {target:.2f}'} |"
        )
    print(f"wrote the 'equivariant' section of {a.out}")


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("time", help="time matml models on the anchors' Si cells")
    t.add_argument("--model", action="append", required=True, metavar="ELEMENT=PATH")
    t.add_argument("--rounds", type=int, default=3)
    t.add_argument("--steps", type=int, default=20)
    t.add_argument("--out", required=True)
    m = sub.add_parser("merge", help="merge ace_fit.json and matml's results")
    m.add_argument("--ace", required=True, help="ace_fit.py's output")
    m.add_argument("--matml", required=True, help="matml bench mlearn's results.json")
    m.add_argument("--speed", help="the output of `peers.py time`")
    m.add_argument("--command", action="append", default=[], metavar="NAME=CMD")
    m.add_argument("--out", default=str(HERE / "results" / "peers.json"))
    e = sub.add_parser("equivariant", help="speed.py's record with its anchors")
    e.add_argument("--speed", required=True, help="benchmarks/speed.py's output")
    e.add_argument("--accuracy", default=str(HERE / "results" / "mlearn"),
                   help="folder of `matml bench mlearn` results (<model>.json)")  # fmt: skip
    e.add_argument("--command", action="append", default=[], metavar="NAME=CMD")
    e.add_argument("--date", help="the timing sitting's date, where --speed is an "
                   "earlier sitting's record (default: now)")  # fmt: skip
    e.add_argument("--out", default=str(HERE / "results" / "peers.json"))
    a = p.parse_args(argv)
    {"time": cmd_time, "merge": cmd_merge, "equivariant": cmd_equivariant}[a.cmd](a)


if __name__ == "__main__":
    sys.exit(main())
