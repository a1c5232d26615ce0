"""The equivariant potentials (``nequip`` and ``mace``, one code): the physics battery
of ``matml.testing`` (float64), the neighbour statistics, save/load, and training
from a config."""

from __future__ import annotations

import numpy as np
import pytest
from ase import Atoms
from ase.build import bulk

from matml.data import Dataset
from matml.potential import Potential, fit_model_statistics, load, save
from matml.testing import check_potential, compute

# small but complete: both parities, l up to 2, two layers, several species
SMALL = {"channels": 4, "max_ell": 2, "radial_hidden": [8], "n_basis": 4,
         "readout_hidden": 4}  # fmt: skip


def silicon(seed=0) -> Atoms:
    a = bulk("Si", "diamond", a=5.43, cubic=True)
    rng = np.random.default_rng(seed)
    a.positions += rng.normal(0, 0.1, a.positions.shape)
    a.set_cell(a.cell[:] @ (np.eye(3) + rng.normal(0, 0.02, (3, 3))), scale_atoms=True)
    a.symbols[[1, 4]] = "Ge"
    return a


def cluster(seed=1) -> Atoms:
    rng = np.random.default_rng(seed)
    pos = bulk("Si", "diamond", a=5.43, cubic=True).positions[:6]
    return Atoms("Si4Ge2", positions=pos + rng.normal(0, 0.1, (6, 3)))


@pytest.fixture(scope="module", params=["nequip", "mace"])
def potential(request):
    pot = Potential(request.param, ["Ge", "Si"], 4.0, SMALL, e0=[-4.0, -5.0],
                    scale=20.0, dtype="float64", rngs=1)  # fmt: skip
    ds = Dataset.from_atoms([silicon(k) for k in range(2)], 4.0, ["Ge", "Si"])
    assert fit_model_statistics(pot, ds)
    return pot


def test_physics_battery(potential):
    check_potential(potential, silicon(4), cluster())


def test_average_neighbours_from_training_data(potential):
    ds = Dataset.from_atoms([silicon(k) for k in range(2)], 4.0, ["Ge", "Si"])
    want = sum(s.n_edge for s in ds.structures) / sum(s.n_node for s in ds.structures)
    assert float(potential.model.avg_num_neighbors[...]) == pytest.approx(want)
    assert want > 8  # diamond within 4 Å: 4 + 12 neighbours, rattled


def test_models_differ_only_in_correlation():
    mace = Potential("mace", ["Si"], 4.0, SMALL)
    nequip = Potential("nequip", ["Si"], 4.0, SMALL)
    assert mace.model.correlation == 3 and nequip.model.correlation == 0
    again = Potential("nequip", ["Si"], 4.0, {**SMALL, "correlation": 3})
    assert again.model.correlation == 3


def test_save_load_identical(potential, tmp_path):
    again = load(save(potential, tmp_path / "e.matml"))
    for atoms in (silicon(7), cluster(3)):
        e1, f1, s1, _ = compute(potential, atoms)
        e2, f2, s2, _ = compute(again, atoms)
        assert e1 == e2
        np.testing.assert_array_equal(f1, f2)
        np.testing.assert_array_equal(s1, s2)
    assert float(again.model.avg_num_neighbors[...]) == float(
        potential.model.avg_num_neighbors[...]
    )


def test_bad_options_are_one_line_errors():
    from matml.errors import ConfigError

    with pytest.raises(ValueError, match="hidden_irreps"):
        Potential("mace", ["Si"], 4.0, {**SMALL, "hidden_irreps": "2x0e + 1o"})
    with pytest.raises(ValueError, match="correlation >= 0"):
        Potential("mace", ["Si"], 4.0, {**SMALL, "correlation": -1})
    with pytest.raises(ConfigError, match="unexpected keyword"):
        Potential("mace", ["Si"], 4.0, {**SMALL, "chanels": 8})


