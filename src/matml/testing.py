"""Reusable physics checks for any matml potential (as e3nn-jax ships its own).

Every model's tests call these: finite-difference forces and stress, invariance to
rotations, reflections, translations and permutations, periodic images, padding,
batching, additivity of isolated atoms, smoothness at the cutoff, and
:func:`assert_equivariant` for irreps-valued functions. They work on
:class:`ase.Atoms` and a :class:`~matml.potential.Potential` in its own dtype, with
tolerances that depend on it (:func:`tolerances`): float32 is what users run, float64
makes the checks sharp. :func:`check_potential` runs the whole battery.

>>> import jax.numpy as jnp
>>> from ase.build import bulk
>>> from matml.potential import Potential
>>> pot = Potential("pair", ["Cu"], 4.0, {"hidden": [8]}, dtype=jnp.float64)
>>> atoms = bulk("Cu", "fcc", a=3.6, cubic=True)
>>> atoms.rattle(0.05, seed=0)
>>> assert_padding_invariant(pot, atoms)
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
from ase import Atoms

from matml.data import EDGE_MULTIPLE, NODE_MULTIPLE, Structure, collate, round_up

__all__ = [
    "Tolerances",
    "tolerances",
    "compute",
    "compute_batch",
    "finite_difference_forces",
    "finite_difference_stress",
    "random_rotation",
    "relative_error",
    "assert_forces_match_finite_differences",
    "assert_stress_matches_finite_differences",
    "assert_invariant",
    "assert_periodic_images",
    "assert_padding_invariant",
    "assert_batched_equals_single",
    "assert_isolated_atoms_additive",
    "assert_smooth_cutoff",
    "assert_equivariant",
    "assert_properties_equivariant",
    "property_values",
    "transform_property",
    "check_potential",
    "count_compiles",
]


@dataclass(frozen=True)
class Tolerances:
    """What "equal" means in one dtype (relative errors unless named ``abs``)."""

    fd_step: float  # Å, and strain: smaller steps measure rounding, not the model
    fd: float  # autodiff against central differences
    symmetry: float  # rotations, translations, permutations, periodic images
    padding: float  # padded / batched against one tight graph
    cutoff_abs: float  # eV and eV/Å just inside the cutoff


def tolerances(dtype) -> Tolerances:
    """Tolerances of the battery for ``dtype`` (float32 or float64)."""
    if np.dtype(dtype) == np.float64:
        return Tolerances(fd_step=1e-4, fd=1e-6, symmetry=1e-10, padding=1e-12,
                          cutoff_abs=1e-6)  # fmt: skip
    return Tolerances(fd_step=1e-3, fd=2e-2, symmetry=2e-4, padding=1e-5,
                      cutoff_abs=1e-3)  # fmt: skip


def _tol(potential) -> Tolerances:
    return tolerances(potential.dtype)


def compute_batch(potential, structures: Sequence[Atoms], *, pad_nodes=0, pad_edges=0):
    """Predictions (numpy) of one padded batch of ``structures``, in the potential's
    dtype, with ``pad_nodes`` / ``pad_edges`` extra padding."""
    import jax
    from flax import nnx

    from matml.potential import predict_fn

    ss = [
        Structure.from_atoms(a, potential.cutoff, potential.species) for a in structures
    ]
    graph = collate(
        ss,
        round_up(sum(s.n_node for s in ss) + 1, NODE_MULTIPLE) + pad_nodes,
        round_up(sum(s.n_edge for s in ss), EDGE_MULTIPLE) + pad_edges,
        len(ss) + 1,
    ).cast(potential.dtype)
    graphdef, state = nnx.split(potential)
    return jax.device_get(predict_fn(graphdef, True, potential.dtype)(state, graph))


def compute(potential, atoms: Atoms, *, pad_nodes: int = 0, pad_edges: int = 0):
    """Energy, forces [n,3], stress [3,3] and per-atom energies of one structure."""
    out = compute_batch(potential, [atoms], pad_nodes=pad_nodes, pad_edges=pad_edges)
    n = len(atoms)
    return (
        float(out.energy[0]),
        np.asarray(out.forces[:n], dtype=np.float64),
        np.asarray(out.stress[0], dtype=np.float64),
        np.asarray(out.node_energies[:n], dtype=np.float64),
    )


def _energy(potential, atoms):
    return compute(potential, atoms)[0]


def finite_difference_forces(potential, atoms: Atoms, h: float = 1e-4) -> np.ndarray:
    """Central differences ``-(E(x+h) - E(x-h)) / 2h`` for every coordinate."""
    out = np.zeros((len(atoms), 3))
    for i in range(len(atoms)):
        for k in range(3):
            plus, minus = atoms.copy(), atoms.copy()
            plus.positions[i, k] += h
            minus.positions[i, k] -= h
            out[i, k] = -(_energy(potential, plus) - _energy(potential, minus)) / (
                2 * h
            )
    return out


def finite_difference_stress(potential, atoms: Atoms, h: float = 1e-5) -> np.ndarray:
    """Central differences of ``E`` under symmetric strains: ``(1/V) dE/d(strain)``."""
    vol = atoms.get_volume()
    out = np.zeros((3, 3))
    for i in range(3):
        for j in range(i, 3):
            energies = []
            for sign in (1, -1):
                eps = np.zeros((3, 3))
                eps[i, j] = eps[j, i] = sign * h
                a = atoms.copy()
                a.set_cell(a.cell[:] @ (np.eye(3) + eps), scale_atoms=True)
                energies.append(_energy(potential, a))
            d = (energies[0] - energies[1]) / (2 * h)
            # d/dh of E(eps_ij = eps_ji = h) counts sigma_ij twice off the diagonal
            out[i, j] = out[j, i] = d / vol / (1 if i == j else 2)
    return out


def random_rotation(seed: int = 0, reflect: bool = False) -> np.ndarray:
    """A random 3x3 rotation matrix (times -1 if ``reflect``)."""
    q, r = np.linalg.qr(np.random.default_rng(seed).normal(size=(3, 3)))
    q = q * np.sign(np.diag(r))
    if np.linalg.det(q) < 0:
        q[:, 0] = -q[:, 0]
    return -q if reflect else q


def relative_error(a, b) -> float:
    """``max|a - b| / max|b|`` (0 when both vanish)."""
    a, b = np.asarray(a), np.asarray(b)
    scale = np.abs(b).max()
    return float(np.abs(a - b).max() / scale) if scale > 0 else float(np.abs(a).max())


def _close(a, b, tol: float, what: str) -> None:
    """``a`` equals ``b`` to ``tol`` relative to max(1, max|b|)."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    err = float(np.abs(a - b).max()) if a.size else 0.0
    scale = max(1.0, float(np.abs(b).max()) if b.size else 0.0)
    assert err <= tol * scale, f"{what}: max error {err:.3g} > {tol:.3g} x {scale:.3g}"


