"""Trainer: compile counts, resume, saved models, E0s, loss bookkeeping."""

from __future__ import annotations

import csv
import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from ase.build import bulk
from flax import nnx

from matml.data import Dataset
from matml.demo.emt_copper import label, make_emt_copper
from matml.potential import Potential, fit_e0, fit_scale_shift, load, save
from matml.testing import compute
from matml.train import TrainConfig, Trainer, from_dict
from matml.train.run import train_from_config

CUTOFF = 4.0
TINY = {"hidden": [8, 8], "embedding": 2}


@pytest.fixture(scope="module")
def copper():
    atoms = make_emt_copper(20, seed=1)  # 27, 31 and 32 atoms
    rng = np.random.default_rng(0)
    for reps in ((1, 1, 1), (2, 2, 2)):  # 4 and 108 atoms: wider spread of sizes
        for _ in range(2):
            a = bulk("Cu", "fcc", a=3.59, cubic=True).repeat(reps)
            a.positions += rng.normal(0, 0.05, a.positions.shape)
            atoms.append(label(a))
    return atoms


def _potential(ds, dtype=jnp.float32):
    e0 = fit_e0(ds)
    scale, shift = fit_scale_shift(ds, e0)
    return Potential(
        "pair", ds.species, CUTOFF, TINY, e0=e0, scale=scale, shift=shift, dtype=dtype
    )


