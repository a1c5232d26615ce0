"""Declared properties (issue 14): declarations, data, heads on the equivariant
backbone, loss masks, files, save/load, the calculator and the CLI."""

from __future__ import annotations

import sys

import numpy as np
import pytest
from ase import Atoms
from ase.build import bulk

from matml.data import Dataset, atoms_to_graph
from matml.demo.tensors import make_tensor_clusters, true_chi, true_dipole
from matml.errors import ConfigError, InputError
from matml.potential import Potential, load, save
from matml.properties import parse_properties
from matml.testing import (
    assert_properties_equivariant,
    property_values,
    random_rotation,
    transform_property,
)

SMALL = {"channels": 4, "max_ell": 2, "radial_hidden": [8], "n_basis": 4,
         "readout_hidden": 4}  # fmt: skip

# every level and kind: a moment, structure sum and mean, atom rank 2 (symmetric and
# general), a pseudovector, plain irreps and an edge head
DECLARED = {
    "dipole": {"level": "structure", "reduce": "moment"},
    "pol": {"level": "structure", "cartesian": "symmetric"},
    "gap": {"level": "structure", "irreps": "0e", "reduce": "mean"},
    "chi": {"level": "atom", "cartesian": "symmetric"},
    "born": {"level": "atom", "cartesian": "tensor"},
    "spin": {"level": "atom", "cartesian": "pseudovector"},
    "quad": {"level": "atom", "irreps": "2e + 0e"},
    "multi": {"level": "atom", "irreps": "2x0e + 2x1o"},
    "bond": {"level": "edge", "irreps": "0e + 1o"},
}


def cluster(seed=1) -> Atoms:
    rng = np.random.default_rng(seed)
    pos = bulk("Cu", "fcc", a=3.6, cubic=True).repeat((2, 1, 1)).positions
    a = Atoms("Cu5Au3", positions=pos + rng.normal(0, 0.1, pos.shape))
    return a


def crystal(seed=2) -> Atoms:
    a = bulk("Cu", "fcc", a=3.6, cubic=True)
    a.symbols[1] = "Au"
    rng = np.random.default_rng(seed)
    a.positions += rng.normal(0, 0.1, a.positions.shape)
    return a


def potential(name="nequip", dtype="float64", declared=DECLARED):
    return Potential(name, ["Au", "Cu"], 4.0, SMALL, dtype=dtype, rngs=3,
                     properties=parse_properties(declared))  # fmt: skip


@pytest.fixture(scope="module")
def pot64():
    return potential()


def test_transform_rules_agree_with_e3nn():
    """The Cartesian rule R T R^T equals e3nn's D-matrices on the components."""
    import e3nn_jax as e3nn
    import jax

    (p,) = parse_properties({"t": {"level": "atom", "cartesian": "tensor"}})
    basis = p.basis()  # [3, 3, 9], orthonormal
    comps = np.random.default_rng(0).normal(size=9)
    t = np.einsum("ijk,k->ij", basis, comps)
    for reflect in (False, True):
        rot = random_rotation(5, reflect)
        with jax.enable_x64(True):
            d = np.asarray(e3nn.Irreps(p.irreps).D_from_matrix(rot))
        want = np.einsum("ijk,k->ij", basis, d @ comps)
        np.testing.assert_allclose(transform_property(p, t, rot), want, atol=1e-12)


@pytest.mark.parametrize("atoms", [cluster(), crystal()], ids=["cluster", "crystal"])
def test_heads_equivariant_float64(pot64, atoms):
    assert_properties_equivariant(pot64, atoms)  # 1e-10


def test_heads_equivariant_float32():
    assert_properties_equivariant(potential(dtype="float32"), cluster())  # 1e-5


def test_mace_heads_equivariant():
    declared = {k: DECLARED[k] for k in ("dipole", "born", "bond")}
    assert_properties_equivariant(potential("mace", declared=declared), cluster())