def assert_forces_match_finite_differences(potential, atoms: Atoms, *, tol=None):
    """Autodiff forces equal central differences of the energy (and are not zero)."""
    t = _tol(potential)
    _, forces, _, _ = compute(potential, atoms)
    fd = finite_difference_forces(potential, atoms, h=t.fd_step)
    assert np.abs(forces).max() > 1e-3, "forces are (nearly) zero: a trivial check"
    err = relative_error(forces, fd)
    assert err < (tol or t.fd), (
        f"forces vs finite differences: relative error {err:.3g}"
    )


def assert_stress_matches_finite_differences(potential, atoms: Atoms, *, tol=None):
    """Autodiff stress equals central differences under strain, and is symmetric."""
    t = _tol(potential)
    _, _, stress, _ = compute(potential, atoms)
    fd = finite_difference_stress(potential, atoms, h=t.fd_step / 10)
    assert np.abs(stress).max() > 1e-4, "stress is (nearly) zero: a trivial check"
    err = relative_error(stress, fd)
    assert err < (tol or t.fd), (
        f"stress vs finite differences: relative error {err:.3g}"
    )
    _close(stress, stress.T, t.padding, "stress symmetry")


def assert_invariant(potential, atoms: Atoms, *, tol=None, seed: int = 0):
    """Energy unchanged, forces and stress co-rotated, under a rotation (with and
    without inversion), a translation and a permutation of the atoms."""
    tol = tol or _tol(potential).symmetry
    e, f, s, _ = compute(potential, atoms)
    rng = np.random.default_rng(seed)
    for reflect in (False, True):
        rot = random_rotation(seed, reflect)
        a = atoms.copy()
        a.positions = a.positions @ rot.T
        a.set_cell(a.cell[:] @ rot.T, scale_atoms=False)
        e2, f2, s2, _ = compute(potential, a)
        kind = "rotation with inversion" if reflect else "rotation"
        _close(e2, e, tol, f"energy under {kind}")
        _close(f2, f @ rot.T, tol, f"forces under {kind}")
        _close(s2, rot @ s @ rot.T, tol, f"stress under {kind}")
    a = atoms.copy()
    a.positions += rng.normal(size=3) * 3.0
    e2, f2, _, _ = compute(potential, a)
    _close(e2, e, tol, "energy under translation")
    _close(f2, f, tol, "forces under translation")
    perm = rng.permutation(len(atoms))
    e2, f2, _, _ = compute(potential, atoms[perm])
    _close(e2, e, tol, "energy under permutation")
    _close(f2, f[perm], tol, "forces under permutation")


