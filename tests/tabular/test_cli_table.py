"""The ``table`` and ``eos`` verbs through the real entry point: wiring, exit codes."""

from __future__ import annotations

import json
import sys

import pandas as pd
import pytest

from matml.cli import main


def run(monkeypatch, capsys, *args) -> tuple[int, str, str]:
    monkeypatch.setattr(sys, "argv", ["matml", *map(str, args)])
    code = 0
    try:
        main()
    except SystemExit as exc:
        code = exc.code or 0
    out = capsys.readouterr()
    return code, out.out, out.err.strip()


def test_fit_and_predict_cli(monkeypatch, capsys, elastic_csv, tmp_path):
    code, out, _ = run(
        monkeypatch,
        capsys,
        "table",
        "fit",
        elastic_csv,
        "--target",
        "K_VRH_GPa",
        "--models",
        "linear,tree",
        "--cv",
        "3",
        "--exclude",
        "G_VRH_GPa,nsites",
        "--features",
        "magpie",
        "--out",
        tmp_path / "fit",
    )
    assert code == 0 and "best:" in out
    run_json = json.loads((tmp_path / "fit" / "run.json").read_text())
    assert run_json["config"]["models"] == ["linear", "tree"]
    assert "nsites" not in run_json["config"]["numeric_columns"]
    code, out, _ = run(
        monkeypatch,
        capsys,
        "table",
        "predict",
        tmp_path / "fit" / "model.joblib",
        elastic_csv,
        "--out",
        tmp_path / "pred",
    )
    assert code == 0 and len(pd.read_csv(tmp_path / "pred" / "predictions.csv")) == 60


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ("--target", "K_VRH_GPa", "--cv", "100"),
            "60 rows is fewer than the 100 CV folds",
        ),
        (
            ("--target", "K_VRH_GPa", "--models", "svm"),
            "unknown regression model 'svm'",
        ),
        (("--target", "K_VRH_GPa", "--exclude", "nope"), "field nope: no such column"),
        (("--target", "K_VRH_GPa", "--features", "bogus"), "unknown feature kind"),
    ],
)
def test_fit_cli_bad_options(monkeypatch, capsys, elastic_csv, tmp_path, args, message):
    code, _, err = run(
        monkeypatch, capsys, "table", "fit", elastic_csv, *args, "--out", tmp_path
    )
    assert code == 2 and message in err and "\n" not in err


def test_eos_cli(monkeypatch, capsys, shared_dir, tmp_path):
    path = shared_dir / "data" / "eos" / "acwf_unaries_pbe_wien2k_eos.csv"
    code, out, _ = run(
        monkeypatch, capsys, "eos", path, "--system", "Al-X/FCC", "--out", tmp_path
    )
    assert code == 0 and "Al-X/FCC" in out
    code, _, err = run(
        monkeypatch, capsys, "eos", path, "--degrees", "2,x", "--out", tmp_path
    )
    assert code == 2 and err.endswith(
        f"{path}: field degrees: --degrees must be integers, got '2,x'"
    )


def test_eos_cli_builds_the_calculator(monkeypatch, capsys, tmp_path):
    """--calculator: 'emt' or a saved model, built by the CLI; errors name the file."""
    from ase.build import bulk
    from ase.io import write

    from matml.potential import Potential, save

    write(tmp_path / "cu.cif", bulk("Cu", "fcc", a=3.6))
    code, out, _ = run(
        monkeypatch, capsys, "eos", tmp_path / "cu.cif", "--calculator", "emt",
        "--out", tmp_path / "emt",
    )  # fmt: skip
    run_json = json.loads((tmp_path / "emt" / "run.json").read_text())
    assert code == 0 and run_json["config"]["source"] == "structures + emt"
    code, _, err = run(
        monkeypatch, capsys, "eos", tmp_path / "cu.cif", "--calculator",
        tmp_path / "absent.matml", "--out", tmp_path / "o",
    )  # fmt: skip
    assert code == 2 and err.endswith(
        f"{tmp_path / 'absent.matml'}: field calculator: "
        "calculator must be 'emt' or the path of a saved matml model"
    )
    model = save(Potential("lj", ["Ar"], 8.0, {"sigma": 3.4}), tmp_path / "ar.matml")
    code, _, err = run(
        monkeypatch, capsys, "eos", tmp_path / "cu.cif", "--calculator", model,
        "--out", tmp_path / "o",
    )  # fmt: skip
    assert code == 2 and "\n" not in err
    assert f"{tmp_path / 'cu.cif'}: entry 0: field numbers: element Cu" in err


def test_bench_cli_unknown_suite(monkeypatch, capsys, tmp_path):
    code, _, err = run(
        monkeypatch, capsys, "table", "bench", "other", "--data-dir", tmp_path
    )
    assert code == 2 and "unknown benchmark suite 'other'" in err
