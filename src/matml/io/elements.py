"""Per-element property tables: Magpie's 22 properties of the 118 elements (matminer).

Used by the table pipeline's composition features and, standardised, as the node inputs
of the equivariant models' species embedding (``species_features: magpie``), so that
elements seen in few training structures share what they have in common with others.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import numpy as np

__all__ = ["N_ELEMENTS", "magpie_table", "element_features"]

N_ELEMENTS = 118


@functools.cache
def magpie_table() -> tuple[np.ndarray, tuple[str, ...], tuple[str, ...]]:
    """(118 x 22) Magpie element property table (NaN where unknown), the property
    names and Magpie's statistic names."""
    from matminer.featurizers.composition import ElementProperty
    from pymatgen.core.periodic_table import Element

    ep = ElementProperty.from_preset("magpie")
    table = np.array(
        [
            [
                float(ep.data_source.get_elemental_property(Element.from_Z(z), p))
                for p in ep.features
            ]
            for z in range(1, N_ELEMENTS + 1)
        ]
    )
    return table, tuple(ep.features), tuple(ep.stats)


KINDS = ("magpie",)


def element_features(symbols: Sequence[str], kind: str = "magpie") -> np.ndarray:
    """Standardised element properties ``[len(symbols), 22]``: each property minus its
    mean over the 118 elements, over its standard deviation; unknown values are 0
    (the mean).

    >>> element_features(["H", "Si"]).shape
    (2, 22)
    """
    from ase.data import atomic_numbers

    if kind not in KINDS:
        raise ValueError(f"species_features {kind!r}: use one of {', '.join(KINDS)}")
    table, _, _ = magpie_table()
    mean = np.nanmean(table, axis=0)
    std = np.nanstd(table, axis=0)
    std = np.where(std > 0, std, 1.0)
    z = (table - mean) / std
    z = np.where(np.isfinite(z), z, 0.0)
    rows = []
    for s in symbols:
        if s not in atomic_numbers or atomic_numbers[s] < 1:
            raise ValueError(f"species_features: unknown element {s!r}")
        rows.append(z[atomic_numbers[s] - 1])
    return np.asarray(rows)
