"""An ASE calculator for any saved matml potential.

Energies, free energies (the same: no electronic entropy), forces, stress and per-atom
energies, and the model's declared properties (:mod:`matml.properties`): under their
ASE names where ASE has one (``dipole``, ``charges``, ``magmom``, ``magmoms``:
``atoms.get_dipole_moment()`` works), and in ``calc.results[name]`` otherwise
(``calc.get_property(name, atoms)`` too). Edge-level values come per edge of matml's
neighbour list. Arrays are padded to size buckets (atoms to a multiple of 8, edges to within
1/8 of a power of two, with headroom and hysteresis), so an MD run compiles once or
twice, not at every step; the neighbour list is a Verlet list (a 1 Å skin by default),
rebuilt only when an atom has moved half the skin.

>>> from ase.build import bulk
>>> from matml.potential import Potential
>>> atoms = bulk("Cu", "fcc", a=3.6)
>>> atoms.calc = MatmlCalculator(Potential("pair", ["Cu"], cutoff=4.0))
>>> atoms.get_forces().shape
(1, 3)
"""

from __future__ import annotations

import jax
import numpy as np
from ase.calculators.calculator import (
    Calculator,
    PropertyNotImplementedError,
    all_changes,
)
from flax import nnx

from matml.data import (
    NODE_MULTIPLE,
    Structure,
    VerletList,
    bucket,
    collate,
    round_up,
    species_index,
)
from matml.errors import InputError
from matml.io.validate import check_pair_distances
from matml.potential import predict_fn

__all__ = ["MatmlCalculator"]


class _Where:
    """Names the atoms in an error message; formatted only if an error is raised
    (the chemical formula costs tens of µs, every MD step)."""

    def __init__(self, atoms):
        self.atoms = atoms

    def __str__(self) -> str:
        return f"atoms {self.atoms.get_chemical_formula()}"


