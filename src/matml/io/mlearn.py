"""Reader of the mlearn benchmark JSON files (Zuo et al., J. Phys. Chem. A 2020).

Each entry holds a pymatgen ``Structure.as_dict()``, the DFT (VASP) total energy in eV,
the forces in eV/Å and a six-component ``virial_stress`` in kBar. The reader builds
:class:`ase.Atoms` directly from the dictionary (lattice rows are the cell vectors,
``abc`` are fractional coordinates; ``pbc=True``), so pymatgen is not needed, and stores
the targets under the keys of :mod:`matml.keys`: ``info["energy"]``,
``arrays["forces"]`` and ``info["stress"]`` (eV/Å^3, ASE sign, ASE Voigt order
xx, yy, zz, yz, xz, xy), plus ``group``, ``description`` and ``tag`` in ``info``.

**Stress sign and order, and how they were verified.** mlearn's ``virial_stress`` has
VASP's sign: positive when the cell is compressed (it is a pressure), so
``stress_ASE = -virial_stress * 0.1 GPa/kBar``. ASE defines
``stress = (1/V) dE/d(strain)``, hence for two cells related by a small strain ``de``,
``E_b - E_a ~= V sigma : de`` (with V sigma taken as the mean of the two ends; the
sign of this formula under ASE's convention is checked with ASE's EMT calculator in
``tests/io/test_stress_sign.py``: a sheared, stretched Cu cell agrees to 0.13 %; the
opposite sign would give -100 %). Along the Elastic group (ten strained copies of one
crystal per strain mode, strains up to 10 %), the converted stresses reproduce the energy
differences of neighbouring copies (training + test files; least-squares slope of ``dE``
against ``<V sigma> : de``, and correlation):

- Si: 27 normal-strain pairs 0.987, 0.99999; 27 shear-strain pairs 0.998, 0.99999;
- Mo: 27 normal-strain pairs 0.992, 0.99994; 27 shear-strain pairs 1.002, 0.9996;
- Li: 9 normal-strain pairs 1.020, 1.00000 (shears: see below).

With VASP's sign every slope would be about -1. Normal strains fix the
sign, shear strains the order of the three off-diagonal components, which is **not the
same in every file**: in the Si and Li files it is VASP's ``xy, yz, zx`` (a yz shear of
the cell shows up in component 4), but in the Mo, Cu and Ni files it is ``xy, zx, yz``
(a yz shear shows up in component 5, an xz shear in component 4); every sheared cell of
every file has its largest shear stress on the sheared component, with the strain's
sign, except six Li entries (shear +-0.005 of the 2-atom cell, 0.94 kBar) whose sign
contradicts both their strain and the +-0.01 entries: a quirk of the data, left as it is.
:data:`VIRIAL_ORDER` holds the verified order per element (from the entry's ``element``);
elements not in it (Ge) are read in VASP's order.
"""

from __future__ import annotations

import os

import numpy as np
from ase import Atoms
from ase.data import atomic_numbers

from matml import keys
from matml.errors import InputError
from matml.io._json import iter_json_list

__all__ = ["read_mlearn", "VIRIAL_ORDER", "virial_to_stress"]

_VASP = ((0, 1), (1, 2), (2, 0))  # xy, yz, zx
_SWAPPED = ((0, 1), (0, 2), (1, 2))  # xy, xz, yz
VIRIAL_ORDER: dict[str, tuple[tuple[int, int], ...]] = {
    "Li": _VASP,
    "Si": _VASP,
    "Mo": _SWAPPED,
    "Cu": _SWAPPED,
    "Ni": _SWAPPED,
}
"""Cartesian pairs of ``virial_stress[3:6]`` per element, verified on the Elastic group."""


def virial_to_stress(
    virial_kbar, order: tuple[tuple[int, int], ...] = _VASP
) -> np.ndarray:
    """Convert a 6-component virial stress in kBar (VASP sign) to ASE's Voigt stress.

    Args:
        virial_kbar: ``xx, yy, zz`` then the three off-diagonal components in ``order``.
        order: the Cartesian pairs of components 3, 4, 5 (default VASP's xy, yz, zx).

    Returns:
        ``[6]`` stress in eV/Å^3, ASE sign (tensile positive), order xx yy zz yz xz xy.

    >>> virial_to_stress([1602.1766208, 0, 0, 0, 0, 0])[0]
    np.float64(-1.0)
    """
    v = np.asarray(virial_kbar, dtype=float)
    t = np.diag(v[:3])
    for value, (i, j) in zip(v[3:], order, strict=True):
        t[i, j] = t[j, i] = value
    t *= -keys.KBAR_TO_EV_PER_A3
    return np.array([t[i, j] for i, j in keys.VOIGT_ORDER])


