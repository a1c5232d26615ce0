"""``matml bench structures``: the end-to-end run on the first 40 compounds, one set of
folds for every model, invariance of the structure features, dropped rows, and the
one-line errors of a missing or corrupt data file."""

from __future__ import annotations

import gzip
import json
import sys

import numpy as np
import pytest
from ase.build import bulk
from sklearn.model_selection import KFold

from matml.bench import structures as sb
from matml.bench.structure_features import invariant_features
from matml.cli import main


@pytest.fixture(scope="module")
def data_file(shared_dir):
    path = shared_dir / "data" / "tables" / "mp_elastic_structures.json.gz"
    if not path.is_file():
        pytest.skip(f"no {path}")
    return path


def run(monkeypatch, capsys, *args) -> tuple[int, str, str]:
    """``matml ARGS`` in this process: (exit code, stdout, stderr)."""
    monkeypatch.setattr(sys, "argv", ["matml", *map(str, args)])
    code = 0
    try:
        main()
    except SystemExit as exc:
        code = exc.code or 0
    out = capsys.readouterr()
    return code, out.out, out.err.strip()


def test_limit_40_end_to_end(monkeypatch, capsys, tmp_path, data_file):
    out = tmp_path / "run"
    code, stdout, err = run(
        monkeypatch, capsys, "bench", "structures", "--data", data_file,
        "--out", out, "--limit", 40, "--n-estimators", 20, "--no-progress",
    )  # fmt: skip
    assert code == 0, err
    res = json.loads((out / "results.json").read_text())
    assert res["n_kept"] == 40 and res["n_rows"] == 2574
    assert res["feature_counts"]["invariants"] == 94  # 2 x 2 x 23 + 2
    for t in ("log_kvrh", "log_gvrh"):
        assert set(res["results"][t]) == {"composition", "invariants"}
        for r in res["results"][t].values():
            assert len(r["fold_maes"]) == 5
            assert np.isfinite(r["fold_maes"]).all() and min(r["fold_maes"]) > 0
            assert r["mae_mean"] == pytest.approx(np.mean(r["fold_maes"]))
            assert r["mae_std"] == pytest.approx(np.std(r["fold_maes"]))
            # far below the spread of the targets (about 0.3 log10 GPa), above zero
            assert 0.01 < r["mae_mean"] < 0.25
    assert any("34 rows without a structure" in n for n in res["notes"])
    report = (out / "report.md").read_text()
    assert "| target | composition | invariants |" in report
    assert "10,987" in report and "0.0491" in report
    assert (out / "run.json").is_file()


def test_every_model_gets_the_same_folds(monkeypatch, data_file):
    data = sb.load_structures(data_file, limit=40)
    seen = []

    def recorder(name):
        def model(data, target, folds, opts):
            seen.append((name, target, [(tr.copy(), te.copy()) for tr, te in folds]))
            return np.zeros(len(data))

        return model

    monkeypatch.setitem(sb.MODELS, "a", recorder("a"))
    monkeypatch.setitem(sb.MODELS, "b", recorder("b"))
    summary = sb.run_structures(data, ["a", "b"], echo=lambda s: None)
    assert [(n, t) for n, t, _ in seen] == [
        ("a", "log_kvrh"), ("b", "log_kvrh"), ("a", "log_gvrh"), ("b", "log_gvrh"),
    ]  # fmt: skip
    reference = list(
        KFold(n_splits=5, shuffle=True, random_state=18012019).split(np.arange(40))
    )
    for _, _, folds in seen:
        assert len(folds) == 5
        for (tr, te), (rtr, rte) in zip(folds, reference, strict=True):
            np.testing.assert_array_equal(tr, rtr)
            np.testing.assert_array_equal(te, rte)
    tests = np.concatenate([te for _, te in reference])
    np.testing.assert_array_equal(np.sort(tests), np.arange(40))
    assert summary["fold_test_indices"] == [te.tolist() for _, te in reference]
    # predicting zeros: the MAE is the mean |y| of each test fold
    y = data.targets["log_gvrh"]
    maes = summary["results"]["log_gvrh"]["b"]["fold_maes"]
    np.testing.assert_allclose(maes, [np.abs(y[te]).mean() for _, te in reference])


def _rotation(seed):
    q, r = np.linalg.qr(np.random.default_rng(seed).normal(size=(3, 3)))
    q = q * np.sign(np.diag(r))
    return q if np.linalg.det(q) < 0 else -q  # a rotation times a reflection