def test_a_wrong_head_fails_the_check(pot64):
    """The check can fail: a vector read as a pseudovector is caught."""
    import dataclasses

    from matml.testing import _close

    spin = next(p for p in pot64.properties if p.name == "spin")
    wrong = dataclasses.replace(spin, cartesian="vector")
    a = cluster()
    ref = property_values(pot64, a)["spin"]
    rot = random_rotation(0, reflect=True)
    b = a.copy()
    b.positions = a.positions @ rot.T
    got = property_values(pot64, b)["spin"]
    _close(got, transform_property(spin, ref, rot), 1e-10, "spin")
    with pytest.raises(AssertionError):
        _close(got, transform_property(wrong, ref, rot), 1e-10, "spin as a vector")


def test_rank2_values_are_3x3(pot64):
    v = property_values(pot64, cluster())
    assert v["chi"].shape == (8, 3, 3) and v["pol"].shape == (3, 3)
    np.testing.assert_allclose(v["chi"], np.swapaxes(v["chi"], 1, 2), atol=1e-12)
    assert np.abs(v["born"] - np.swapaxes(v["born"], 1, 2)).max() > 1e-6
    assert v["gap"].shape == () and v["dipole"].shape == (3,)
    assert v["quad"].shape == (8, 6) and v["spin"].shape == (8, 3)
    assert v["multi"].shape == (8, 8)
    # the equivariance checks are relative to max(1, |v|): every head is not ~0
    for name in DECLARED:
        x = v[name] if name != "bond" else np.stack(list(v[name].values()))
        assert np.abs(x).max() > 1e-3, name


def test_edge_heads_turn_off_the_calculators_verlet_list(pot64):
    """Edge values come per edge of matml.data.neighbor_list, in its order: a model
    with an edge head rebuilds the list at every call (no skin to filter)."""
    from matml.calculator import MatmlCalculator

    assert MatmlCalculator(pot64).neighbors.skin == 0.0


def test_save_load_identical(pot64, tmp_path):
    save(pot64, tmp_path / "m.matml")
    back = load(tmp_path / "m.matml")
    assert [p.name for p in back.properties] == list(DECLARED)
    a, b = property_values(pot64, cluster()), property_values(back, cluster())
    for name in DECLARED:
        if name == "bond":
            assert all(np.array_equal(a[name][k], b[name][k]) for k in a[name])
        else:
            assert np.array_equal(a[name], b[name]), name


def _graph(structures, props):
    return atoms_to_graph(structures, 4.0, ["Au", "Cu"], properties=props)


def test_missing_targets_are_masked(pot64):
    """In a batch mixing structures with and without a dipole the loss reads only
    the present ones: equal to the loss of those alone, blind to the absent target."""
    import jax
    from flax import nnx

    from matml.potential import predict_fn
    from matml.train.loss import error_sums, loss_terms

    props = pot64.properties
    with_d, without = cluster(1), cluster(2)
    with_d.info["REF_dipole"] = np.array([0.3, -0.2, 0.1])
    mixed = _graph([with_d, without], props)
    assert mixed.property_mask["dipole"].tolist()[:2] == [True, False]
    shape = {"n_node": mixed.num_nodes, "n_edge": mixed.num_edges,
             "n_graph": mixed.num_graphs}  # fmt: skip
    alone = atoms_to_graph([with_d], 4.0, ["Au", "Cu"], properties=props, **shape)
    # the absent structure's (masked) target changed: nothing may move
    moved = mixed._replace(properties={**mixed.properties})
    moved.properties["dipole"] = mixed.properties["dipole"].copy()
    moved.properties["dipole"][1] = 9.0
    graphdef, state = nnx.split(pot64)
    fn = predict_fn(graphdef, True, "float64")  # one shape: compiled once
    terms = {}
    with jax.enable_x64(True):
        for name, g in (("mixed", mixed), ("alone", alone), ("moved", moved)):
            g = g.cast("float64")
            pred = fn(state, g)
            terms[name] = jax.device_get(loss_terms(pred, g, props))
            if name == "mixed":
                errs = jax.device_get(error_sums(pred, g, props))
    d = {k: np.asarray(v["dipole"]) for k, v in terms.items()}
    np.testing.assert_allclose(d["mixed"], d["alone"], rtol=1e-12)
    np.testing.assert_allclose(d["moved"], d["mixed"], rtol=1e-12)
    assert d["mixed"][1] == 3 and errs["dipole.n"] == 3
    assert d["mixed"][0] > 0
    assert float(terms["mixed"]["chi"][1]) == 0  # no structure holds chi


