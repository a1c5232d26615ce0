"""A whole training run from a config: read, validate, normalise, train, evaluate, save.

Writes into ``out_dir``: ``config.yaml`` (resolved), ``run.json`` (config, seed,
versions), ``metrics.csv`` (per epoch), ``checkpoint.pkl``, ``model.matml`` (best EMA
weights), ``metrics.json`` (final validation/test errors), ``parity.png``,
``learning_curve.png``.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from matml import keys
from matml._files import atomic_path, write_json, write_provenance
from matml.errors import ConfigError, InputError, MatmlError
from matml.train.config import RunConfig, from_dict

__all__ = ["balance_weights", "read_source", "train_from_config"]


def read_source(source: str, cfg: RunConfig, split: str = "training"):
    """Structures of a ``data.train``/``data.test`` entry: a file or ``mlearn:EL``."""
    from matml.io import read, validate_structures

    if source.startswith("mlearn:"):
        from matml.io import load_mlearn

        element = source.split(":", 1)[1]
        atoms = load_mlearn(element, split, data_dir=cfg.data.data_dir)
        name = f"mlearn {element} {split}"
    else:
        kw = {}
        for k in ("energy_key", "forces_key", "stress_key"):
            if getattr(cfg.data, k):
                kw[k] = getattr(cfg.data, k)
        atoms = read(source, format=cfg.data.format, **kw)
        name = source
    require = [keys.ENERGY] if cfg.train.fits("energy") else []
    if cfg.train.forces_weight > 0:
        require.append(keys.FORCES)
    validate_structures(atoms, file=name, require=require)
    return atoms, name


def _info_labels(key, field, atoms, store, name):
    """Every structure's ``info[key]`` (None without a key)."""
    if not key:
        return None
    if store:
        raise ConfigError(
            "a prepared store keeps no structure info; give files", field=field
        )
    missing = [i for i, a in enumerate(atoms) if key not in a.info]
    if missing:
        more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
        raise InputError(
            f"structure {missing[0]}{more} has no info key {key!r}",
            file=name,
            field=field,
        )
    return [str(a.info[key]) for a in atoms]


def balance_weights(groups, power: float = 0.5) -> np.ndarray:
    """Per-structure loss weights ``(N / (G n_g)) ** power`` of structures labelled
    ``groups``: ``power`` 1 gives every group the same total weight, 0 leaves all
    at 1.

    >>> balance_weights(["bulk"] * 3 + ["surface"], 1.0).tolist()
    [0.6666666666666666, 0.6666666666666666, 0.6666666666666666, 2.0]
    """
    names, inverse, counts = np.unique(
        np.asarray(groups), return_inverse=True, return_counts=True
    )
    share = len(groups) / (len(names) * counts)
    return share[inverse] ** float(power)


def _check_present(data, name) -> None:
    """Every declared property is held by at least one structure."""
    counts = data.property_counts()
    for p in data.properties:
        if counts[p.name] == 0:
            where = "atoms.arrays" if p.level == "atom" else "atoms.info"
            raise InputError(
                f"no structure holds property {p.name} (key {p.key} in {where}); "
                f"check properties.{p.name}.key",
                file=name,
                field=p.key,
            )


def _e0_array(cfg: RunConfig, train, species) -> np.ndarray:
    from matml.potential import fit_e0

    if cfg.model.e0 == "fit":
        return fit_e0(train)
    if isinstance(cfg.model.e0, dict):
        missing = [s for s in species if s not in cfg.model.e0]
        if missing:
            raise ConfigError(f"no E0 given for {', '.join(missing)}", field="model.e0")
        return np.array([float(cfg.model.e0[s]) for s in species])
    raise ConfigError("must be 'fit' or a mapping element -> eV", field="model.e0")


def _comparable(d: dict) -> dict:
    d = copy.deepcopy(d)
    for k in ("epochs", "max_seconds", "devices"):  # a resumed run may change these
        d.get("train", {}).pop(k, None)
    d.pop("distributed", None)
    return d


def train_from_config(
    cfg: RunConfig | dict,
    out_dir,
    *,
    resume: bool = False,
    progress: bool = True,
    train_atoms=None,
    test_atoms=None,
) -> dict:
    """Run training; returns the final metrics (also written to ``metrics.json``).

    ``train_atoms`` / ``test_atoms`` may be given directly instead of files.
    """
    from matml.potential import precision
    from matml.train.distributed import (
        initialize,
        is_main,
        make_mesh,
        resolve_processes,
    )

    if isinstance(cfg, dict):
        cfg = from_dict(cfg)
    # processes and devices first: a bad setting fails before anything is written
    try:
        initialize(resolve_processes(cfg.distributed))
    except RuntimeError as err:  # JAX had started already
        raise ConfigError(
            f"jax.distributed cannot start: {str(err).splitlines()[0]}",
            field="distributed",
        ) from None
    make_mesh(cfg.train.devices)
    if not is_main():  # only process 0 writes; the others read and compute
        return _train(cfg, Path(out_dir), resume, progress, train_atoms, test_atoms)
    out_dir = Path(out_dir)
    fresh = not out_dir.exists()
    before = set() if fresh else set(out_dir.iterdir())
    try:
        with precision(cfg.dtype):  # float64 runs thread-locally, not process-wide
            return _train(cfg, out_dir, resume, progress, train_atoms, test_atoms)
    except MatmlError:
        # a run that failed (bad input, divergence) leaves nothing half-made behind;
        # an interrupted one keeps its checkpoint, to be resumed
        if not resume:
            _remove_new(out_dir, before, fresh)
        raise


