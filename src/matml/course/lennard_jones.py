"""The Lennard-Jones case of the course: energy, relaxation and a labelled data set.

Everything is in reduced units: energies in epsilon, distances in sigma, forces in
epsilon/sigma (pass ``epsilon`` and ``sigma`` to work in eV and Å instead). The pair energy
is ``phi(r) = 4 epsilon [(sigma/r)^12 - (sigma/r)^6]``: minimum ``-epsilon`` at
``r = 2^(1/6) sigma``. Forces come from ``jax.grad`` of the energy, never by hand.

The known global minimum of the 13-atom cluster (a Mackay icosahedron) is
:data:`LJ13_MINIMUM` = -44.326801 epsilon (Cambridge Cluster Database).

Float64 matters for a relaxation to 1e-6: run it under ``jax.enable_x64(True)`` (a
thread-local context) or ``matml.potential.precision("float64")``.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np
import optax
from ase import Atoms

from matml import keys
from matml.models.lennard_jones import lj_pair_energy

__all__ = [
    "LJ13_MINIMUM",
    "Relaxation",
    "icosahedron13",
    "lj_energy",
    "lj_forces",
    "lj_pair_energy",
    "lj_pair_force",
    "random_cluster",
    "rattled_structures",
    "relax",
]

LJ13_MINIMUM = -44.326801  # epsilon; global minimum of the 13-atom LJ cluster
R_MIN = 2.0 ** (1.0 / 6.0)  # sigma; where the pair energy is lowest


def lj_pair_force(r, epsilon: float = 1.0, sigma: float = 1.0):
    """Pair force ``-d phi / dr = 24 epsilon [2 (sigma/r)^12 - (sigma/r)^6] / r``.

    Positive is repulsive.

    >>> abs(float(lj_pair_force(2 ** (1 / 6)))) < 1e-12
    True
    """
    sr6 = (sigma / r) ** 6
    return 24.0 * epsilon * (2.0 * sr6 * sr6 - sr6) / r


def lj_energy(
    positions,
    epsilon: float = 1.0,
    sigma: float = 1.0,
    cutoff: float | None = None,
    shift: bool = False,
) -> jax.Array:
    """Lennard-Jones energy of a cluster, summed over all pairs i < j.

    Args:
        positions: [n, 3] coordinates (a JAX or numpy array).
        epsilon, sigma: well depth and zero crossing of the pair energy.
        cutoff: if given, pairs at ``r >= cutoff`` do not count.
        shift: with a cutoff, subtract ``phi(cutoff)`` from every counted pair, so the
            energy is continuous (ASE's ``LennardJones`` does this).

    >>> round(float(lj_energy(jnp.array([[0.0, 0, 0], [2 ** (1 / 6), 0, 0]]))), 9)
    -1.0
    """
    pos = jnp.asarray(positions)
    i, j = np.triu_indices(pos.shape[0], 1)
    r = jnp.linalg.norm(pos[j] - pos[i], axis=-1)
    phi = lj_pair_energy(r, epsilon, sigma)
    if cutoff is not None:
        if shift:
            phi = phi - lj_pair_energy(cutoff, epsilon, sigma)
        phi = jnp.where(r < cutoff, phi, 0.0)
    return jnp.sum(phi)


def lj_forces(positions, **kwargs) -> jax.Array:
    """Forces ``-dE/dr`` [n, 3] by autodiff of :func:`lj_energy` (same keywords)."""
    return -jax.grad(lj_energy)(jnp.asarray(positions), **kwargs)


# --- starting structures --------------------------------------------------------------


def icosahedron13(distance: float = R_MIN) -> np.ndarray:
    """A centred icosahedron: one atom at the origin, 12 at ``distance`` from it [13, 3]."""
    g = (1.0 + 5.0**0.5) / 2.0
    verts = []
    for a in (-1.0, 1.0):
        for b in (-g, g):
            verts += [(0.0, a, b), (a, b, 0.0), (b, 0.0, a)]
    verts = np.array(verts)
    verts *= distance / np.linalg.norm(verts[0])
    return np.vstack([np.zeros(3), verts])


def random_cluster(
    n: int, seed: int = 0, density: float = 0.7, min_distance: float = 0.9
) -> np.ndarray:
    """``n`` points uniform in a sphere of reduced density ``density`` (atoms/sigma^3),
    no two closer than ``min_distance`` (in sigma) [n, 3]."""
    rng = np.random.default_rng(seed)
    radius = (3.0 * n / (4.0 * np.pi * density)) ** (1.0 / 3.0)
    pts: list[np.ndarray] = []
    for _ in range(100000):
        p = rng.uniform(-radius, radius, 3)
        if np.linalg.norm(p) > radius:
            continue
        if all(np.linalg.norm(p - q) >= min_distance for q in pts):
            pts.append(p)
            if len(pts) == n:
                return np.array(pts)
    raise ValueError(f"could not place {n} atoms; lower density or min_distance")


# --- relaxation -----------------------------------------------------------------------


@dataclass
class Relaxation:
    """Result of :func:`relax` (energies in epsilon, forces in epsilon/sigma)."""

    positions: np.ndarray  # [n, 3]
    energy: float
    max_force: float  # largest |F_i| over atoms
    steps: int
    converged: bool
    energies: np.ndarray  # energy after each step


@functools.lru_cache(maxsize=8)
def _relaxer(epsilon, sigma, cutoff, learning_rate, momentum, max_update, max_steps):
    energy = functools.partial(lj_energy, epsilon=epsilon, sigma=sigma, cutoff=cutoff)
    value_and_grad = jax.value_and_grad(energy)
    # gradient descent with momentum; clipping the gradient keeps the first steps of a
    # crowded random start from throwing atoms away
    tx = optax.chain(
        optax.clip(max_update / learning_rate),
        optax.sgd(learning_rate, momentum=momentum),
    )

    def run(positions, fmax):
        e0, g0 = value_and_grad(positions)
        trace = jnp.zeros(max_steps, positions.dtype)

        def not_done(state):
            _, _, step, _, g, _ = state
            f = jnp.max(jnp.linalg.norm(g, axis=1))
            return (step < max_steps) & (f > fmax)

        def body(state):
            pos, opt, step, _, g, trace = state
            updates, opt = tx.update(g, opt, pos)
            pos = optax.apply_updates(pos, updates)
            e, g = value_and_grad(pos)
            return pos, opt, step + 1, e, g, trace.at[step].set(e)

        state = (positions, tx.init(positions), 0, e0, g0, trace)
        pos, _, steps, e, g, trace = jax.lax.while_loop(not_done, body, state)
        return pos, e, jnp.max(jnp.linalg.norm(g, axis=1)), steps, trace

    return jax.jit(run)


def relax(
    positions,
    *,
    epsilon: float = 1.0,
    sigma: float = 1.0,
    cutoff: float | None = None,
    fmax: float = 1e-6,
    max_steps: int = 20000,
    learning_rate: float = 2e-3,
    momentum: float = 0.9,
    max_update: float = 0.05,
) -> Relaxation:
    """Gradient descent (optax SGD with momentum) on the autodiff LJ energy.

    Stops when the largest force on an atom is below ``fmax`` (epsilon/sigma) or after
    ``max_steps``. The step size is in sigma^2/epsilon: keep it below about 2 divided by
    the largest curvature (roughly 1e-2 for close-packed LJ). ``max_update`` bounds a
    coordinate's move per step (in sigma) while forces are huge.

    Example, the 13-atom icosahedron (needs float64 for ``fmax=1e-6``):

    >>> r = relax(icosahedron13(1.0), fmax=1e-4)
    >>> round(r.energy, 3)
    -44.327
    """
    dtype = jnp.float64 if jax.config.jax_enable_x64 else jnp.float32
    run = _relaxer(
        float(epsilon),
        float(sigma),
        None if cutoff is None else float(cutoff),
        float(learning_rate),
        float(momentum),
        float(max_update),
        int(max_steps),
    )
    pos, e, f, steps, trace = run(jnp.asarray(positions, dtype), fmax)
    steps = int(steps)
    return Relaxation(
        positions=np.asarray(pos, dtype=np.float64),
        energy=float(e),
        max_force=float(f),
        steps=steps,
        converged=float(f) <= fmax,
        energies=np.asarray(trace[:steps], dtype=np.float64),
    )


# --- a labelled data set --------------------------------------------------------------


def rattled_structures(
    positions,
    amplitudes=(0.01, 0.03, 0.06, 0.1),
    per_amplitude: int = 25,
    *,
    seed: int = 0,
    epsilon: float = 1.0,
    sigma: float = 1.0,
    min_distance: float = 0.9,
    symbol: str = "Ar",
) -> list[Atoms]:
    """Copies of a cluster with Gaussian displacements, labelled with exact LJ values.

    Each coordinate moves by a normal deviate of standard deviation ``amplitude`` (in
    sigma); a draw with two atoms closer than ``min_distance`` sigma is redrawn (the
    repulsive wall there would dominate every error metric). Energy (all pairs) goes to
    ``atoms.info["energy"]``, forces to ``atoms.arrays["forces"]`` (matml's keys), the
    amplitude to ``atoms.info["amplitude"]``. The structures are non-periodic.
    """
    pos0 = np.asarray(positions, dtype=np.float64)
    n = len(pos0)
    rng = np.random.default_rng(seed)
    i, j = np.triu_indices(n, 1)
    fn = jax.jit(
        jax.value_and_grad(
            functools.partial(lj_energy, epsilon=float(epsilon), sigma=float(sigma))
        )
    )
    out = []
    for amp in amplitudes:
        made, tries = 0, 0
        while made < per_amplitude:
            tries += 1
            if tries > 1000 * per_amplitude:
                raise ValueError(f"amplitude {amp} too large for min_distance")
            pos = pos0 + rng.normal(scale=amp, size=pos0.shape)
            if np.linalg.norm(pos[j] - pos[i], axis=1).min() < min_distance * sigma:
                continue
            with jax.enable_x64(True):  # exact labels, whatever the caller's precision
                e, g = jax.device_get(fn(jnp.asarray(pos)))
            atoms = Atoms([symbol] * n, pos)
            atoms.info[keys.ENERGY] = float(e)
            atoms.arrays[keys.FORCES] = -np.asarray(g, dtype=np.float64)
            atoms.info["amplitude"] = float(amp)
            out.append(atoms)
            made += 1
    return out