def test_extxyz_round_trip_of_tensor_keys(tmp_path):
    from matml.io import read, write_extxyz

    rng = np.random.default_rng(0)
    props = parse_properties(
        {"pol": {"level": "structure", "cartesian": "tensor"},
         "born": {"level": "atom", "cartesian": "tensor"},
         "q": {"level": "atom", "irreps": "0e"}}
    )  # fmt: skip
    a = cluster()
    pol = rng.normal(size=(3, 3))  # not symmetric: the order of the 9 numbers counts
    born = rng.normal(size=(len(a), 3, 3))
    a.info["REF_pol"] = pol
    a.arrays["REF_born"] = born.reshape(len(a), 9)
    a.arrays["REF_q"] = rng.normal(size=len(a))
    write_extxyz(tmp_path / "t.xyz", [a])
    (b,) = read(tmp_path / "t.xyz")
    (s,) = Dataset.from_atoms([b], 4.0, properties=props).structures
    # (extxyz keeps 8 significant digits)
    np.testing.assert_allclose(s.properties["pol"], pol, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(s.properties["born"], born, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(s.properties["q"], a.arrays["REF_q"], rtol=1e-6)


def test_edge_values_with_their_edges(pot64, tmp_path):
    """Edge values given with (centre, neighbour, shift) rows in any order are put in
    the neighbour list's order; matml predict writes such rows, and they read back;
    a missing, extra or repeated edge is a one-line error."""
    from matml.data import neighbor_list
    from matml.errors import InputError
    from matml.io import read, write_extxyz
    from matml.prediction import with_predictions

    (bond,) = parse_properties({"bond": DECLARED["bond"]})
    a = crystal()
    r, s, sh = neighbor_list(a, 4.0)
    rows = np.column_stack([r, s, sh]).astype(int)
    truth = np.random.default_rng(5).normal(size=(len(r), 4))
    perm = np.random.default_rng(6).permutation(len(r))
    a.info["REF_bond"] = truth[perm].ravel()
    a.info["REF_bond_edges"] = rows[perm].ravel()
    write_extxyz(tmp_path / "e.xyz", [a])
    (b,) = read(tmp_path / "e.xyz")
    (st,) = Dataset.from_atoms([b], 4.0, ["Au", "Cu"], properties=[bond]).structures
    np.testing.assert_allclose(st.properties["bond"], truth, rtol=1e-6, atol=1e-8)
    for bad, match in (
        (rows[perm][1:], "has no value"),
        (np.vstack([rows[perm][:-1], [0, 0, 9, 9, 9]]), "is not in the neighbour list"),
        (np.vstack([rows[perm][:-1], rows[perm][:1]]), "is given twice"),
    ):
        c = crystal()
        c.info["REF_bond"] = truth[: len(bad)].ravel()
        c.info["REF_bond_edges"] = bad.ravel()
        with pytest.raises(InputError, match=match) as err:
            Dataset.from_atoms([c], 4.0, ["Au", "Cu"], properties=[bond])
        assert "\n" not in str(err.value)
    # predictions written with their edges read back as the model's values
    (done,) = with_predictions(pot64, [crystal()])
    np.testing.assert_array_equal(done.info["matml_bond_edges"], rows.ravel())
    write_extxyz(tmp_path / "p.xyz", [done])
    (back,) = read(tmp_path / "p.xyz")
    (mine,) = parse_properties({"bond": {**DECLARED["bond"], "key": "matml_bond"}})
    (st,) = Dataset.from_atoms([back], 4.0, ["Au", "Cu"], properties=[mine]).structures
    want = done.info["matml_bond"].reshape(-1, 4)
    np.testing.assert_allclose(st.properties["bond"], want, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize(
    "declared, match",
    [
        ({"x": {"level": "molecule", "irreps": "0e"}}, "unknown level 'molecule'"),
        ({"dipole": {"irreps": "1e"}}, "parity (e/o) does not match a vector"),
        ({"t": {"level": "atom", "cartesian": "symmetric", "irreps": "0e + 2o"}},
         "parity (e/o) does not match a symmetric"),
        ({"x": {"level": "atom", "irreps": "0e", "unit": "eV"}}, "unknown key 'unit'"),
        ({"x": {"level": "atom", "irreps": "0e", "reduce": "sum"}}, "reduce applies"),
        ({"x": {"level": "structure", "irreps": "2e", "reduce": "moment"}},
         "reduce: moment makes a dipole"),
        ({"energy": {"level": "structure", "irreps": "0e"}}, "is built in"),
        ({"x": {"level": "atom", "irreps": "1q"}}, "not e3nn irreps"),
        ({"x": {"level": "atom"}}, "give its irreps"),
        ({"energies": {"level": "atom", "irreps": "0e"}}, "calculator already gives"),
        ({"dipole": {"level": "atom"}}, "a dipole is a structure-level property"),
        ({"x": {"level": "atom", "irreps": "0e", "weight": "inf"}}, "finite number"),
        ({"x": {"level": "atom", "irreps": "0e", "hidden": 0}}, "MLP width"),
    ],
)  # fmt: skip
def test_bad_declarations_are_one_line_errors(declared, match):
    with pytest.raises(ConfigError, match=__import__("re").escape(match)) as err:
        parse_properties(declared)
    assert "\n" not in str(err.value)


def test_config_of_older_runs_compares_equal():
    """A run made before properties and data.species existed still resumes: the
    resolved config leaves out both when unset."""
    from matml.train.config import from_dict

    d = from_dict({"data": {"train": "x.xyz"}}).to_dict()
    assert "properties" not in d and "species" not in d["data"]
    with pytest.raises(ConfigError, match="list of element symbols"):
        from_dict({"data": {"train": "x.xyz", "species": "Cu"}})


def test_data_errors_name_the_property(pot64, tmp_path):
    from matml.io import read, write_extxyz

    (dipole,) = parse_properties({"dipole": {}})  # reduce: moment by default
    assert dipole.reduce == "moment"
    a = crystal()
    a.info["REF_dipole"] = np.ones(3)
    with pytest.raises(InputError, match="periodic structure does not define") as e:
        Dataset.from_atoms([a], 4.0, properties=[dipole])
    assert "field REF_dipole" in str(e.value) and "\n" not in str(e.value)
    (chi,) = parse_properties({"chi": {"level": "atom", "cartesian": "symmetric"}})
    b = cluster()
    b.arrays["REF_chi"] = np.random.default_rng(0).normal(size=(8, 9))
    with pytest.raises(InputError, match="declared symmetric but is not"):
        Dataset.from_atoms([b], 4.0, properties=[chi])
    # a model's properties missing from a data set: one line, not a KeyError
    from matml.train.evaluate import evaluate

    with pytest.raises(InputError, match="the model predicts dipole, pol"):
        evaluate(pot64, Dataset.from_atoms([cluster()], 4.0, ["Au", "Cu"]))
    # ASE moves a plain 'dipole' key into a calculator: it stays readable
    c = cluster()
    c.info["dipole"] = np.array([0.1, 0.2, 0.3])
    write_extxyz(tmp_path / "d.xyz", [c])
    (back,) = read(tmp_path / "d.xyz")
    np.testing.assert_allclose(back.info["dipole"], [0.1, 0.2, 0.3])


def test_head_width_is_declared():
    (p,) = parse_properties({"gap": {"level": "structure", "irreps": "0e",
                                     "hidden": 7}})  # fmt: skip
    pot = Potential("nequip", ["Cu"], 4.0, SMALL, properties=[p])
    layers = pot.heads[0].scalar_mlp.layers
    assert [(x.in_features, x.out_features) for x in layers] == [(4, 7), (7, 1)]
    assert load_header_properties(pot)[0].hidden == 7
    from matml.properties import as_records

    # the default width is left out of headers, so older versions still read them
    (plain,) = parse_properties({"gap": {"level": "structure", "irreps": "0e"}})
    assert "hidden" not in as_records([plain])[0]


def load_header_properties(pot):
    from matml.properties import as_records

    return parse_properties(as_records(pot.properties))


def test_unreachable_irreps_and_models_without_heads():
    with pytest.raises(ConfigError, match="0o cannot be made") as err:
        Potential("nequip", ["Cu"], 4.0, {**SMALL, "hidden_irreps": "0e"},
                  properties=parse_properties({"x": {"level": "atom",
                                                     "irreps": "0o"}}))  # fmt: skip
    assert "\n" not in str(err.value)
    with pytest.raises(ConfigError, match="model 'pair' has no output heads"):
        Potential("pair", ["Cu"], 4.0, properties=parse_properties({"dipole": {}}))


def test_invariant_model_scalar_heads():
    """The descriptor network takes scalar heads (per atom, per structure), invariant
    under rotations, inversion, translation and permutation; tensors are refused."""
    scalars = {"gap": {"level": "structure", "irreps": "0e", "reduce": "mean"},
               "q": {"level": "atom", "irreps": "2x0e"}}  # fmt: skip
    pot = Potential("descriptor", ["Au", "Cu"], 4.0,
                    {"max_order": 3, "max_degree": 2, "hidden": [8]}, dtype="float64",
                    properties=parse_properties(scalars))  # fmt: skip
    assert_properties_equivariant(pot, cluster())
    v = property_values(pot, cluster())
    assert v["gap"].shape == () and v["q"].shape == (8, 2)
    with pytest.raises(ConfigError, match="an invariant model's heads make scalars"):
        Potential("descriptor", ["Cu"], 4.0, {"max_order": 3, "max_degree": 2},
                  properties=parse_properties({"dipole": {}}))  # fmt: skip


def _cli(monkeypatch, capsys, *args):
    from matml.cli import main

    monkeypatch.setattr(sys, "argv", ["matml", *map(str, args)])
    with pytest.raises(SystemExit) as exc:
        main()
    out = capsys.readouterr()
    return exc.value.code, out.out + out.err


@pytest.fixture(scope="module")
def tensor_data():
    return make_tensor_clusters(44, seed=0)


def test_absent_key_is_an_error_and_leaves_nothing(tensor_data, tmp_path):
    from matml.train.run import train_from_config

    cfg = {"model": {"name": "nequip", "cutoff": 4.0, **SMALL},
           "properties": {"dipole": {"key": "MY_dipole"}},
           "train": {"epochs": 1}}  # fmt: skip
    with pytest.raises(InputError, match="no structure holds property dipole") as e:
        train_from_config(cfg, tmp_path / "run", train_atoms=tensor_data[:4],
                          progress=False)  # fmt: skip
    assert "key MY_dipole" in str(e.value) and "\n" not in str(e.value)
    assert not (tmp_path / "run").exists()


def test_training_on_properties_alone(tensor_data, tmp_path):
    """Structures with neither energy nor forces train a scalar head alone (no
    gradient pass); the metrics hold the head's errors and no energy's."""
    from matml.demo.tensors import true_charges
    from matml.train.run import train_from_config

    data = []
    for a in tensor_data[:20]:
        b = a.copy()
        del b.info["energy"], b.arrays["forces"]
        b.info["REF_spread"] = float(np.std(true_charges(a)))
        data.append(b)
    cfg = {"model": {"name": "nequip", "cutoff": 4.0, **SMALL},
           "properties": {"spread": {"level": "structure", "irreps": "0e",
                                     "reduce": "mean"}},
           "data": {"valid_fraction": 0.25},
           "train": {"epochs": 6, "batch_size": 5, "n_buckets": 1, "lr": 0.02, "energy_weight": 0,
                     "forces_weight": 0}}  # fmt: skip
    res = train_from_config(cfg, tmp_path / "run", train_atoms=data, progress=False)
    assert "energy_rmse" not in res["valid"] and "forces_rmse" not in res["valid"]
    import csv

    with open(tmp_path / "run" / "metrics.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert rows[0]["train_forces_rmse"] == "" and rows[0]["train_energy_rmse"] == ""
    from matml.train.plots import curve_names

    assert curve_names(rows) == ["spread"]  # the learning curve's one panel
    assert float(rows[-1]["valid_loss"]) < float(rows[0]["valid_loss"])
    assert res["valid"]["spread_rmse"] > 0
    # its calculator and matml.predict offer the property alone, not an energy
    from ase.calculators.calculator import PropertyNotImplementedError

    import matml
    from matml.calculator import MatmlCalculator

    model = tmp_path / "run" / "model.matml"
    out = matml.predict(model, data[0])
    assert set(out) == {"spread"}
    atoms = data[0].copy()
    atoms.calc = MatmlCalculator(model)
    assert atoms.calc.get_property("spread", atoms) == pytest.approx(out["spread"])
    with pytest.raises(PropertyNotImplementedError, match="energy property not"):
        atoms.get_potential_energy()


def test_data_values_are_the_truth(tensor_data):
    a = tensor_data[3]
    np.testing.assert_allclose(a.info["REF_dipole"], true_dipole(a), atol=1e-12)
    np.testing.assert_allclose(a.arrays["REF_chi"].reshape(-1, 3, 3), true_chi(a))
    # the charges are neutral: the dipole does not move with the origin
    b = a.copy()
    b.positions += 5.0
    np.testing.assert_allclose(true_dipole(b), true_dipole(a), atol=1e-12)


def test_train_predict_evaluate_end_to_end(tensor_data, tmp_path, monkeypatch, capsys):
    """matml train with two heads (some structures lack the dipole) lowers both
    property errors; matml predict writes them as extxyz keys equal to
    matml.predict; the calculator gives the dipole under ASE's name."""
    import csv

    import yaml

    import matml
    from matml.calculator import MatmlCalculator
    from matml.io import read, write_extxyz

    data = [a.copy() for a in tensor_data]
    for a in data[::4]:
        del a.info["REF_dipole"]
    write_extxyz(tmp_path / "train.xyz", data[:40])
    write_extxyz(tmp_path / "test.xyz", data[40:])
    cfg = {
        "seed": 0,
        "data": {"train": str(tmp_path / "train.xyz"),
                 "test": str(tmp_path / "test.xyz"), "valid_fraction": 0.25},
        "model": {"name": "nequip", "cutoff": 4.0, "channels": 8, "max_ell": 2,
                  "radial_hidden": [16]},
        "properties": {"dipole": {"weight": 100},
                       "chi": {"level": "atom", "cartesian": "symmetric",
                               "weight": 100}},
        "train": {"epochs": 12, "batch_size": 6, "n_buckets": 1, "lr": 0.01, "energy_weight": 0.01,
                  "forces_weight": 0.01},
    }  # fmt: skip
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(cfg))
    code, out = _cli(monkeypatch, capsys, "train", tmp_path / "c.yaml",
                     "--out", tmp_path / "run", "--no-progress")  # fmt: skip
    assert code in (0, None), out
    assert "dipole RMSE" in out and "chi RMSE" in out
    with open(tmp_path / "run" / "metrics.csv") as fh:
        rows = list(csv.DictReader(fh))
    first, last = rows[0], rows[-1]
    from matml.train.plots import curve_names

    assert curve_names(rows) == ["energy", "forces", "chi", "dipole"]  # no stress
    # stated factors, after 12 epochs: the dipole's validation RMSE falls by half or
    # more, the tensor's (which starts nearer its floor) by a fifth or more
    assert float(last["valid_chi_rmse"]) < 0.8 * float(first["valid_chi_rmse"])
    assert float(last["train_dipole_rmse"]) < float(first["train_dipole_rmse"])
    assert float(last["valid_dipole_rmse"]) < 0.5 * float(first["valid_dipole_rmse"])

    model = tmp_path / "run" / "model.matml"
    code, out = _cli(monkeypatch, capsys, "predict", model, tmp_path / "test.xyz",
                     "--out", tmp_path / "pred.xyz")  # fmt: skip
    assert code in (0, None), out
    got = read(tmp_path / "pred.xyz")
    want = matml.predict(model, data[40:])
    for a, d, c in zip(got, want["dipole"], want["chi"], strict=True):
        np.testing.assert_allclose(a.info["matml_dipole"], d, rtol=1e-6, atol=1e-7)
        np.testing.assert_allclose(
            a.arrays["matml_chi"].reshape(-1, 3, 3), c, rtol=1e-6, atol=1e-7
        )
        assert "REF_chi" in a.arrays  # the input's references are kept beside
    atoms = data[41].copy()
    atoms.calc = MatmlCalculator(model)
    np.testing.assert_allclose(atoms.get_dipole_moment(), want["dipole"][1],
                               rtol=1e-5, atol=1e-6)  # fmt: skip
    assert atoms.calc.results["chi"].shape == (len(atoms), 3, 3)

    code, out = _cli(monkeypatch, capsys, "evaluate", model, tmp_path / "test.xyz")
    assert code in (0, None) and "dipole RMSE" in out