def n_params(potential) -> int:
    """Number of trainable parameters."""
    import jax
    from flax import nnx

    return int(
        sum(x.size for x in jax.tree_util.tree_leaves(nnx.state(potential, nnx.Param)))
    )


def fit_linear_part(cfg, potential, train, valid, progress):
    """Closed-form ridge fit of a model's linear term (see ``matml.train.linear``)."""
    from matml.train.linear import fit_linear

    t = cfg.train
    return fit_linear(potential, train, valid, energy_weight=t.energy_weight,
                      forces_weight=t.forces_weight, stress_weight=t.stress_weight,
                      fit_e0=not isinstance(cfg.model.e0, Mapping),
                      progress=progress)  # fmt: skip


def _fit_linear(cfg, potential, train, valid, out_dir, header, progress):
    """The ``linear`` model: closed-form ridge fit instead of the trainer."""
    from matml.potential import save

    fit = fit_linear_part(cfg, potential, train, valid, progress)
    header["e0"] = dict(zip(header["e0"], fit.e0, strict=True))
    save(potential, out_dir / "model.matml", extra={**header, "ridge_alpha": fit.alpha})
    return {
        "ridge_alpha": fit.alpha,
        "ridge_valid_loss": {f"{a:.0e}": v for a, v in fit.valid_loss.items()},
        "n_rows": fit.n_rows,
    }


def _remove_new(out_dir: Path, before: set, fresh: bool) -> None:
    """Delete what a failed run wrote into ``out_dir`` (the folder too, if it made it)."""
    import shutil

    if not out_dir.is_dir():
        return
    for p in set(out_dir.iterdir()) - before:
        shutil.rmtree(p) if p.is_dir() else p.unlink(missing_ok=True)
    if fresh and not any(out_dir.iterdir()):
        out_dir.rmdir()