def assert_periodic_images(potential, atoms: Atoms, reps=(2, 2, 2), *, tol=None):
    """A supercell of a periodic cell has ``prod(reps)`` times its energy, the same
    stress, and the forces and per-atom energies of its images (use a cell smaller
    than twice the cutoff, so that atoms see their own images)."""
    tol = tol or _tol(potential).symmetry
    n = int(np.prod(reps))
    sup = atoms.repeat(reps)
    e1, f1, s1, ei1 = compute(potential, atoms)
    e2, f2, s2, ei2 = compute(potential, sup)
    _close(e2 / n, e1, tol, "energy per cell of the supercell")
    _close(s2, s1, tol, "stress of the supercell")
    _close(f2, np.tile(f1, (n, 1)), tol, "forces of the images")
    _close(ei2, np.tile(ei1, n), tol, "per-atom energies of the images")


def assert_padding_invariant(potential, atoms: Atoms, *, tol=None):
    """Extra padded nodes and edges change nothing; per-atom energies sum to E."""
    tol = tol or _tol(potential).padding
    e, f, s, ei = compute(potential, atoms)
    e2, f2, s2, ei2 = compute(potential, atoms, pad_nodes=16, pad_edges=128)
    _close(e2, e, tol, "energy with padding")
    _close(f2, f, tol, "forces with padding")
    _close(s2, s, tol, "stress with padding")
    _close(ei2, ei, tol, "per-atom energies with padding")
    _close(ei.sum(), e, tol * 10, "sum of per-atom energies")


def assert_batched_equals_single(potential, structures: Sequence[Atoms], *, tol=None):
    """A batch of structures predicts what each one does alone."""
    tol = tol or _tol(potential).padding * 10
    out = compute_batch(potential, structures)
    start = 0
    for k, atoms in enumerate(structures):
        e, f, s, _ = compute(potential, atoms)
        n = len(atoms)
        _close(out.energy[k], e, tol, f"energy of structure {k} in a batch")
        _close(out.forces[start : start + n], f, tol, f"forces of structure {k}")
        _close(out.stress[k], s, tol, f"stress of structure {k}")
        start += n


def assert_isolated_atoms_additive(potential, symbol: str | None = None, *, tol=None):
    """Two atoms far beyond the cutoff have twice the energy of one, and no forces."""
    tol = tol or _tol(potential).padding
    symbol = symbol or potential.species[0]
    e1, f1, _, _ = compute(potential, Atoms(symbol, positions=[[0, 0, 0]]))
    far = [[0, 0, 0], [0, 0, 3 * potential.cutoff]]
    e2, f2, _, _ = compute(potential, Atoms(symbol * 2, positions=far))
    _close(e2, 2 * e1, tol, "energy of two isolated atoms")
    assert np.all(f1 == 0) and np.all(f2 == 0), "isolated atoms feel forces"


