"""One trainer for every potential: AdamW with warm-up and cosine decay, EMA weights for
evaluation, early stopping on the validation loss, a checkpoint each epoch, resume."""

from __future__ import annotations

import csv
import math
import time
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

from matml._files import remove_temporaries
from matml._jit import jit
from matml.data import AtomsGraph, Buckets, Dataset, GraphLoader, prefetch
from matml.errors import InputError, TrainingError
from matml.potential import Potential, precision, predict, save
from matml.train.checkpoint import (
    load_checkpoint,
    read_checkpoint_meta,
    save_checkpoint,
)
from matml.train.config import TrainConfig
from matml.train.loss import (
    error_sums,
    loss_terms,
    metrics_from_sums,
    weighted_loss,
    zero_sums,
)

__all__ = ["Trainer", "History"]

CSV_FIELDS = [
    "epoch", "lr", "seconds", "train_loss", "train_energy_rmse", "train_forces_rmse",
    "valid_loss", "valid_energy_rmse", "valid_energy_mae", "valid_forces_rmse",
    "valid_forces_mae", "valid_stress_rmse", "valid_stress_mae",
]  # fmt: skip


@dataclass
class History:
    rows: list[dict] = field(default_factory=list)
    best_epoch: int = -1
    best_valid_loss: float = math.inf
    stopped_early: bool = False
    stage_two_epoch: int | None = None  # first epoch of stage two, if it ran


class _Spec(NamedTuple):
    stress: bool  # whether any stage fits stresses
    lr: float
    warmup: int
    total: int
    min_lr_ratio: float
    weight_decay: float
    grad_clip: float
    ema_decay: float
    dtype: str
    properties: tuple = ()  # declared properties (matml.properties): their terms
    forces: bool = True  # whether any stage fits forces (else no gradient pass)


class _State(NamedTuple):
    """What a training step updates."""

    params: Any
    opt_state: Any
    ema: Any