class MatmlCalculator(Calculator):
    """ASE calculator of a matml :class:`~matml.potential.Potential`.

    Args:
        model: a potential, or the path of a saved model file.
        dtype: float dtype of the computation (default: the model's).
        radial_table: evaluate the radial networks of an equivariant model
            (``nequip``, ``mace``) from cubic-spline tables of 1,024 pieces
            (:class:`~matml.nn.equivariant.RadialTable`) rather than layer by layer:
            the same energies to within float32 rounding (about 1e-10 eV/atom and
            2e-7 eV/Å in float64 for nequip-small at 5 Å), a compiled step in
            0.57-0.95x the time (``benchmarks/speed.py``). Default: on in float32,
            off in float64, where the exact network is kept for checks at float64's
            precision. Models without radial networks ignore it.
        skin: Å added to the cutoff of the neighbour list, which is then reused from
            call to call until an atom has moved more than half of it, or the cell or
            atoms change (a Verlet list, :class:`~matml.data.VerletList`): the pairs
            within the cutoff are picked from it at each call, so results are those
            of a list built afresh. ``0`` rebuilds at every call. Models with
            edge-level properties always rebuild, so their values come in the order
            of :func:`~matml.data.neighbor_list`.
    """

    implemented_properties = ["energy", "free_energy", "forces", "stress", "energies"]

    def __init__(
        self,
        model,
        *,
        dtype=None,
        radial_table: bool | None = None,
        skin: float = 1.0,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if not hasattr(model, "node_energies"):
            from matml.potential import load

            self.model_path = str(model)
            model = load(model)
        else:
            self.model_path = None
        self.potential = model
        self.dtype = np.dtype(dtype or model.dtype)
        if radial_table is None:
            radial_table = self.dtype != np.float64
        tabulate = getattr(model, "tabulated", None) if radial_table else None
        tabulated = tabulate() if tabulate else None
        self.radial_table = tabulated is not None
        # what runs: the model, or its tabulated copy (calc.potential stays the model)
        self.evaluated = model if tabulated is None else tabulated
        self._graphdef, self._state = nnx.split(self.evaluated)
        # a model of declared properties alone has no meaningful energy: no gradient
        # pass, and only its properties are offered
        self.energy_trained = getattr(model, "energy_trained", True)
        self._fn = predict_fn(
            self._graphdef, self.energy_trained, self.dtype, forces=self.energy_trained
        )
        self.shapes_seen: set[tuple[int, int]] = set()
        self.properties = tuple(getattr(model, "properties", ()))
        self.implemented_properties = [
            *(type(self).implemented_properties if self.energy_trained else ()),
            *(p.name for p in self.properties),
        ]
        if any(p.level == "edge" for p in self.properties):
            skin = 0.0
        self.neighbors = VerletList(model.cutoff, skin)
        self._species = (None, None)  # (numbers, species indices), reused while equal

    def check_state(self, atoms, tol=1e-15):
        """What changed since the last calculation: ASE's ``compare_atoms`` with
        exact comparisons. ASE's own check runs ``allclose`` on every array at each
        ``get_*()`` call (about 0.3 ms a step at 64 atoms); a difference below its
        ``tol`` counts here as a change, so the result is recomputed (the same)."""
        old = self.atoms
        if old is None:
            return super().check_state(atoms, tol)
        check = set(all_changes) - set(self.ignored_changes)
        changes = [
            prop
            for prop in ("cell", "pbc")
            if prop in check
            and not np.array_equal(
                np.asarray(getattr(old, prop)), np.asarray(getattr(atoms, prop))
            )
        ]
        mine, theirs = old.arrays, atoms.arrays
        changes += sorted(check & (mine.keys() ^ theirs.keys()))
        changes += [
            prop
            for prop in sorted(check & mine.keys() & theirs.keys())
            if not np.array_equal(mine[prop], theirs[prop])
        ]
        return changes

    def padded_sizes(self, n_node: int, n_edge: int) -> tuple[int, int]:
        """Padded sizes, sticky: the previous ones are kept while the structure fits
        and would not shrink them by more than a third, so MD compiles rarely."""
        nodes = round_up(n_node + 1, NODE_MULTIPLE)
        last = getattr(self, "_last_padding", None)
        if last and last[0] == nodes and 1.5 * n_edge > last[1] >= n_edge:
            return last
        # 10 % headroom: neighbour counts fluctuate as atoms move
        self._last_padding = (nodes, bucket(int(1.1 * n_edge) + 1))
        return self._last_padding

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        super().calculate(atoms, properties, system_changes)
        atoms = self.atoms
        pot = self.potential
        if not self.energy_trained and any(
            k in properties for k in type(self).implemented_properties
        ):
            raise PropertyNotImplementedError(
                f"{', '.join(properties)}: this model was trained on "
                f"{', '.join(p.name for p in self.properties)} alone, not on energies"
            )
        if "stress" in properties and not (
            atoms.pbc.all() and abs(np.linalg.det(atoms.cell[:])) > 1e-9
        ):
            raise PropertyNotImplementedError(
                "stress needs a periodic structure with a full-rank cell"
            )
        where = _Where(atoms)
        receivers, senders, shifts, distances = self.neighbors.update(atoms, file=where)
        check_pair_distances(
            receivers,
            senders,
            shifts,
            distances,
            lambda message, field: InputError(message, file=where, field=field),
        )
        numbers, species = self._species
        if numbers is None or not np.array_equal(numbers, atoms.numbers):
            species = species_index(
                atoms.get_chemical_symbols(), pot.species, file=where
            )
            self._species = (atoms.numbers.copy(), species)
        s = Structure(
            positions=np.asarray(atoms.positions, dtype=np.float64),
            species=species,
            cell=np.asarray(atoms.cell[:], dtype=np.float64),
            pbc=np.asarray(atoms.pbc, dtype=bool),
            receivers=receivers,
            senders=senders,
            shifts=shifts,
        )
        n_node, n_edge = self.padded_sizes(s.n_node, s.n_edge)
        self.shapes_seen.add((n_node, n_edge))
        # numpy arrays go to the jitted call as they are (one transfer, no eager ops per
        # field), and the predictions come back in one transfer: at 64 atoms this halves
        # the time of a step (benchmarks/speed.py).
        graph = collate([s], n_node, n_edge, 2).cast(self.dtype)
        pred = jax.device_get(self._fn(self._state, graph))
        n = s.n_node
        for p in self.properties:
            v = np.asarray(pred.properties[p.name], dtype=np.float64)
            v = v[p.rows(0, slice(0, n), slice(0, s.n_edge))]
            self.results[p.name] = float(v) if v.ndim == 0 else v
        if not self.energy_trained:
            return
        energy = float(pred.energy[0])
        self.results["energy"] = energy
        self.results["free_energy"] = energy
        self.results["forces"] = np.asarray(pred.forces[:n], dtype=np.float64)
        self.results["energies"] = np.asarray(pred.node_energies[:n], dtype=np.float64)
        if atoms.pbc.all() and abs(np.linalg.det(atoms.cell[:])) > 1e-9:
            from ase.stress import full_3x3_to_voigt_6_stress

            self.results["stress"] = full_3x3_to_voigt_6_stress(
                np.asarray(pred.stress[0], dtype=np.float64)
            )