def _train(cfg: RunConfig, out_dir: Path, resume, progress, train_atoms, test_atoms):
    import jax.numpy as jnp
    import yaml

    from matml.data import Buckets, Dataset
    from matml.potential import (
        Potential,
        fit_model_statistics,
        fit_property_statistics,
        fit_scale_shift,
    )
    from matml.train.evaluate import evaluate
    from matml.train.plots import learning_curve, parity_plot
    from matml.train.trainer import Trainer

    resolved = cfg.to_dict()
    saved = out_dir / "config.yaml"
    if resume:
        if not saved.exists():
            raise ConfigError("nothing to resume: no config.yaml", file=out_dir)
        old = yaml.safe_load(saved.read_text())
        if _comparable(old) != _comparable(resolved):
            raise ConfigError(
                "differs from the config of the run being resumed (only train.epochs "
                "and train.max_seconds may change)",
                file=saved,
            )
    from matml.data.store import GraphStore, is_store
    from matml.train.distributed import is_main

    main = is_main()
    progress = progress and main
    store = train_atoms is None and is_store(cfg.data.train)
    if cfg.declared and cfg.model.name == "linear":
        raise ConfigError(
            "the linear model is a closed-form fit of energies; declare properties "
            "on descriptor, nequip or mace",
            field="properties",
        )
    if cfg.declared and (store or is_store(cfg.data.test)):
        raise ConfigError(
            "a prepared store holds energies, forces and stresses only; give files "
            "for a run with declared properties",
            field="properties",
        )
    if store:  # a prepared store: read lazily, never whole
        full = GraphStore(cfg.data.train).dataset(cfg.model.cutoff)
        species, train_name = list(full.species), cfg.data.train
    elif train_atoms is None:
        if not cfg.data.train:
            raise ConfigError("no training data given", field="data.train")
        train_atoms, train_name = read_source(cfg.data.train, cfg, "training")
    else:
        train_name = "training structures"
    if not store and not len(train_atoms):
        raise InputError("holds no structures", file=train_name)
    test = None
    if test_atoms is None and is_store(cfg.data.test):
        test = GraphStore(cfg.data.test).dataset(cfg.model.cutoff)
    elif test_atoms is None and cfg.data.test:
        test_atoms, _ = read_source(cfg.data.test, cfg, "test")

    dtype = jnp.float64 if cfg.dtype == "float64" else jnp.float32
    if not store:
        species = sorted(
            {s for a in train_atoms for s in a.get_chemical_symbols()}
            | set(cfg.data.species or ())
        )
        full = Dataset.from_atoms(
            train_atoms,
            cfg.model.cutoff,
            species,
            name=train_name,
            progress=progress,
            properties=cfg.declared,
        )
        _check_present(full, train_name)
    if test is not None:
        test = GraphStore(cfg.data.test).dataset(cfg.model.cutoff, species)
    full.require(
        forces=cfg.train.forces_weight > 0,
        energy=cfg.train.fits("energy"),
    )
    labels = _info_labels(cfg.data.split_by, "data.split_by", train_atoms, store,
                          train_name)  # fmt: skip
    if cfg.data.balance_by:
        groups = _info_labels(cfg.data.balance_by, "data.balance_by", train_atoms,
                              store, train_name)  # fmt: skip
        factor = balance_weights(groups, cfg.data.balance_power)
        for s, f in zip(full.structures, factor, strict=True):
            s.weight = s.weight * float(f)
    train, valid = full.split(
        cfg.data.valid_fraction, seed=cfg.data.split_seed, labels=labels
    )
    if len(train) == 0:
        raise InputError(
            f"no structures left to train on ({len(full)} read, "
            f"valid_fraction {cfg.data.valid_fraction})",
            file=train_name,
        )
    e0 = _e0_array(cfg, train, species)
    scale, shift = fit_scale_shift(train, e0)
    potential = Potential(
        cfg.model.name,
        species,
        cfg.model.cutoff,
        cfg.model.options,
        e0=e0,
        scale=scale,
        shift=shift,
        dtype=dtype,
        rngs=cfg.seed,
        properties=cfg.declared,
        energy_trained=any(cfg.train.fits(k) for k in ("energy", "forces", "stress")),
    )
    fit_property_statistics(potential, train)
    if main:
        out_dir.mkdir(parents=True, exist_ok=True)
        if not resume:
            with atomic_path(saved) as tmp:
                tmp.write_text(yaml.safe_dump(resolved, sort_keys=False))
        write_provenance(out_dir, resolved, cfg.seed)
    header = {"e0": dict(zip(species, map(float, e0), strict=True)), "scale": scale}
    t0 = time.perf_counter()
    fit_model_statistics(potential, train, cfg.train.batch_size)
    if cfg.model.name == "linear":  # one process fits it (a closed form)
        results = _fit_linear(cfg, potential, train, valid, out_dir, header,
                              progress) if main else {}  # fmt: skip
        history = None
    else:
        if getattr(potential.model, "linear", False) is True:
            # on --resume too: the checkpoint holds the trained weights (they replace
            # the fitted ones), not the E0s and feature statistics, which are made
            # again from the same data, as here
            fit = fit_linear_part(cfg, potential, train, valid, progress)
            header["linear_ridge_alpha"] = fit.alpha
            header["e0"] = dict(zip(header["e0"], fit.e0, strict=True))
        trainer = Trainer(
            potential,
            cfg.train,
            out_dir,
            seed=cfg.seed,
            progress=progress,
            dtype=dtype,
            header=header,
        )
        history = trainer.fit(train, valid, resume=resume)
        results = {
            "best_epoch": history.best_epoch,
            "epochs_run": len(history.rows),
            "stopped_early": history.stopped_early,
        }
        if history.stage_two_epoch is not None:
            results["stage_two_epoch"] = history.stage_two_epoch
    results.update(
        train_seconds=round(time.perf_counter() - t0, 2),
        n_params=n_params(potential),
        n_train=len(train),
        n_valid=len(valid),
    )
    if not main:  # process 0 evaluates and writes the results
        return results
    if test_atoms is not None:
        test = Dataset.from_atoms(
            test_atoms, cfg.model.cutoff, species, name="test", properties=cfg.declared
        )
    # one set of padded shapes for the validation and test sets: each compiled once
    held_out = [d for d in (valid, test) if d is not None and len(d)]
    buckets = None
    if held_out:
        buckets = Buckets.for_datasets(
            held_out, cfg.train.batch_size, cfg.train.n_buckets
        )
    valid_eval = None
    if len(valid):
        valid_eval = evaluate(potential, valid, cfg.train.batch_size, buckets=buckets)
        results["valid"] = valid_eval.metrics
    if test is not None:
        ev = evaluate(potential, test, cfg.train.batch_size, buckets=buckets)
        results["test"] = ev.metrics
        results["n_test"] = len(test)
        parity_plot(ev, out_dir / "parity.png", title="test set")
    elif valid_eval is not None:
        parity_plot(valid_eval, out_dir / "parity.png", title="validation set")
    if history is not None and history.rows:
        learning_curve(history.rows, out_dir / "learning_curve.png")
    write_json(out_dir / "metrics.json", results)
    return results