@lru_cache(maxsize=8)
def _compiled(graphdef, spec: _Spec, mesh=None):
    """Jitted training and evaluation steps, shared by trainers of the same model and
    settings (a resumed run, or tests, do not compile again).

    With a ``mesh``, both run data-parallel under ``shard_map``: each device takes its
    own padded sub-batch (the graph's leading axis), and the loss terms and error sums
    (sums and counts, so exactly those of the whole global batch) are summed across
    devices with ``psum`` before the loss is formed; the gradient of replicated
    parameters is then the sum over devices, and every device applies the same update.

    Both add into device-side running sums (loss terms as ``(sum, count)`` pairs, and
    error sums), so the loop never waits on the device within an epoch. The loss
    weights (energy, forces, stress) are an argument, so a second stage with other
    weights needs no new compilation.
    """
    use_stress = spec.stress
    use_forces = spec.forces or spec.stress
    dtype = jnp.dtype(spec.dtype)
    schedule = optax.warmup_cosine_decay_schedule(
        init_value=spec.lr * 0.1 if spec.warmup else spec.lr,
        peak_value=spec.lr,
        warmup_steps=spec.warmup,
        decay_steps=spec.total,
        end_value=spec.lr * spec.min_lr_ratio,
    )
    tx = optax.chain(
        optax.clip_by_global_norm(spec.grad_clip),
        optax.adamw(schedule, weight_decay=spec.weight_decay),
    )

    props = spec.properties

    def sums_of(pred, graph):
        return {
            "terms": loss_terms(pred, graph, props),
            "errors": error_sums(pred, graph, props),
        }

    def weighted(terms, w):
        stress = w[2] if use_stress else 0.0
        weights = {"energy": w[0], "forces": w[1], "stress": stress}
        weights.update({p.name: p.weight for p in props})
        return weighted_loss(terms, weights)

    if mesh is None:
        reduce = unstack = lambda x: x  # noqa: E731
    else:
        from matml.train.distributed import AXIS

        def reduce(x):
            return jax.lax.psum(x, AXIS)

        def unstack(graph):  # this device's sub-batch, without the device axis
            return jax.tree_util.tree_map(lambda a: a[0], graph)

    def loss_fn(params, consts, graph, w):
        graph = unstack(graph)
        pot = nnx.merge(graphdef, params, consts)
        pred = predict(pot, graph, stress=use_stress, forces=use_forces)
        if not use_forces:  # none computed: no force or stress errors to report
            mask = dict(graph.property_mask)
            for name in ("forces", "stress"):
                mask[name] = jnp.zeros_like(mask[name])
            graph = graph._replace(property_mask=mask)
        sums = reduce(sums_of(pred, graph))
        return weighted(sums["terms"], w), sums

    def step(state: _State, consts, graph, count, acc, w):
        (_, sums), grads = jax.value_and_grad(loss_fn, has_aux=True)(
            state.params, consts, graph, w
        )
        updates, opt_state = tx.update(grads, state.opt_state, state.params)
        params = optax.apply_updates(state.params, updates)
        d = jnp.minimum(spec.ema_decay, (1.0 + count) / (10.0 + count)).astype(dtype)
        ema = jax.tree_util.tree_map(
            lambda e, p: d * e + (1 - d) * p, state.ema, params
        )
        acc = jax.tree_util.tree_map(jnp.add, acc, sums)
        return _State(params, opt_state, ema), acc

    def evaluate(params, consts, graph, acc):
        graph = unstack(graph)
        pred = predict(nnx.merge(graphdef, params, consts), graph, stress=True)
        sums = reduce(sums_of(pred, graph))
        return jax.tree_util.tree_map(jnp.add, acc, sums)

    def loss_of(acc, w):
        return weighted(acc["terms"], w)

    if mesh is not None:
        from jax.sharding import PartitionSpec as P

        from matml.train.distributed import AXIS

        r, d = P(), P(AXIS)
        step = jax.shard_map(
            step, mesh=mesh, in_specs=(r, r, d, r, r, r), out_specs=(r, r)
        )
        evaluate = jax.shard_map(
            evaluate, mesh=mesh, in_specs=(r, r, d, r), out_specs=r
        )
    return jit(step), jit(evaluate), tx, schedule, jit(loss_of)


def _local(tree):
    """A replicated tree as host arrays (this process's copy: across processes a
    replicated array is not addressable whole)."""

    def one(x):
        if isinstance(x, jax.Array) and not x.is_fully_addressable:
            x = x.addressable_shards[0].data
        return np.asarray(x)

    return jax.tree_util.tree_map(one, tree)


def _host(acc, loss_of, weights) -> tuple[float, dict]:
    """The loss and error metrics of running sums (one transfer)."""
    if acc is None:
        return math.nan, {}
    if any(not x.is_fully_addressable for x in jax.tree_util.tree_leaves(acc)):
        acc = _local(acc)
    loss, errors = jax.device_get((loss_of(acc, weights), acc["errors"]))
    return float(loss), metrics_from_sums(errors)


