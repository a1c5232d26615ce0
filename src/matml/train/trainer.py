"""One trainer for every potential: AdamW with warm-up and cosine decay, EMA weights for
evaluation, early stopping on the validation loss, a checkpoint each epoch, resume."""

from __future__ import annotations

import csv
import math
import time
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

from matml.data import Buckets, Dataset, GraphLoader
from matml.errors import InputError, TrainingError
from matml.potential import Potential, predict, save
from matml.train.checkpoint import (
    load_checkpoint,
    read_checkpoint_meta,
    save_checkpoint,
)
from matml.train.config import TrainConfig
from matml.train.loss import error_sums, loss_terms, metrics_from_sums

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


def _add(a: dict, b: dict) -> dict:
    return {k: a.get(k, 0.0) + float(v) for k, v in b.items()}


class _Spec(NamedTuple):
    weights: tuple[float, float, float]  # energy, forces, stress
    lr: float
    warmup: int
    total: int
    min_lr_ratio: float
    weight_decay: float
    grad_clip: float
    ema_decay: float
    dtype: str


@lru_cache(maxsize=8)
def _compiled(graphdef, spec: _Spec):
    """Jitted training and evaluation steps, shared by trainers of the same model and
    settings (a resumed run, or tests, do not compile again)."""
    we, wf, ws = spec.weights
    use_stress = ws > 0
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

    def weighted(pred, graph):
        t = loss_terms(pred, graph)
        return we * t["energy"] + wf * t["forces"] + ws * t["stress"]

    def loss_fn(params, consts, graph):
        pred = predict(nnx.merge(graphdef, params, consts), graph, stress=use_stress)
        return weighted(pred, graph), error_sums(pred, graph)

    def step(params, opt_state, ema, consts, graph, count):
        (loss, sums), grads = jax.value_and_grad(loss_fn, has_aux=True)(
            params, consts, graph
        )
        updates, opt_state = tx.update(grads, opt_state, params)
        params = optax.apply_updates(params, updates)
        d = jnp.minimum(spec.ema_decay, (1.0 + count) / (10.0 + count)).astype(dtype)
        ema = jax.tree_util.tree_map(lambda e, p: d * e + (1 - d) * p, ema, params)
        return params, opt_state, ema, loss, sums

    def evaluate(params, consts, graph):
        pred = predict(nnx.merge(graphdef, params, consts), graph, stress=True)
        n_real = jnp.sum(graph.graph_mask)
        return weighted(pred, graph) * n_real, error_sums(pred, graph)

    return jax.jit(step), jax.jit(evaluate), tx, schedule


