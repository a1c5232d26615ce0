"""``matml bench mlearn`` end to end on a tiny folder (an element mlearn does not
have, in mlearn's JSON format), and its one-line errors."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from matml.cli import app

TINY = """
seed: 0
data: {valid_fraction: 0.5, split_by: group, balance_by: group}
model: {name: descriptor, cutoff: 4.0, max_order: 3, max_degree: 2, hidden: [8]}
train: {epochs: 2, batch_size: 2, n_buckets: 1, energy_weight: 10.0}
"""


def _entry(atoms, group="AIMD-NVT") -> dict:
    """One structure in mlearn's JSON layout (pymatgen Structure dict, kBar virial)."""
    from pymatgen.io.ase import AseAtomsAdaptor

    return {
        "structure": AseAtomsAdaptor.get_structure(atoms).as_dict(),
        "outputs": {
            "energy": float(atoms.get_potential_energy()),
            "forces": atoms.get_forces().tolist(),
            # kBar, VASP order xx yy zz xy yz zx, opposite sign to ASE's stress
            "virial_stress": (
                -atoms.get_stress(voigt=True)[[0, 1, 2, 5, 3, 4]] * 1602.1766208
            ).tolist(),
        },
        "num_atoms": len(atoms),
        "group": group,
    }


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    from ase.build import bulk
    from ase.calculators.emt import EMT

    root = tmp_path_factory.mktemp("mini")
    rng = np.random.default_rng(0)
    for split, n in (("training", 4), ("test", 2)):
        entries = []
        for k in range(n):
            a = bulk("Al", "fcc", a=4.05, cubic=True)
            a.positions += rng.normal(0, 0.05, a.positions.shape)
            a.calc = EMT()
            entries.append(_entry(a, "Surface" if k == 1 else "AIMD-NVT"))
        (root / "Al").mkdir(exist_ok=True)
        (root / "Al" / f"{split}.json").write_text(json.dumps(entries))
    return root


def test_bench_mlearn_writes_every_file(folder, tmp_path):
    cfg = tmp_path / "tiny.yaml"
    cfg.write_text(TINY)
    out = tmp_path / "bench"
    res = CliRunner().invoke(
        app,
        ["bench", "mlearn", "--data-dir", str(folder), "--config", str(cfg),
         "--out", str(out), "--no-progress"],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    results = json.loads((out / "results.json").read_text())
    row = results["elements"]["Al"]
    for key in ("energy_rmse_mev_per_atom", "energy_mae_mev_per_atom",
                "force_rmse_ev_per_a", "force_mae_ev_per_a", "stress_rmse_gpa",
                "train_seconds", "n_params", "model", "config"):  # fmt: skip
        assert key in row, key
    assert row["model"] == "descriptor" and row["n_params"] > 0
    assert row["energy_mae_mev_per_atom"] <= row["energy_rmse_mev_per_atom"]
    assert row["config"]["model"]["max_order"] == 3
    assert (out / "Al" / "parity.png").stat().st_size > 1000
    report = (out / "report.md").read_text()
    assert "| GAP |" in report and "Al" in report
    assert f"{row['energy_rmse_mev_per_atom']:.2f}" in report
    # the test errors by group (one structure each) make up the whole test RMSE
    groups = row["test_energy_by_group"]
    assert sorted(groups) == ["AIMD-NVT", "Surface"]
    assert all(g["n"] == 1 for g in groups.values())
    for g in groups.values():
        assert g["energy_rmse_mev_per_atom"] == pytest.approx(
            abs(g["energy_mean_error_mev_per_atom"])
        )
    whole = np.sqrt(
        np.mean([g["energy_rmse_mev_per_atom"] ** 2 for g in groups.values()])
    )
    assert whole == pytest.approx(row["energy_rmse_mev_per_atom"], rel=1e-3, abs=1e-3)
    assert "| Al | Surface | 1 |" in report


def test_bench_mlearn_missing_file_is_one_line(folder, tmp_path):
    import shutil

    bad = tmp_path / "bad"
    shutil.copytree(folder, bad)
    (bad / "Al" / "test.json").unlink()
    res = CliRunner().invoke(
        app, ["bench", "mlearn", "--data-dir", str(bad), "--elements", "Al"]
    )
    assert res.exit_code != 0
    assert "test.json" in str(res.exception) and "missing" in str(res.exception)
    (bad / "Al" / "test.json").write_text("[{")
    res = CliRunner().invoke(
        app, ["bench", "mlearn", "--data-dir", str(bad), "--elements", "Al"]
    )
    assert res.exit_code != 0 and "test.json" in str(res.exception)


def test_groups_left_out_where_files_have_none():
    """The default's split by group applies where the files have groups, and is left
    out with a note where they have none."""
    from ase import Atoms

    from matml.bench.mlearn import _for_element, default_config

    raw = default_config("descriptor")
    assert raw["data"]["split_by"] == "group"
    grouped = [Atoms("Al", info={"group": "Surface"}), Atoms("Al")]
    notes = []
    assert _for_element(raw, "Al", grouped, notes.append) == raw and not notes
    cfg = _for_element(raw, "Al", [Atoms("Al")], notes.append)
    assert "split_by" not in cfg["data"] and raw["data"]["split_by"] == "group"
    assert notes == ["Al: no structure has 'group'; data.split_by is not applied"]
