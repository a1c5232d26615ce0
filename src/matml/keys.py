"""Keys, units and sign conventions, declared once.

Units everywhere: eV, Å, eV/Å, eV/Å^3. Stress follows ASE: ``stress = (1/V) dE/d(strain)``
(tensile positive, the opposite of VASP's sign), Voigt order xx, yy, zz, yz, xz, xy.

A structure is an :class:`ase.Atoms` whose reference values live in ``atoms.info`` and
``atoms.arrays`` under the keys below, never in an attached calculator (ASE's readers move
plain ``energy``/``forces`` keys into a calculator, which later code could overwrite).
"""

from __future__ import annotations

ENERGY = "energy"  # atoms.info, float, eV (total energy of the cell)
FORCES = "forces"  # atoms.arrays, [N, 3], eV/Å
STRESS = "stress"  # atoms.info, [6] Voigt xx yy zz yz xz xy, eV/Å^3, ASE sign
GROUP = "group"  # atoms.info, str: a label such as "AIMD-NVT", "Elastic", "Surface"
WEIGHT = "weight"  # atoms.info, float >= 0: weight of the structure in the loss (1)

# Default names of the reference values in extended XYZ files (as MACE does). Reading
# ``energy``/``forces``/``stress`` directly would go through ASE's SinglePointCalculator.
EXTXYZ_ENERGY = "REF_energy"
EXTXYZ_FORCES = "REF_forces"
EXTXYZ_STRESS = "REF_stress"

KBAR_TO_EV_PER_A3 = 1.0 / 1602.1766208  # 1 eV/Å^3 = 160.21766208 GPa = 1602.17... kBar
EV_PER_A3_TO_GPA = 160.21766208

VOIGT_ORDER = ((0, 0), (1, 1), (2, 2), (1, 2), (0, 2), (0, 1))
# row and column indices of VOIGT_ORDER, to index [..., 3, 3] arrays: a[..., *VOIGT_INDEX]
VOIGT_INDEX = (tuple(i for i, _ in VOIGT_ORDER), tuple(j for _, j in VOIGT_ORDER))