def _structure_to_atoms(struct: dict, file: str, entry: int) -> Atoms:
    def err(message, field):
        return InputError(message, file=file, entry=entry, field=field)

    try:
        matrix = struct["lattice"]["matrix"]
        sites = struct["sites"]
    except (KeyError, TypeError):
        raise err("no lattice matrix or sites in the structure", "structure") from None
    try:
        cell = np.asarray(matrix, dtype=float)
    except (TypeError, ValueError):
        raise err(
            "lattice matrix is not a 3x3 array of numbers", "structure.lattice"
        ) from None
    if cell.shape != (3, 3):
        raise err(
            f"lattice matrix has shape {cell.shape}, expected (3, 3)",
            "structure.lattice",
        )
    if not isinstance(sites, list):
        raise err(
            f"sites must be a list, not {type(sites).__name__}", "structure.sites"
        )
    symbols, frac = [], []
    for k, site in enumerate(sites):
        try:
            species = site["species"]
            element, occu = species[0]["element"], species[0].get("occu", 1.0)
            abc = site["abc"]
        except (KeyError, TypeError, IndexError, AttributeError):
            raise err(f"site {k} has no species/abc", "structure.sites") from None
        try:
            disordered = len(species) != 1 or float(occu) != 1.0
        except (TypeError, ValueError):
            disordered = True
        if disordered:
            raise err(
                f"site {k} is disordered (partial occupancy), not supported",
                "structure.sites",
            )
        if not isinstance(element, str) or element not in atomic_numbers:
            raise err(f"site {k} has an unknown element {element!r}", "structure.sites")
        try:
            xyz = np.asarray(abc, dtype=float)
        except (TypeError, ValueError):
            xyz = None
        if xyz is None or xyz.shape != (3,):
            raise err(
                f"site {k}: abc must be 3 fractional coordinates, got {abc!r}",
                "structure.sites",
            )
        symbols.append(element)
        frac.append(xyz)
    frac = np.asarray(frac, dtype=float).reshape(-1, 3)
    return Atoms(symbols=symbols, positions=frac @ cell, cell=cell, pbc=True)


def _entry_to_atoms(item: dict, file: str, entry: int) -> Atoms:
    if not isinstance(item, dict) or "structure" not in item:
        raise InputError("not an mlearn entry (no 'structure')", file=file, entry=entry)
    atoms = _structure_to_atoms(item["structure"], file, entry)
    n = len(atoms)
    if "num_atoms" in item and item["num_atoms"] != n:
        raise InputError(
            f"num_atoms is {item['num_atoms']} but the structure has {n} sites",
            file=file,
            entry=entry,
            field="num_atoms",
        )
    outputs = item.get("outputs") or {}
    if not isinstance(outputs, dict):
        raise InputError(
            f"outputs must be a mapping, not {type(outputs).__name__}",
            file=file,
            entry=entry,
            field="outputs",
        )
    if outputs.get("energy") is not None:
        try:
            atoms.info[keys.ENERGY] = float(outputs["energy"])
        except (TypeError, ValueError):
            raise InputError(
                f"energy is not a number: {outputs['energy']!r}",
                file=file,
                entry=entry,
                field="energy",
            ) from None
    if outputs.get("forces") is not None:
        try:
            forces = np.asarray(outputs["forces"], dtype=float)
        except (TypeError, ValueError):
            forces = None
        if forces is None or forces.shape != (n, 3):
            shape = None if forces is None else forces.shape
            raise InputError(
                f"forces have shape {shape}, expected ({n}, 3)",
                file=file,
                entry=entry,
                field="forces",
            )
        atoms.arrays[keys.FORCES] = forces
    if outputs.get("virial_stress") is not None:
        try:
            virial = np.asarray(outputs["virial_stress"], dtype=float)
        except (TypeError, ValueError):
            virial = None
        if virial is None or virial.shape != (6,):
            raise InputError(
                "virial_stress must be 6 numbers (kBar)",
                file=file,
                entry=entry,
                field="virial_stress",
            )
        element = item.get("element")
        order = VIRIAL_ORDER.get(element if isinstance(element, str) else "", _VASP)
        atoms.info[keys.STRESS] = virial_to_stress(virial, order)
    for name in (keys.GROUP, "description", "tag"):
        if item.get(name) is not None:
            atoms.info[name] = str(item[name])
    return atoms


def read_mlearn(path: str | os.PathLike) -> list[Atoms]:
    """Read an mlearn JSON file into a list of :class:`ase.Atoms`.

    Args:
        path: an mlearn ``training.json`` or ``test.json``.

    Returns:
        One ``Atoms`` per entry, periodic, with ``info["energy"]`` (eV),
        ``arrays["forces"]`` (eV/Å), ``info["stress"]`` (eV/Å^3, ASE sign and Voigt
        order) and ``info["group"]``, ``info["description"]``, ``info["tag"]``.

    Raises:
        InputError: a missing, corrupt or truncated file, or an entry that is not a
            valid mlearn entry (the message names the file, entry index and field).
    """
    file = str(path)
    return [
        _entry_to_atoms(item, file, k) for k, item in enumerate(iter_json_list(path))
    ]