class Trainer:
    """Fits a :class:`~matml.potential.Potential` to a :class:`~matml.data.Dataset`.

    Args:
        potential: the potential to train (its E0s, scale and shift already set).
        config: optimiser, schedule, loss weights, EMA, early stopping.
        out_dir: where ``checkpoint.pkl``, ``metrics.csv`` and ``model.matml`` go
            (``None``: keep nothing on disk).
        seed: shuffling seed.
        progress: show a progress bar.
        dtype: float dtype of the arrays fed to the model.
    """

    def __init__(
        self,
        potential: Potential,
        config: TrainConfig,
        out_dir=None,
        *,
        seed: int = 0,
        progress: bool = True,
        dtype=jnp.float32,
        header: dict | None = None,
    ):
        self.potential = potential
        self.config = config
        self.out_dir = None if out_dir is None else Path(out_dir)
        self.seed = seed
        self.progress = progress
        self.dtype = dtype
        self.header = header or {}
        self.graphdef, self.params, self.consts = nnx.split(potential, nnx.Param, ...)
        self._step_fn = None
        self._eval_fn = None

    # --- compiled functions -------------------------------------------------------
    def _build(self, steps_per_epoch: int, schedule_epochs: int | None = None):
        c = self.config
        total = max((schedule_epochs or c.epochs) * steps_per_epoch, 1)
        spec = _Spec(
            weights=(c.energy_weight, c.forces_weight, c.stress_weight),
            lr=c.lr,
            warmup=min(c.warmup_epochs * steps_per_epoch, total - 1),
            total=total,
            min_lr_ratio=c.min_lr_ratio,
            weight_decay=c.weight_decay,
            grad_clip=c.grad_clip,
            ema_decay=c.ema_decay,
            dtype=jnp.dtype(self.dtype).name,
        )
        self._step_fn, self._eval_fn, self.tx, self.schedule = _compiled(
            self.graphdef, spec
        )
        self._compiles_before = self._step_fn._cache_size()

    def compile_count(self) -> int:
        """Number of compilations of the training step during this trainer's runs."""
        if self._step_fn is None:
            return 0
        return self._step_fn._cache_size() - self._compiles_before

    # --- evaluation ----------------------------------------------------------------
    def evaluate(self, loader: GraphLoader, params=None) -> tuple[float, dict]:
        params = self.ema if params is None else params
        loss_sum, n, sums = 0.0, 0, {}
        for graph in loader:
            g = graph.to_jax(self.dtype)
            loss, s = self._eval_fn(params, self.consts, g)
            loss_sum += float(loss)
            n += int(np.sum(graph.graph_mask))
            sums = _add(sums, s)
        return loss_sum / max(n, 1), metrics_from_sums(sums)

    # --- the loop ------------------------------------------------------------------
    def fit(
        self, train: Dataset, valid: Dataset | None = None, *, resume: bool = False
    ) -> History:
        """Train; with ``resume`` continue from ``out_dir/checkpoint.pkl``."""
        c = self.config
        train.require(forces=c.forces_weight > 0)
        if valid is not None and len(valid):
            valid.require(forces=c.forces_weight > 0)
        else:
            valid = None
        both = Dataset(
            train.structures + (valid.structures if valid else []),
            train.cutoff,
            train.species,
        )
        buckets = Buckets.for_dataset(both, c.batch_size, c.n_buckets)
        loader = GraphLoader(
            train, c.batch_size, shuffle=True, seed=self.seed, buckets=buckets
        )
        vloader = GraphLoader(valid, c.batch_size, buckets=buckets) if valid else None
        ckpt = self.out_dir / "checkpoint.pkl" if self.out_dir else None
        schedule_epochs = c.epochs
        if resume:
            if ckpt is None:
                raise InputError("resume needs an output folder")
            # the learning-rate schedule keeps the length of the run being resumed;
            # epochs added on resume continue at its final learning rate
            schedule_epochs = read_checkpoint_meta(ckpt).get(
                "schedule_epochs", c.epochs
            )
        self._build(len(loader), schedule_epochs)
        opt_state = self.tx.init(self.params)
        params = self.params
        ema = jax.tree_util.tree_map(jnp.array, params)
        history = History()
        start_epoch, step_count, bad_epochs = 0, 0, 0
        best_params = ema
        if resume:
            trees, meta = load_checkpoint(
                ckpt, {"params": params, "opt": opt_state, "ema": ema, "best": ema}
            )
            params, opt_state, ema = trees["params"], trees["opt"], trees["ema"]
            best_params = trees["best"]
            start_epoch = meta["epoch"] + 1
            step_count, bad_epochs = meta["step"], meta["bad_epochs"]
            history.best_epoch = meta["best_epoch"]
            history.best_valid_loss = meta["best_valid_loss"]
            history.rows = self._read_csv(upto=meta["epoch"])
        elif self.out_dir:
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
            loader.set_epoch(epoch)
            tl, tn, tsums = 0.0, 0, {}
            for graph in loader:
                g = graph.to_jax(self.dtype)
                params, opt_state, ema, loss, sums = self._step_fn(
                    params, opt_state, ema, self.consts, g, jnp.asarray(step_count)
                )
                step_count += 1
                tl += float(loss)
                tn += 1
                tsums = _add(tsums, sums)
            if not np.isfinite(tl):
                raise TrainingError(
                    f"the training loss became {tl} at epoch {epoch}: lower it",
                    field="train.lr",
                )
            self.ema = ema
            tm = metrics_from_sums(tsums)
            row = {
                "epoch": epoch,
                "lr": float(self.schedule(step_count)),
                "seconds": round(time.perf_counter() - t0, 3),
                "train_loss": tl / max(tn, 1),
                "train_energy_rmse": tm.get("energy_rmse"),
                "train_forces_rmse": tm.get("forces_rmse"),
            }
            if vloader is not None:
                vloss, vm = self.evaluate(vloader, ema)
            else:
                vloss, vm = row["train_loss"], {}
            row["valid_loss"] = vloss
            for k in CSV_FIELDS[7:]:
                row[k] = vm.get(k.removeprefix("valid_"))
            history.rows.append(row)
            if vloss < history.best_valid_loss:
                history.best_valid_loss, history.best_epoch = vloss, epoch
                best_params = jax.tree_util.tree_map(jnp.array, ema)
                bad_epochs = 0
            else:
                bad_epochs += 1
            stop = bad_epochs >= c.patience
            out_of_time = (
                c.max_seconds is not None and time.perf_counter() - t0 > c.max_seconds
            )
            if self.out_dir:
                self._append_csv(row)
                save_checkpoint(
                    ckpt,
                    {
                        "params": params,
                        "opt": opt_state,
                        "ema": ema,
                        "best": best_params,
                    },
                    {
                        "epoch": epoch,
                        "step": step_count,
                        "bad_epochs": bad_epochs,
                        "best_epoch": history.best_epoch,
                        "best_valid_loss": history.best_valid_loss,
                        "schedule_epochs": schedule_epochs,
                    },
                )
                if history.best_epoch == epoch:
                    self._save_model(best_params, history)
            if bar is not None:
                bar.update(1)
                bar.set_postfix(
                    E=f"{vm.get('energy_rmse', tm.get('energy_rmse', 0)):.2f}meV/at",
                    F=f"{vm.get('forces_rmse', tm.get('forces_rmse', 0)) or 0:.3f}",
                )
            if stop or out_of_time:
                history.stopped_early = stop
                break
        if bar is not None:
            bar.close()
        self.params, self.ema = params, ema
        self.best_params = best_params
        nnx.update(self.potential, best_params)
        return history

    # --- files ---------------------------------------------------------------------
    def _save_model(self, params, history: History) -> None:
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
                w = csv.DictWriter(fh, CSV_FIELDS)
                w.writeheader()
                w.writerows(rows)

    def _append_csv(self, row) -> None:
        with open(self.out_dir / "metrics.csv", "a", newline="") as fh:
            csv.DictWriter(fh, CSV_FIELDS).writerow(row)

    def _read_csv(self, upto: int) -> list[dict]:
        path = self.out_dir / "metrics.csv"
        rows = []
        if path.exists():
            with open(path, newline="") as fh:
                rows = [r for r in csv.DictReader(fh) if int(r["epoch"]) <= upto]
        self._write_csv(rows)  # drop rows of epochs after the checkpoint
        return rows