def test_epoch_over_varied_sizes_compiles_a_handful_of_times(copper):
    ds = Dataset.from_atoms(copper, CUTOFF, ["Cu"])
    sizes = {s.n_node for s in ds.structures}
    assert len(sizes) >= 4
    cfg = TrainConfig(epochs=2, batch_size=3, n_buckets=3, lr=1e-3)
    trainer = Trainer(_potential(ds), cfg, progress=False)
    trainer.fit(ds)
    n_batches = 2 * -(-len(ds) // 3)
    assert 1 <= trainer.compile_count() <= 3 < n_batches


def test_resume_continues_with_same_optimiser_state(copper, tmp_path, monkeypatch):
    raw = {
        "seed": 1,
        "model": {"name": "pair", "cutoff": CUTOFF, **TINY},
        "data": {"valid_fraction": 0.2},
        "train": {"epochs": 3, "batch_size": 4, "lr": 3e-3, "n_buckets": 1},
    }
    atoms = copper[:12]
    a, b = tmp_path / "a", tmp_path / "b"
    train_from_config(raw, a, progress=False, train_atoms=atoms)
    import matml.train.trainer as trainer_module

    real_save = trainer_module.save_checkpoint

    def killed_after_first_epoch(path, trees, meta):
        real_save(path, trees, meta)
        if meta["epoch"] == 0:
            raise KeyboardInterrupt  # as if the process were killed here

    monkeypatch.setattr(trainer_module, "save_checkpoint", killed_after_first_epoch)
    with pytest.raises(KeyboardInterrupt):
        train_from_config(raw, b, progress=False, train_atoms=atoms)
    monkeypatch.setattr(trainer_module, "save_checkpoint", real_save)
    train_from_config(raw, b, resume=True, progress=False, train_atoms=atoms)

    def rows(p):
        with open(p / "metrics.csv") as fh:
            return list(csv.DictReader(fh))

    ra, rb = rows(a), rows(b)
    assert [r["epoch"] for r in rb] == ["0", "1", "2"]
    for x, y in zip(ra, rb, strict=True):
        assert float(x["train_loss"]) == pytest.approx(float(y["train_loss"]), rel=1e-6)
        assert float(x["valid_loss"]) == pytest.approx(float(y["valid_loss"]), rel=1e-6)
    pa, pb = load(a / "model.matml"), load(b / "model.matml")
    for x, y in zip(
        jax.tree_util.tree_leaves(nnx.state(pa)),
        jax.tree_util.tree_leaves(nnx.state(pb)),
        strict=True,
    ):
        np.testing.assert_allclose(np.asarray(x), np.asarray(y), rtol=1e-6, atol=1e-7)
    # a changed model cannot resume the run
    raw["model"]["hidden"] = [4]
    with pytest.raises(Exception, match="differs from the config"):
        train_from_config(raw, b, resume=True, progress=False, train_atoms=atoms)


def test_save_load_identical_predictions(copper, tmp_path):
    ds = Dataset.from_atoms(copper[:5], CUTOFF, ["Cu"])
    pot = _potential(ds, jnp.float64)
    path = save(pot, tmp_path / "m.matml", extra={"note": "x"})
    again = load(path)
    for atoms in copper[:3]:
        e1, f1, s1, _ = compute(pot, atoms)
        e2, f2, s2, _ = compute(again, atoms)
        assert e1 == e2
        np.testing.assert_array_equal(f1, f2)
        np.testing.assert_array_equal(s1, s2)
    assert again.species == ("Cu",) and again.cutoff == CUTOFF


def test_e0_fit_recovers_known_values():
    rng = np.random.default_rng(0)
    true = {"Li": -1.9, "O": -4.7, "Mn": -8.3}
    atoms_list = []
    for _ in range(40):
        counts = rng.integers(1, 6, size=3)
        symbols = sum(([s] * int(c) for s, c in zip(true, counts, strict=True)), [])
        from ase import Atoms

        a = Atoms(symbols, positions=rng.uniform(0, 20, (len(symbols), 3)))
        a.info["energy"] = sum(true[s] for s in symbols) + rng.normal(0, 1e-3)
        atoms_list.append(a)
    ds = Dataset.from_atoms(atoms_list, 1.0, sorted(true))
    e0 = fit_e0(ds)
    np.testing.assert_allclose(e0, [true[s] for s in sorted(true)], atol=2e-3)


def test_loss_decreases_and_metrics_written(copper, tmp_path):
    raw = {
        "model": {"name": "pair", "cutoff": CUTOFF, **TINY},
        "train": {"epochs": 4, "batch_size": 4, "lr": 1e-2, "n_buckets": 1},
    }
    res = train_from_config(raw, tmp_path, progress=False, train_atoms=copper[:12],
                            test_atoms=copper[12:16])  # fmt: skip
    with open(tmp_path / "metrics.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert float(rows[-1]["train_loss"]) < float(rows[0]["train_loss"])
    assert set(res["test"]) >= {"energy_rmse", "forces_rmse", "stress_rmse"}
    for name in ("model.matml", "parity.png", "learning_curve.png", "run.json",
                 "config.yaml", "metrics.json", "checkpoint.pkl"):  # fmt: skip
        assert (tmp_path / name).is_file(), name


def test_config_unknown_key_is_refused():
    from matml.errors import ConfigError

    with pytest.raises(ConfigError, match=r"field train\.learning_rate: unknown key"):
        from_dict({"train": {"learning_rate": 1e-3}}, file="c.yaml")
    with pytest.raises(ConfigError, match="unknown key 'trian'"):
        from_dict({"trian": {}}, file="c.yaml")
    with pytest.raises(ConfigError, match=r"field model\.widths: unknown key"):
        from_dict({"model": {"name": "pair", "widths": [3]}})
    with pytest.raises(ConfigError, match="unknown model 'allegro'"):
        from_dict({"model": {"name": "allegro"}})
    # YAML reads 1e-3 as a string: numbers are converted, non-numbers refused
    assert from_dict({"train": {"lr": "1e-3"}}).train.lr == 1e-3
    with pytest.raises(ConfigError, match=r"field train\.epochs: must be an integer"):
        from_dict({"train": {"epochs": "abc"}}, file="c.yaml")


def test_empty_training_set_is_an_error(copper, tmp_path):
    from matml.errors import ConfigError, InputError

    raw = {"model": {"name": "pair", "cutoff": CUTOFF, **TINY}}
    with pytest.raises(InputError, match="holds no structures"):
        train_from_config(raw, tmp_path / "unused", progress=False, train_atoms=[])
    raw["data"] = {"valid_fraction": 0.9}
    with pytest.raises(InputError, match="no structures left to train on"):
        out = tmp_path / "unused"
        train_from_config(raw, out, progress=False, train_atoms=copper[:1])
    # a split or weights by an info key that a structure lacks: named, one line
    atoms = [a.copy() for a in copper[:3]]
    for a, g in zip(atoms, ["bulk", None, "bulk"], strict=True):
        if g:
            a.info["facet"] = g
    for key in ("split_by", "balance_by"):
        raw["data"] = {key: "facet"}
        with pytest.raises(InputError, match=rf"data\.{key}.*structure 1 has no info "
                           "key 'facet'"):  # fmt: skip
            train_from_config(
                raw, tmp_path / "unused", progress=False, train_atoms=atoms
            )
    raw["data"] = {"balance_power": 2.0}
    with pytest.raises(ConfigError, match=r"data\.balance_power: must be in \[0, 1\]"):
        train_from_config(raw, tmp_path / "unused", progress=False, train_atoms=atoms)


def test_float64_model_needs_no_global_flag(copper, tmp_path):
    """A float64 potential is built, saved, loaded and run without switching
    jax_enable_x64 on for the process (matml.potential.precision is thread-local)."""
    assert not jax.config.jax_enable_x64
    ds = Dataset.from_atoms(copper[:3], CUTOFF, ["Cu"])
    pot = _potential(ds, jnp.float64)
    again = load(save(pot, tmp_path / "m.matml"))
    assert not jax.config.jax_enable_x64
    assert str(again.dtype) == "float64"
    from matml.testing import compute_batch

    out = compute_batch(again, [copper[0]])
    assert out.energy.dtype == np.float64 and out.forces.dtype == np.float64
    assert not jax.config.jax_enable_x64


def test_newer_model_format_is_refused(copper, tmp_path):
    import json
    import struct

    from matml.errors import InputError
    from matml.potential.serialization import MAGIC

    ds = Dataset.from_atoms(copper[:3], CUTOFF, ["Cu"])
    path = save(_potential(ds), tmp_path / "m.matml")
    blob = path.read_bytes()
    (n,) = struct.unpack("<Q", blob[8:16])
    header = json.loads(blob[16 : 16 + n])
    header["format_version"] = 99
    new = json.dumps(header).encode()
    path.write_bytes(MAGIC + struct.pack("<Q", len(new)) + new + blob[16 + n :])
    with pytest.raises(InputError, match=r"m\.matml: model format version 99 is newer"):
        load(path)


def test_seed_is_not_static_config_and_split_seed_is_separate(copper):
    """Two potentials differing only in their initial weights share the compiled
    step; the validation split follows data.split_seed, not the weights' seed."""
    ds = Dataset.from_atoms(copper[:8], CUTOFF, ["Cu"])
    a = Potential("pair", ["Cu"], CUTOFF, TINY, rngs=1)
    b = Potential("pair", ["Cu"], CUTOFF, TINY, rngs=nnx.Rngs(2))
    ga, sa = nnx.split(a)
    gb, sb = nnx.split(b)
    assert ga == gb and hash(ga) == hash(gb)
    wa, wb = (jax.tree_util.tree_leaves(s) for s in (sa, sb))
    assert any(not np.array_equal(x, y) for x, y in zip(wa, wb, strict=True))
    with pytest.raises(Exception, match="top-level key 'seed'"):
        from_dict({"model": {"name": "pair", "seed": 3}})
    cfg = from_dict({"seed": 5, "data": {"split_seed": 2}})
    assert cfg.seed == 5 and cfg.data.split_seed == 2
    t1, v1 = ds.split(0.25, seed=cfg.data.split_seed)
    t2, v2 = ds.split(0.25, seed=2)
    assert [s.energy for s in v1.structures] == [s.energy for s in v2.structures]


def test_split_stratified_by_labels(copper):
    """With labels, each label holds out its share (at least one of a label with
    more than two structures), reproducibly; a label list of the wrong length is a
    one-line error."""
    from matml.errors import InputError

    ds = Dataset.from_atoms(copper[:8], CUTOFF, ["Cu"])
    labels = ["bulk"] * 5 + ["surface"] * 3
    train, valid = ds.split(0.25, seed=3, labels=labels)
    energy = [s.energy for s in ds.structures]
    held = sorted(energy.index(s.energy) for s in valid.structures)
    kept = sorted(energy.index(s.energy) for s in train.structures)
    assert sorted(held + kept) == list(range(8))
    assert [labels[i] for i in held] == ["bulk", "surface"]  # round(1.25), >= 1
    _, again = ds.split(0.25, seed=3, labels=labels)
    assert [s.energy for s in again.structures] == [s.energy for s in valid.structures]
    with pytest.raises(InputError, match="7 split labels for 8 structures"):
        ds.split(0.25, labels=labels[:7])


def test_evaluate_before_fit_and_exact_batch_sums(copper):
    """evaluate() works on a fresh trainer; its loss is the same whatever the batch
    size (sums and counts are reduced exactly, not means of means)."""
    ds = Dataset.from_atoms(copper[:10], CUTOFF, ["Cu"])
    pot = _potential(ds)
    losses = []
    for batch in (3, 10):
        trainer = Trainer(pot, TrainConfig(batch_size=batch), progress=False)
        loss, metrics = trainer.evaluate(ds)
        losses.append(loss)
        assert metrics["energy_rmse"] > 0 and metrics["forces_rmse"] > 0
    assert losses[0] == pytest.approx(losses[1], rel=1e-5)
    # and the loss is what the metrics say: energy MSE (eV/atom)^2 + forces MSE
    e = (metrics["energy_rmse"] / 1000) ** 2
    f = metrics["forces_rmse"] ** 2
    assert losses[1] == pytest.approx(e + f, rel=1e-4)


def test_diverging_run_leaves_nothing(copper, tmp_path):
    from matml.errors import TrainingError

    raw = {
        "model": {"name": "pair", "cutoff": CUTOFF, **TINY},
        "train": {"epochs": 3, "batch_size": 4, "lr": 1e8, "n_buckets": 1},
    }
    out = tmp_path / "run"
    with pytest.raises(TrainingError, match="train.lr"):
        with jax.debug_nans(False), jax.debug_infs(False):  # the trainer's own check
            train_from_config(raw, out, progress=False, train_atoms=copper[:8])
    assert not out.exists()


def test_stage_two_switches_loss_weights_without_compiling(copper):
    ds = Dataset.from_atoms(copper[:12], CUTOFF, ["Cu"])
    train, valid = ds.split(0.25, seed=0)
    cfg = TrainConfig(epochs=4, batch_size=4, n_buckets=1, lr=1e-3,
                      energy_weight=1.0, forces_weight=1.0, stage_two_fraction=0.5,
                      stage_two_energy_weight=0.0)  # fmt: skip
    trainer = Trainer(_potential(ds), cfg, progress=False)
    history = trainer.fit(train, valid)
    assert history.stage_two_epoch == 2 and history.best_epoch >= 2
    assert trainer.compile_count() == 1
    for row in history.rows:  # the reported loss is the one of the row's stage
        e2 = (row["train_energy_rmse"] / 1e3) ** 2 * (row["epoch"] < 2)
        np.testing.assert_allclose(
            row["train_loss"], e2 + row["train_forces_rmse"] ** 2, rtol=1e-4
        )


def test_stage_two_fraction_is_checked():
    with pytest.raises(ValueError, match="stage_two_fraction"):
        from_dict({"train": {"stage_two_fraction": 1.0}})


def test_stage_two_weight_raised_over_threefold_warns():
    train = {"energy_weight": 10.0, "forces_weight": 1.0, "stage_two_fraction": 0.2}
    with pytest.warns(UserWarning, match=r"stage_two_energy_weight 1000 is over 3x"):
        from_dict({"train": {**train, "stage_two_energy_weight": 1000.0}})
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the same ratio by lowering forces: no warning
        from_dict({"train": {**train, "stage_two_forces_weight": 0.01}})
        # nor without a stage two, nor for a term that stage one leaves out
        from_dict({"train": {**train, "stage_two_fraction": 0.0,
                             "stage_two_energy_weight": 1000.0}})  # fmt: skip
        from_dict({"train": {**train, "stage_two_stress_weight": 1.0}})