def test_trains_from_a_config_and_learns(tmp_path):
    """``nequip`` through the common trainer on EMT copper: the training loss falls,
    and the saved model is the model trained, with its neighbour statistics."""
    import csv

    from matml.demo.emt_copper import make_emt_copper
    from matml.train.run import train_from_config

    raw = {
        "seed": 0,
        "model": {"name": "nequip", "cutoff": 4.0, **SMALL, "channels": 8},
        "data": {"valid_fraction": 0.25},
        "train": {"epochs": 12, "batch_size": 4, "lr": 1e-2, "n_buckets": 1,
                  "energy_weight": 10.0, "forces_weight": 1.0},
    }  # fmt: skip
    train_from_config(raw, tmp_path, progress=False, train_atoms=make_emt_copper(24))
    with open(tmp_path / "metrics.csv") as fh:
        rows = list(csv.DictReader(fh))
    losses = [float(r["train_loss"]) for r in rows]
    assert min(losses[-3:]) < 0.5 * losses[0], losses
    pot = load(tmp_path / "model.matml")
    assert pot.model_name == "nequip" and pot.model.avg_num_neighbors[...] > 10


def test_md_in_the_calculator_compiles_at_most_twice():
    """200 steps of NVE at 1,000 K of a 64-atom Si cell through the ASE calculator,
    float32 (atoms move about 0.2 Å per 2 fs step, so the neighbour count changes all
    the time): the calculator's sticky padding keeps the compiled shapes, so XLA builds
    two executables (the first cell's and, as the neighbour count grows, one more;
    without the sticky padding it builds 14). ``nequip``: an untrained ``mace``'s
    random product basis is not a potential one can run MD in; the calculator's path
    is the same for both."""
    from matml.calculator import MatmlCalculator
    from matml.simulate import nve_drift
    from matml.testing import count_compiles

    pot = Potential("nequip", ["Si"], 4.0, SMALL, e0=[-5.0], scale=0.3, rngs=1)
    atoms = bulk("Si", "diamond", a=5.43, cubic=True).repeat(2)
    calc = MatmlCalculator(pot)
    with count_compiles() as built:
        md = nve_drift(atoms, calc, steps=200, timestep_fs=2.0, temperature_K=1000.0)
    assert 300 < md["mean_temperature_K"] < 3000  # a thermal run, not an explosion
    assert 1 <= len(built) <= 2, built
    assert len(calc.shapes_seen) == len(built)


def test_species_features_enter_the_embedding(tmp_path):
    """``species_features: magpie``: the embedding is (learned row + the element's
    standardised Magpie properties times a learned map) / sqrt(2); the properties are
    saved with the model; an unknown kind is an error."""
    import jax.numpy as jnp

    from matml.io.elements import element_features, magpie_table

    pot = Potential("nequip", ["Ge", "Si"], 4.0,
                    {**SMALL, "species_features": "magpie"}, rngs=1)  # fmt: skip
    emb = pot.model.embedding
    f = element_features(["Ge", "Si"])
    table, names, _ = magpie_table()
    i = names.index("Electronegativity")
    assert table[13, i] == pytest.approx(1.90)  # Si, Pauling
    col = table[:, i]
    assert f[1, i] == pytest.approx((1.90 - np.nanmean(col)) / np.nanstd(col))
    np.testing.assert_allclose(np.asarray(emb.features[...]), f, rtol=1e-6)
    got = np.asarray(emb(jnp.array([1, 0, 1])))[:, 0]
    rows = (np.asarray(emb.table[...]) + f @ np.asarray(emb.project[...])) / np.sqrt(2)
    np.testing.assert_allclose(got, rows[[1, 0, 1]], rtol=1e-5, atol=1e-6)
    again = load(save(pot, tmp_path / "m.matml"))
    e1, f1, _, _ = compute(pot, silicon(2))
    e2, f2, _, _ = compute(again, silicon(2))
    assert e1 == e2
    np.testing.assert_array_equal(f1, f2)
    import jax

    with jax.enable_x64(True):  # a float32 model stays float32 when x64 is on
        p32 = Potential("nequip", ["Si"], 4.0, {**SMALL, "species_features": "magpie"})
        assert p32.model.embedding.project[...].dtype == jnp.float32
        assert p32.model.embedding(jnp.array([0])).dtype == jnp.float32
    with pytest.raises(ValueError, match="species_features 'mendeleev'"):
        Potential("nequip", ["Si"], 4.0, {**SMALL, "species_features": "mendeleev"})