class Trainer:
    """Fits a :class:`~matml.potential.Potential` to a :class:`~matml.data.Dataset`.

    Args:
        potential: the potential to train (its E0s, scale and shift already set).
        config: optimiser, schedule, loss weights, EMA, early stopping.
        out_dir: where ``checkpoint.pkl``, ``metrics.csv`` and ``model.matml`` go
            (``None``: keep nothing on disk).
        seed: shuffling seed.
        progress: show a progress bar.
        dtype: float dtype of the arrays fed to the model (default: the potential's).

    Besides :meth:`fit`, :meth:`prepare` + :meth:`step` run single training steps
    (what ``benchmarks/speed.py`` times) and :meth:`evaluate` works at any time.
    """

    def __init__(
        self,
        potential: Potential,
        config: TrainConfig,
        out_dir=None,
        *,
        seed: int = 0,
        progress: bool = True,
        dtype=None,
        header: dict | None = None,
    ):
        if getattr(potential, "inference_only", False):
            raise ValueError(
                "a tabulated potential (Potential.tabulated, an inference copy) cannot "
                "be trained; train the model it was made from"
            )
        self.potential = potential
        self.config = config
        self.out_dir = None if out_dir is None else Path(out_dir)
        self.seed = seed
        self.progress = progress
        self.dtype = jnp.dtype(dtype or potential.dtype)
        self.header = header or {}
        from matml.train.distributed import is_main, make_mesh

        # data parallel over a mesh of devices, or None (one device, plain jit)
        self.mesh = make_mesh(getattr(config, "devices", 1))
        self.main = is_main()  # process 0 writes the files and shows progress
        self.progress = progress and self.main
        self.n_devices = 1 if self.mesh is None else self.mesh.size
        self.graphdef, self.params, self.consts = nnx.split(potential, nnx.Param, ...)
        self.ema = None
        self.state: _State | None = None
        self._fns = None
        self._steps = 0
        self._acc = None
        self.stage_two = False
        self._weights = self._stage_weights(False)
        self.properties = tuple(getattr(potential, "properties", ()))
        self.csv_fields = CSV_FIELDS + [
            f"valid_{p.name}_{m}" for p in self.properties for m in ("rmse", "mae")
        ]
        self.csv_fields += [f"train_{p.name}_rmse" for p in self.properties]

    def _stage_weights(self, two: bool) -> np.ndarray:
        """Loss weights (energy, forces, stress) of stage one or two."""
        c = self.config
        w = [c.energy_weight, c.forces_weight, c.stress_weight]
        if two:
            w2 = (c.stage_two_energy_weight, c.stage_two_forces_weight,
                  c.stage_two_stress_weight)  # fmt: skip
            w = [a if b is None else b for a, b in zip(w, w2, strict=True)]
        return np.asarray(w, self.dtype)

    def _in_stage_two(self, epoch: int, seconds: float) -> bool:
        """Whether ``epoch``, starting ``seconds`` into the run, is in stage two."""
        c = self.config
        f = c.stage_two_fraction
        if f <= 0:
            return False
        late_time = c.max_seconds is not None and seconds >= (1 - f) * c.max_seconds
        return epoch >= round((1 - f) * c.epochs) or late_time

    # --- compiled functions -------------------------------------------------------
    def prepare(self, steps_per_epoch: int, schedule_epochs: int | None = None):
        """Compile-ready training state for a run of ``schedule_epochs`` (default:
        ``config.epochs``) epochs of ``steps_per_epoch`` steps."""
        c = self.config
        total = max((schedule_epochs or c.epochs) * steps_per_epoch, 1)
        spec = _Spec(
            stress=c.fits("stress"),
            lr=c.lr,
            warmup=min(c.warmup_epochs * steps_per_epoch, total - 1),
            total=total,
            min_lr_ratio=c.min_lr_ratio,
            weight_decay=c.weight_decay,
            grad_clip=c.grad_clip,
            ema_decay=c.ema_decay,
            dtype=self.dtype.name,
            properties=self.properties,
            forces=c.fits("forces"),
        )
        self._fns = _compiled(self.graphdef, spec, self.mesh)
        self.tx, self.schedule = self._fns[2], self._fns[3]
        self._compiles_before = self._fns[0]._cache_size()
        with precision(self.dtype):
            params = jax.tree_util.tree_map(jnp.array, self.params)
            self.state = self._replicate(
                _State(
                    params,
                    self.tx.init(params),
                    jax.tree_util.tree_map(jnp.array, params),
                )
            )
            self._consts = self._replicate(self.consts)
        self._steps, self._acc = 0, None

    def _replicate(self, tree):
        """``tree`` copied onto every device of the mesh (as is without one)."""
        if self.mesh is None:
            return tree
        from jax.sharding import NamedSharding, PartitionSpec

        return jax.device_put(tree, NamedSharding(self.mesh, PartitionSpec()))

    def _global(self, graph: AtomsGraph) -> AtomsGraph:
        """This process's stacked sub-batches as one array sharded over the mesh."""
        from jax.sharding import NamedSharding, PartitionSpec

        from matml.train.distributed import AXIS

        sharding = NamedSharding(self.mesh, PartitionSpec(AXIS))
        return jax.tree_util.tree_map(
            lambda a: jax.make_array_from_process_local_data(sharding, a), graph
        )

    def _feed(self, graph: AtomsGraph) -> AtomsGraph:
        graph = graph.cast(self.dtype)
        return graph if self.mesh is None else self._global(graph)

    def step(self, graph: AtomsGraph) -> None:
        """One optimiser step on a padded batch (numpy arrays: one transfer). Returns
        at once; the running sums of the epoch stay on the device."""
        with precision(self.dtype):
            if self._acc is None:
                self._acc = self._replicate(zero_sums(self.dtype, self.properties))
            self.state, self._acc = self._fns[0](
                self.state,
                self._consts,
                self._feed(graph),
                np.asarray(self._steps),
                self._acc,
                self._weights,
            )
        self._steps += 1

    def take_sums(self) -> tuple[float, dict]:
        """Loss and metrics over the steps since the last call (waits for them)."""
        out = _host(self._acc, self._fns[4], self._weights)
        self._acc = None
        return out

    def compile_count(self) -> int:
        """Number of compilations of the training step during this trainer's runs."""
        if self._fns is None:
            return 0
        return self._fns[0]._cache_size() - self._compiles_before

    # --- evaluation ----------------------------------------------------------------
    def evaluate(self, data: GraphLoader | Dataset, params=None) -> tuple[float, dict]:
        """Loss and metrics on ``data``, with ``params`` (default: the EMA weights if
        training has run, else the current weights)."""
        if self._fns is None:
            self.prepare(1)
        if params is None:
            params = self.ema if self.ema is not None else self.params
        if isinstance(data, Dataset):
            data.check_properties(self.properties)
            data = self._loader(data, None, shuffle=False)
        acc = None
        with precision(self.dtype):
            params = self._replicate(params)
            for graph in data:
                acc = (
                    self._replicate(zero_sums(self.dtype, self.properties))
                    if acc is None
                    else acc
                )
                acc = self._fns[1](params, self._consts, self._feed(graph), acc)
        return _host(acc, self._fns[4], self._weights)

    # --- the loop ------------------------------------------------------------------
    def fit(
        self, train: Dataset, valid: Dataset | None = None, *, resume: bool = False
    ) -> History:
        """Train; with ``resume`` continue from ``out_dir/checkpoint.pkl``."""
        c = self.config
        need = {"forces": c.forces_weight > 0, "energy": c.fits("energy")}
        train.require(**need)
        train.check_properties(self.properties)
        if valid is not None and len(valid):
            valid.require(**need)
            valid.check_properties(self.properties)
        else:
            valid = None
        loader, vloader = self._loaders(train, valid)
        ckpt = self.out_dir / "checkpoint.pkl" if self.out_dir else None
        writes = self.out_dir is not None and self.main  # process 0 only
        schedule_epochs = c.epochs
        if resume:
            if ckpt is None:
                raise InputError("resume needs an output folder")
            if self.main:
                remove_temporaries(self.out_dir)  # of a run killed while writing
            # the learning-rate schedule keeps the length of the run being resumed;
            # epochs added on resume continue at its final learning rate
            schedule_epochs = read_checkpoint_meta(ckpt).get(
                "schedule_epochs", c.epochs
            )
        self.prepare(len(loader), schedule_epochs)
        history = History()
        self.best_params = self.state.ema
        start_epoch, bad_epochs = 0, 0
        if resume:
            start_epoch, bad_epochs = self._restore(ckpt, history)
        elif writes:
            self.out_dir.mkdir(parents=True, exist_ok=True)
            for stale in ("checkpoint.pkl", "model.matml"):  # of an earlier run
                (self.out_dir / stale).unlink(missing_ok=True)
            self._write_csv([])

        bar = None
        if self.progress:
            from tqdm.auto import tqdm

            bar = tqdm(
                total=c.epochs, initial=start_epoch, desc="training", unit="epoch"
            )
        t0 = time.perf_counter()
        for epoch in range(start_epoch, c.epochs):
            if not self.stage_two and self._in_stage_two(
                epoch, time.perf_counter() - t0
            ):
                # new loss weights: the best model is chosen among stage-two epochs
                self.stage_two, self._weights = True, self._stage_weights(True)
                history.best_valid_loss, bad_epochs = math.inf, 0
                history.stage_two_epoch = epoch
            row = self._epoch(loader, vloader, epoch, t0)
            history.rows.append(row)
            if row["valid_loss"] < history.best_valid_loss:
                history.best_valid_loss, history.best_epoch = row["valid_loss"], epoch
                # (a copy: with one device, in place of the next steps' arrays)
                self.best_params = (
                    jax.tree_util.tree_map(jnp.array, self.ema)
                    if self.mesh is None
                    else self.ema
                )
                bad_epochs = 0
            else:
                bad_epochs += 1
            if writes:
                self._append_csv(row)
                self._checkpoint(ckpt, epoch, bad_epochs, history, schedule_epochs)
            if bar is not None:
                bar.update(1)
                bar.set_postfix(
                    E=f"{row['valid_energy_rmse'] or row['train_energy_rmse'] or 0:.2f}"
                    "meV/at",
                    F=f"{row['valid_forces_rmse'] or row['train_forces_rmse'] or 0:.3f}",
                )
            out_of_time = (
                c.max_seconds is not None and time.perf_counter() - t0 > c.max_seconds
            )
            if bad_epochs >= c.patience or out_of_time:
                history.stopped_early = bad_epochs >= c.patience
                break
        if bar is not None:
            bar.close()
        self.params = self.state.params
        if self.mesh is not None:  # back to host arrays, usable on any one device
            with precision(self.dtype):
                self.params = jax.tree_util.tree_map(jnp.asarray, _local(self.params))
                self.best_params = jax.tree_util.tree_map(
                    jnp.asarray, _local(self.best_params)
                )
        nnx.update(self.potential, self.best_params)
        return history

    def _loaders(self, train: Dataset, valid: Dataset | None):
        c = self.config
        buckets = Buckets.for_datasets([train, valid], self._sub_batch, c.n_buckets)
        loader = self._loader(train, buckets, shuffle=True)
        vloader = self._loader(valid, buckets, shuffle=False) if valid else None
        return loader, vloader

    @property
    def _sub_batch(self) -> int:
        """Structures per device in a global batch."""
        return math.ceil(self.config.batch_size / self.n_devices)

    def _loader(self, data: Dataset, buckets, *, shuffle: bool) -> GraphLoader:
        """Batches of ``data``: whole ones, or with a mesh this process's share of
        each global batch (its devices' sub-batches, stacked)."""
        c = self.config
        if self.mesh is None:
            return GraphLoader(
                data, c.batch_size, shuffle=shuffle, seed=self.seed, buckets=buckets
            )
        from matml.data import ShardedLoader

        devices = list(self.mesh.devices.flat)
        local = [
            k for k, d in enumerate(devices) if d.process_index == jax.process_index()
        ]
        if buckets is None:
            buckets = Buckets.for_dataset(data, self._sub_batch, c.n_buckets)
        return ShardedLoader(
            data, c.batch_size, self.n_devices, local,
            shuffle=shuffle, seed=self.seed, buckets=buckets,
        )  # fmt: skip

    def _epoch(self, loader, vloader, epoch: int, t0: float) -> dict:
        """One pass over the training set, then validation: the epoch's csv row."""
        loader.set_epoch(epoch)
        # a store is read and padded in a background thread while the device works
        for graph in prefetch(loader) if loader.dataset.lazy else loader:
            self.step(graph)
        train_loss, tm = self.take_sums()
        if not np.isfinite(train_loss):
            raise TrainingError(
                f"the training loss became {train_loss} at epoch {epoch}: lower it",
                field="train.lr",
            )
        self.ema = self.state.ema
        row = {
            "epoch": epoch,
            "lr": float(self.schedule(self._steps)),
            "seconds": round(time.perf_counter() - t0, 3),
            "train_loss": train_loss,
            "train_energy_rmse": tm.get("energy_rmse"),
            "train_forces_rmse": tm.get("forces_rmse"),
        }
        if vloader is not None:
            vloss, vm = self.evaluate(
                prefetch(vloader) if vloader.dataset.lazy else vloader, self.ema
            )
        else:
            vloss, vm = train_loss, {}
        row["valid_loss"] = vloss
        for k in self.csv_fields[7:]:
            if k.startswith("valid_"):
                row[k] = vm.get(k.removeprefix("valid_"))
        for p in self.properties:  # the epoch's running errors, as for energy
            row[f"train_{p.name}_rmse"] = tm.get(f"{p.name}_rmse")
        return row

    def _checkpoint(self, ckpt, epoch, bad_epochs, history, schedule_epochs) -> None:
        st = self.state
        trees = {"params": st.params, "opt": st.opt_state, "ema": st.ema,
                 "best": self.best_params}  # fmt: skip
        save_checkpoint(
            ckpt,
            trees if self.mesh is None else _local(trees),
            {
                "epoch": epoch,
                "step": self._steps,
                "bad_epochs": bad_epochs,
                "best_epoch": history.best_epoch,
                "best_valid_loss": history.best_valid_loss,
                "schedule_epochs": schedule_epochs,
                "stage_two": self.stage_two,
                "stage_two_epoch": history.stage_two_epoch,
            },
        )  # fmt: skip
        if history.best_epoch == epoch:
            self._save_model(self.best_params, history)

    def _restore(self, ckpt, history: History) -> tuple[int, int]:
        st = self.state
        with precision(self.dtype):
            trees, meta = load_checkpoint(
                ckpt,
                {"params": st.params, "opt": st.opt_state, "ema": st.ema,
                 "best": st.ema},
            )  # fmt: skip
        self.state = self._replicate(
            _State(trees["params"], trees["opt"], trees["ema"])
        )
        self.ema = self.state.ema
        self.best_params = self._replicate(trees["best"])
        self._steps = meta["step"]
        history.best_epoch = meta["best_epoch"]
        history.best_valid_loss = meta["best_valid_loss"]
        self.stage_two = bool(meta.get("stage_two", False))
        self._weights = self._stage_weights(self.stage_two)
        history.stage_two_epoch = meta.get("stage_two_epoch")
        history.rows = self._read_csv(upto=meta["epoch"])
        return meta["epoch"] + 1, meta["bad_epochs"]

    # --- files ---------------------------------------------------------------------
    def _save_model(self, params, history: History) -> None:
        if self.mesh is not None:
            params = _local(params)
        pot = nnx.merge(self.graphdef, params, self.consts)
        save(
            pot,
            self.out_dir / "model.matml",
            extra={**self.header, "best_epoch": history.best_epoch},
        )

    def _write_csv(self, rows) -> None:
        from matml._files import atomic_path

        with atomic_path(self.out_dir / "metrics.csv") as tmp:
            with open(tmp, "w", newline="") as fh:
                w = csv.DictWriter(fh, self.csv_fields)
                w.writeheader()
                w.writerows(rows)

    def _append_csv(self, row) -> None:
        """Add a row: the file is rewritten and renamed (never seen half-written)."""
        path = self.out_dir / "metrics.csv"
        rows = []
        if path.exists():
            with open(path, newline="") as fh:
                rows = list(csv.DictReader(fh))
        self._write_csv([*rows, row])

    def _read_csv(self, upto: int) -> list[dict]:
        path = self.out_dir / "metrics.csv"
        rows = []
        if path.exists():
            with open(path, newline="") as fh:
                rows = [r for r in csv.DictReader(fh) if int(r["epoch"]) <= upto]
        if self.main:
            self._write_csv(rows)  # drop rows of epochs after the checkpoint
        return rows
