"""Radial tables (cubic-spline stand-ins for the equivariant models' radial MLPs at
inference) and the first convolution on the one-hot species (``embedding_channels``)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from ase.build import bulk
from flax import nnx
from test_equivariant_models import SMALL, silicon

from matml.calculator import MatmlCalculator
from matml.nn.equivariant import RadialTable
from matml.nn.radial import polynomial_cutoff
from matml.potential import Potential
from matml.testing import (
    assert_forces_match_finite_differences,
    assert_smooth_cutoff,
    compute,
)


def _wiggly(r):
    """A vector-valued radial function like the MLPs': 1/r, several frequencies, an
    envelope that vanishes with two derivatives at the cutoff (5 Å)."""
    k = jnp.arange(1, 4, dtype=r.dtype)
    env = polynomial_cutoff(r, 5.0, 5)
    return jnp.sin(k * jnp.pi * r[:, None] / 5.0) / r[:, None] * env[:, None]


def test_table_reproduces_values_and_slopes():
    with jax.enable_x64(True):
        table = RadialTable(_wiggly, 5.0, intervals=1024, dtype=jnp.float64)
        r = jnp.asarray(np.random.default_rng(0).uniform(0.8, 5.2, 400))
        mask = jnp.ones(r.shape, bool).at[:3].set(False)
        got, slope = jax.jvp(lambda x: table(x, mask), (r,), (jnp.ones_like(r),))
        want, want_slope = jax.jvp(_wiggly, (r,), (jnp.ones_like(r),))
        inside = np.asarray(mask & (r < 5.0))
        # h = 5/1024 Å: cubic Hermite errors ~ h^4 f''''/384 (values), h^3 (slopes)
        np.testing.assert_allclose(got[inside], want[inside], atol=1e-9)
        np.testing.assert_allclose(slope[inside], want_slope[inside], atol=2e-6)
        assert np.all(np.asarray(got)[~inside] == 0.0)  # masked, or beyond the cutoff
        # continuous at a knot: the pieces on either side agree
        knot = 5.0 / 1024 * 300
        side = table(jnp.array([knot - 1e-12, knot + 1e-12]), jnp.ones(2, bool))
        np.testing.assert_allclose(side[0], side[1], atol=1e-10)


@pytest.fixture(scope="module")
def nequip64():
    """A float64 nequip whose radial MLP is wider than its outputs (tabulated whole)."""
    from matml.data import Dataset
    from matml.potential import fit_model_statistics

    pot = Potential("nequip", ["Ge", "Si"], 4.0, {**SMALL, "radial_hidden": [32]},
                    e0=[-4.0, -5.0], scale=20.0, dtype="float64", rngs=2)  # fmt: skip
    ds = Dataset.from_atoms([silicon(k) for k in range(2)], 4.0, ["Ge", "Si"])
    assert fit_model_statistics(pot, ds)
    return pot


def test_tabulated_equals_the_network(nequip64):
    """Both table kinds (the MLP's outputs; its last hidden layer where it has more
    outputs than hidden units, as MACE's many paths) give the network's energies
    (1e-9 eV/atom), forces (1e-6 eV/Å of up to 15) and stress (1e-9) in float64; the
    original is untouched."""
    mace = Potential("mace", ["Ge", "Si"], 4.0, SMALL, e0=[-4.0, -5.0], scale=20.0,
                     dtype="float64", rngs=1)  # fmt: skip
    for pot, hidden in ((nequip64, False), (mace, True)):
        tab = pot.tabulated()
        assert [c.table_hidden for c in tab.model.convolutions] == [hidden] * 2
        assert all(c.table is None for c in pot.model.convolutions)
        atoms = silicon(3)
        e1, f1, s1, _ = compute(pot, atoms)
        e2, f2, s2, _ = compute(tab, atoms)
        assert abs(e1 - e2) / len(atoms) < 1e-9
        np.testing.assert_allclose(f2, f1, atol=1e-6)
        np.testing.assert_allclose(s2, s1, atol=1e-9)


def test_a_tabulated_copy_neither_saves_nor_trains(nequip64, tmp_path):
    from matml.potential import save
    from matml.train import TrainConfig, Trainer

    tab = nequip64.tabulated()
    assert tab.inference_only and not nequip64.inference_only
    with pytest.raises(ValueError, match="tabulated potential .* cannot be saved"):
        save(tab, tmp_path / "t.matml")
    assert not (tmp_path / "t.matml").exists()
    with pytest.raises(ValueError, match="cannot be trained"):
        Trainer(tab, TrainConfig(), progress=False)


def test_tabulated_forces_and_cutoff(nequip64):
    """The spline is C1: forces are the finite differences of its energy, and the
    energy stays smooth as a neighbour crosses the cutoff."""
    tab = nequip64.tabulated()
    assert_forces_match_finite_differences(tab, silicon(4))
    assert_smooth_cutoff(tab)


def test_calculator_tables_in_float32_only(nequip64):
    """Default: tables in float32, the exact network in float64 (and for models
    without radial networks); ``radial_table=False`` opts out. The float32 results
    match the network's to float32 rounding."""
    pot32 = Potential("nequip", ["Si"], 4.0, SMALL, e0=[-5.0], scale=0.3, rngs=1)
    atoms = bulk("Si", "diamond", a=5.43, cubic=True)
    atoms.rattle(0.05, seed=1)
    calc = MatmlCalculator(pot32)
    assert calc.radial_table and calc.potential is pot32
    assert calc.evaluated.inference_only and not pot32.inference_only
    exact = MatmlCalculator(pot32, radial_table=False)
    assert not exact.radial_table
    assert not MatmlCalculator(nequip64).radial_table
    assert not MatmlCalculator(Potential("pair", ["Si"], 4.0)).radial_table
    res = []
    for c in (calc, exact):
        atoms.calc = c
        res.append((atoms.get_potential_energy(), atoms.get_forces()))
    assert res[0][0] == pytest.approx(res[1][0], rel=1e-6, abs=1e-5)
    np.testing.assert_allclose(res[0][1], res[1][1], atol=1e-4)


def test_first_convolution_on_the_species():
    """``embedding_channels: species`` is nequix's design: the first convolution
    moves one channel per species, and nequix small's sizes come to its parameter
    count (26,945) within 31."""
    cfg = {"channels": 32, "hidden_irreps": "0e + 1o", "max_ell": 3,
           "num_interactions": 2, "n_basis": 8, "radial_hidden": [64, 64, 64]}  # fmt: skip
    pot = Potential("nequip", ["Si"], 5.0, {**cfg, "embedding_channels": "species"})
    assert str(pot.model.convolutions[0].irreps_in) == "1x0e"
    n = sum(x.size for x in jax.tree_util.tree_leaves(nnx.state(pot, nnx.Param)))
    assert n == 26914, n
    two = Potential("nequip", ["Ge", "Si"], 5.0, {**SMALL, "embedding_channels": 3})
    assert str(two.model.convolutions[0].irreps_in) == "3x0e"
    e, f, _, _ = compute(two, silicon(1))
    assert np.isfinite(e) and np.all(np.isfinite(f))
    for bad in (0, True, 2.5, "abc"):
        with pytest.raises(ValueError, match=f"embedding_channels {bad!r}"):
            Potential("nequip", ["Si"], 5.0, {**SMALL, "embedding_channels": bad})
