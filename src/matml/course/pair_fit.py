"""A pair network learns Lennard-Jones: training, errors, learned curves and plots.

The network is matml's :class:`~matml.models.PairNetwork` (a SiLU MLP of a Bessel
expansion of ``r``, times a polynomial envelope that vanishes at the cutoff), summed over
pairs: ``E = 1/2 sum_{i != j} g(r_ij)`` with ``g(r) = scale * phi_NN(r) * f_c(r)``.

What the learned curve is compared with. A potential also has a per-atom constant
(``E0 + shift``). On clusters of one fixed size ``n`` with every pair inside the cutoff, a
per-atom constant ``c`` is indistinguishable from a pair constant ``2c / (n - 1)``, so
``g`` alone would only be defined up to a constant. The course therefore fixes
``E0 = shift = 0`` (a pure pair potential, as LJ is): then ``g`` is directly comparable
with the analytic ``phi_LJ`` where the data sample distances. :func:`learned_pair_curve`
folds any per-atom constant into the pair energy as ``2c / (n - 1)`` when ``n_atoms`` is
given, which is exact for such clusters. The envelope makes ``g(cutoff) = 0``; the
cutoff (3 sigma by default) is chosen beyond the longest distance in the data, where
``phi_LJ(3 sigma) = -0.0055 epsilon``, so the unshifted LJ curve is the right reference.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from matml.data import Dataset
from matml.nn import polynomial_cutoff
from matml.potential import Potential
from matml.train import TrainConfig, Trainer, evaluate

__all__ = [
    "LJErrors",
    "fit_pair_network",
    "learned_pair_curve",
    "lj_errors",
    "pair_distances",
]


def fit_pair_network(
    train_atoms,
    *,
    forces: bool,
    cutoff: float = 3.0,
    hidden: Sequence[int] = (32, 32),
    n_basis: int = 8,
    epochs: int = 150,
    batch_size: int = 8,
    lr: float = 1e-2,
    energy_weight: float = 1.0,
    forces_weight: float = 1.0,
    seed: int = 0,
    dtype=jnp.float32,
    max_seconds: float | None = None,
    progress: bool = False,
) -> tuple[Potential, dict]:
    """Train a pair network on energies only (``forces=False``) or energies + forces.

    The potential is a pure pair potential: ``E0 = shift = 0`` (see the module notes);
    ``scale`` is the RMS reference force component, so the network's outputs are of
    order one. Returns the potential (best EMA weights) and a summary of training.
    """
    species = sorted({s for a in train_atoms for s in a.get_chemical_symbols()})
    data = Dataset.from_atoms(train_atoms, cutoff, species, name="LJ training set")
    f = np.concatenate([s.forces for s in data.structures])
    scale = float(np.sqrt(np.mean(f**2)))
    potential = Potential(
        "pair",
        species,
        cutoff,
        {"hidden": list(hidden), "n_basis": n_basis},
        e0=np.zeros(len(species)),
        scale=scale,
        shift=0.0,
        dtype=dtype,
        rngs=seed,
    )
    config = TrainConfig(
        epochs=epochs,
        batch_size=batch_size,
        lr=lr,
        energy_weight=energy_weight,
        forces_weight=forces_weight if forces else 0.0,
        ema_decay=0.95,
        patience=epochs,
        max_seconds=max_seconds,
        n_buckets=1,
    )
    trainer = Trainer(potential, config, seed=seed, progress=progress, dtype=dtype)
    history = trainer.fit(data)
    summary = {
        "epochs_run": len(history.rows),
        "best_epoch": history.best_epoch,
        "final_train_loss": float(history.rows[-1]["train_loss"]),
        "seconds": float(history.rows[-1]["seconds"]),
    }
    return potential, summary


@dataclass
class LJErrors:
    """Errors of a potential on LJ-labelled structures (reduced units)."""

    energy_rmse: float  # epsilon per structure
    energy_range: float  # max - min reference energy, epsilon per structure
    forces_rmse: float  # epsilon/sigma per component
    forces_rms: float  # RMS reference force component
    energy_ref: np.ndarray  # per structure
    energy_pred: np.ndarray
    forces_ref: np.ndarray  # [n, 3]
    forces_pred: np.ndarray

    def summary(self) -> dict:
        return {
            "energy_rmse": self.energy_rmse,
            "energy_range": self.energy_range,
            "energy_rmse_over_range": self.energy_rmse / self.energy_range,
            "forces_rmse": self.forces_rmse,
            "forces_rms_reference": self.forces_rms,
            "forces_rmse_over_rms": self.forces_rmse / self.forces_rms,
        }


def lj_errors(potential: Potential, atoms_list) -> LJErrors:
    """Energy (per structure) and force errors of ``potential`` on labelled structures."""
    data = Dataset.from_atoms(atoms_list, potential.cutoff, potential.species)
    ev = evaluate(potential, data)
    n = np.array([len(a) for a in atoms_list], dtype=np.float64)
    e_ref, e_pred = ev.energy_ref * n, ev.energy_pred * n  # evaluate gives per atom
    return LJErrors(
        energy_rmse=float(np.sqrt(np.mean((e_pred - e_ref) ** 2))),
        energy_range=float(np.ptp(e_ref)),
        forces_rmse=float(np.sqrt(np.mean((ev.forces_pred - ev.forces_ref) ** 2))),
        forces_rms=float(np.sqrt(np.mean(ev.forces_ref**2))),
        energy_ref=e_ref,
        energy_pred=e_pred,
        forces_ref=ev.forces_ref,
        forces_pred=ev.forces_pred,
    )


def learned_pair_curve(
    potential: Potential, r, n_atoms: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """The learned pair energy ``g(r)`` and pair force ``-dg/dr`` at distances ``r``.

    ``g(r) = scale * phi_NN(r) * f_c(r)`` for a pair of the first species. With
    ``n_atoms`` the per-atom constant ``c = E0 + shift`` is folded in as ``2c/(n-1)``
    (exact for clusters of ``n_atoms`` with every pair inside the cutoff).
    """
    graphdef, state = nnx.split(potential)
    dtype = potential.scale[...].dtype
    energy, force = _curve_fn(graphdef)(state, jnp.asarray(r, dtype))
    if n_atoms is not None:
        c = potential.e0[...][0] + potential.shift[...]
        energy = energy + 2.0 * c / (n_atoms - 1)
    return np.asarray(energy, np.float64), np.asarray(force, np.float64)


@functools.lru_cache(maxsize=8)
def _curve_fn(graphdef):
    """Jitted ``(state, r) -> (g(r), -g'(r))`` for one potential architecture."""

    def fn(state, x):
        potential = nnx.merge(graphdef, state)
        model = potential.model
        zero = jnp.zeros((1,), jnp.int32)

        def g(x):
            out = model.edge_terms(x[None], zero, zero)[0, 0]
            return potential.scale[...] * out * polynomial_cutoff(x, model.cutoff)

        return jax.vmap(g)(x), -jax.vmap(jax.grad(g))(x)

    return jax.jit(fn)


def pair_distances(atoms_list) -> np.ndarray:
    """All pair distances i < j in a list of (non-periodic) structures."""
    out = []
    for a in atoms_list:
        i, j = np.triu_indices(len(a), 1)
        out.append(np.linalg.norm(a.positions[j] - a.positions[i], axis=1))
    return np.concatenate(out)