def assert_smooth_cutoff(potential, symbols: str | None = None, *, tol=None):
    """Energy and force of a dimer go to their isolated values continuously as the
    distance reaches the cutoff (no jump of the energy, no force step)."""
    tol = tol or _tol(potential).cutoff_abs
    symbols = symbols or potential.species[0] * 2
    rc = potential.cutoff
    iso = compute(potential, Atoms(symbols, positions=[[0, 0, 0], [0, 0, 3 * rc]]))[0]
    for r in (rc - 1e-3, rc - 1e-2):
        e, f, _, _ = compute(
            potential, Atoms(symbols, positions=[[0, 0, 0], [0, 0, r]])
        )
        # the envelope is at least quadratic: within d of rc, |E - E_iso| ~ d^2
        scale = ((rc - r) / 1e-3) ** 2
        assert abs(e - iso) <= tol * scale, (
            f"energy jumps at the cutoff: {e - iso:.3g} eV at {rc - r:.0e} Å inside"
        )
        assert np.abs(f).max() <= tol * 10 * scale**0.5, (
            f"force step at the cutoff: {np.abs(f).max():.3g} eV/Å at "
            f"{rc - r:.0e} Å inside"
        )


def assert_equivariant(
    fn: Callable,
    *args,
    seed: int = 0,
    tol: float | None = None,
):
    """``fn(*args)`` transforms like its output irreps when every ``args`` (e3nn-jax
    ``IrrepsArray``s) is rotated, with and without inversion (as e3nn-jax's own check).

    ``fn`` returns an ``IrrepsArray`` (or a tuple of them). Positions are ``"1o"``.
    """
    import e3nn_jax as e3nn
    import jax

    def as_tuple(x):
        return x if isinstance(x, tuple) else (x,)

    out = as_tuple(fn(*args))
    dtype = out[0].array.dtype
    tol = tol or (1e-9 if np.dtype(dtype) == np.float64 else 1e-4)
    for reflect in (False, True):
        rot = random_rotation(seed, reflect)
        moved = [a.transform_by_matrix(rot.astype(a.array.dtype)) for a in args]
        got = as_tuple(fn(*moved))
        for k, (o, g) in enumerate(zip(out, got, strict=True)):
            assert isinstance(g, e3nn.IrrepsArray), "fn must return IrrepsArray(s)"
            want = jax.device_get(
                o.transform_by_matrix(rot.astype(o.array.dtype)).array
            )
            kind = "rotation with inversion" if reflect else "rotation"
            _close(
                jax.device_get(g.array), want, tol, f"output {k} ({o.irreps}) {kind}"
            )


def property_values(potential, atoms: Atoms) -> dict[str, np.ndarray]:
    """The declared properties' values on one structure (numpy, float64): ``[*shape]``
    for structures, ``[n, *shape]`` for atoms, and for edges a dict from ``(centre,
    neighbour, shift)`` to the edge's value (so that edge orders may differ)."""
    s = Structure.from_atoms(atoms, potential.cutoff, potential.species)
    out = compute_batch(potential, [atoms])
    values = {}
    for p in potential.properties:
        v = np.asarray(out.properties[p.name], dtype=np.float64)
        v = v[p.rows(0, slice(0, s.n_node), slice(0, s.n_edge))]
        values[p.name] = v
        if p.level == "edge":
            keys = zip(s.receivers, s.senders, map(tuple, s.shifts), strict=True)
            values[p.name] = {
                (int(i), int(j), tuple(int(x) for x in k)): v[e]
                for e, (i, j, k) in enumerate(keys)
            }
    return values


def transform_property(prop, value, rot: np.ndarray) -> np.ndarray:
    """How ``value`` (one item of ``prop``) changes when the structure is rotated by
    ``rot`` (an orthogonal 3x3 matrix, possibly with inversion): ``R v`` for a vector,
    ``det(R) R v`` for a pseudovector, ``R T R^T`` for a rank-2 tensor, and the
    Wigner D-matrices of its irreps (with parity) otherwise."""
    det = float(np.linalg.det(rot))
    value = np.asarray(value, dtype=np.float64)
    kind = prop.cartesian
    if kind == "scalar":
        return value
    if kind == "pseudoscalar":
        return det * value
    if kind == "vector":
        return value @ rot.T
    if kind == "pseudovector":
        return det * value @ rot.T
    if kind in ("symmetric", "tensor"):
        return np.einsum("ij,...jk,lk->...il", rot, value, rot)
    import e3nn_jax as e3nn
    import jax

    with jax.enable_x64(True):
        d = np.asarray(e3nn.Irreps(prop.irreps).D_from_matrix(rot), dtype=np.float64)
    return value @ d.T