def test_structure_features_are_invariant():
    atoms = bulk("NaCl", "rocksalt", a=5.64, cubic=True) * (1, 1, 2)
    atoms.symbols[[1, 6]] = "K"
    atoms.rattle(0.1, seed=1)
    moved = atoms.copy()
    R = _rotation(7)
    moved.set_cell(atoms.cell[:] @ R.T)
    moved.positions = atoms.positions @ R.T + [0.3, -1.2, 2.0]
    moved = moved[np.random.default_rng(3).permutation(len(atoms))]
    strained = atoms.copy()
    strained.set_cell(atoms.cell[:] * [1.03, 1.0, 1.0], scale_atoms=True)
    X, names = invariant_features([atoms, moved, atoms * (2, 1, 1), strained])
    assert X.shape == (4, 94) and len(names) == 94
    assert names[-2:] == ["volume per atom (Å^3)", "density (g/cm^3)"]
    scale = np.abs(X[0]) + 1e-3 * np.abs(X[0]).max()
    np.testing.assert_array_less(np.abs(X[1] - X[0]), 1e-4 * scale)  # moved
    np.testing.assert_array_less(np.abs(X[2] - X[0]), 1e-4 * scale)  # supercell
    assert np.abs(X[3] - X[0]).max() > 1e-2 * np.abs(X[0]).max()  # strain: not
    vol = atoms.get_volume() / len(atoms)
    assert X[0, -2] == pytest.approx(vol)
    mass = atoms.get_masses().sum() * 1.66053906660e-24  # g
    assert X[0, -1] == pytest.approx(mass / (atoms.get_volume() * 1e-24))
    assert np.std(X[0, :-2]) > 0


def test_non_positive_modulus_is_dropped_and_counted(tmp_path, data_file):
    with gzip.open(data_file) as fh:
        table = json.load(fh)
    table["index"] = table["index"][:20]
    table["data"] = table["data"][:20]
    shear = table["columns"].index("shear_modulus")
    table["data"][4][shear] = 0.0
    table["data"][7][shear] = -3.0
    path = tmp_path / "small.json.gz"
    with gzip.open(path, "wt") as fh:
        json.dump(table, fh)
    data = sb.load_structures(path)
    assert len(data) == 18 and data.n_rows == 20
    assert "2 rows with a missing or non-positive shear_modulus: dropped" in data.notes
    assert all(np.isfinite(v).all() for v in data.targets.values())
    assert data.ids[4] == table["data"][5][table["columns"].index("material_id")]


@pytest.mark.parametrize(
    "content",
    [
        None,
        b"\x1f\x8b\x08\x00garbage",
        gzip.compress(b'{"columns": ["formula"], "index": [0], "data": [["NaCl"]]}'),
    ],
    ids=["missing", "corrupt", "no-structure-column"],
)
def test_bad_data_file_is_one_line(monkeypatch, capsys, tmp_path, content):
    path = tmp_path / "elastic.json.gz"
    if content is not None:
        path.write_bytes(content)
    code, _, err = run(
        monkeypatch, capsys, "bench", "structures", "--data", path, "--out", tmp_path
    )
    assert code == 2
    assert err.count("\n") == 0 and "Traceback" not in err, err
    assert err.startswith(f"error: {path}: "), err
    assert not (tmp_path / "results.json").exists()


def test_unknown_model_is_one_line_before_reading(monkeypatch, capsys, tmp_path):
    code, _, err = run(
        monkeypatch, capsys, "bench", "structures", "--models", "composition,foo",
        "--data", tmp_path / "absent.json.gz", "--out", tmp_path,
    )  # fmt: skip
    assert code == 2
    assert err == (
        "error: field models: unknown model 'foo' (use composition, invariants, "
        "equivariant)"
    )


def test_equivariant_model_on_the_same_folds(data_file):
    """The equivariant model trains one model per fold for both targets (the second
    target reuses its out-of-fold predictions) and predicts each fold's test rows
    (one fold here, to keep the compiles few)."""
    data = sb.load_structures(data_file, limit=30)
    folds = sb.make_folds(len(data))[:1]
    opts = sb.BenchOptions(equivariant_minutes=1.0, equivariant_epochs=1)
    k = sb.MODELS["equivariant"](data, "log_kvrh", folds, opts)
    g = sb.MODELS["equivariant"](data, "log_gvrh", folds, opts)
    assert len(data.__dict__["_equivariant_log"]) == 1  # trained once per fold
    tested = np.concatenate([te for _, te in folds])
    assert np.isfinite(k[tested]).all() and np.isfinite(g[tested]).all()
    assert np.isnan(np.delete(k, tested)).all()  # nothing predicted outside
    # one epoch from scratch: near the training mean (its shift), not yet exact
    for t, pred in (("log_kvrh", k), ("log_gvrh", g)):
        y = data.targets[t][tested]
        assert 0.0 < np.mean(np.abs(pred[tested] - y)) < 1.0
        assert np.std(pred[tested]) > 0