def assert_properties_equivariant(potential, atoms: Atoms, *, tol=None, seed: int = 0):
    """Every declared property transforms as its declaration says under a rotation,
    with and without inversion (see :func:`transform_property`); structure- and
    atom-level values are unchanged by a translation, and atom-level ones follow a
    permutation of the atoms. ``tol``: relative to max(1, max|value|) (default 1e-5
    in float32, 1e-10 in float64)."""
    if tol is None:
        tol = 1e-10 if np.dtype(potential.dtype) == np.float64 else 1e-5
    props = {p.name: p for p in potential.properties}
    assert props, "the potential declares no properties"
    ref = property_values(potential, atoms)
    for reflect in (False, True):
        rot = random_rotation(seed, reflect)
        a = atoms.copy()
        a.positions = a.positions @ rot.T
        a.set_cell(a.cell[:] @ rot.T, scale_atoms=False)
        got = property_values(potential, a)
        kind = "rotation with inversion" if reflect else "rotation"
        for name, p in props.items():
            want = ref[name]
            if p.level == "edge":
                assert set(got[name]) == set(want), f"{name}: edges differ ({kind})"
                keys = sorted(want)
                want = np.stack([transform_property(p, want[k], rot) for k in keys])
                have = np.stack([got[name][k] for k in keys])
            else:
                want, have = transform_property(p, want, rot), got[name]
            _close(have, want, tol, f"{name} ({p.level}, {p.irreps}) under {kind}")
    rng = np.random.default_rng(seed)
    a = atoms.copy()
    a.positions += rng.normal(size=3) * 3.0
    got = property_values(potential, a)
    perm = rng.permutation(len(atoms))
    moved = property_values(potential, atoms[perm])
    for name, p in props.items():
        if p.level == "edge":
            continue
        _close(got[name], ref[name], tol, f"{name} under translation")
        want = ref[name][perm] if p.level == "atom" else ref[name]
        _close(moved[name], want, tol, f"{name} under permutation")


def check_potential(potential, periodic: Atoms, cluster: Atoms | None = None):
    """The whole battery on a rattled periodic cell (and, if given, a cluster), with
    the tolerances of the potential's dtype."""
    for atoms in [periodic] + ([cluster] if cluster is not None else []):
        assert_forces_match_finite_differences(potential, atoms)
        assert_invariant(potential, atoms)
        assert_padding_invariant(potential, atoms)
    assert_stress_matches_finite_differences(potential, periodic)
    assert_batched_equals_single(
        potential, [periodic] + ([cluster] if cluster is not None else [])
    )
    assert_isolated_atoms_additive(potential)
    assert_smooth_cutoff(potential)


_COMPILE_EVENT = "/jax/core/compile/backend_compile_duration"
_compile_counters: list[list[str]] = []
_compile_listener_registered = False


def _on_compile(event: str, _seconds: float, **kwargs) -> None:
    if event == _COMPILE_EVENT:
        for names in _compile_counters:
            names.append(str(kwargs.get("fun_name", "?")))


@contextmanager
def count_compiles() -> Iterator[list[str]]:
    """Names of the XLA executables built (compiled, or loaded from the persistent
    cache) inside the block, one entry each, from JAX's own monitoring events::

        with count_compiles() as built:
            run_md(...)
        assert len(built) <= 2, built
    """
    global _compile_listener_registered
    import jax.monitoring

    if not _compile_listener_registered:
        jax.monitoring.register_event_duration_secs_listener(_on_compile)
        _compile_listener_registered = True
    names: list[str] = []
    _compile_counters.append(names)
    try:
        yield names
    finally:
        _compile_counters.remove(names)
