"""Readers, writers, validation and dataset downloads: files -> ``list[ase.Atoms]``.

Reference values follow :mod:`matml.keys`: ``info["energy"]`` (eV),
``arrays["forces"]`` (eV/Å), ``info["stress"]`` (Voigt, eV/Å^3, ASE sign).
"""

from matml.io.datasets import (
    MLEARN_COUNTS,
    MLEARN_SPLITS,
    MLEARN_URL,
    check_mlearn_file,
    default_cache_dir,
    fetch_mlearn,
    load_mlearn,
)
from matml.io.extxyz import read_extxyz, write_extxyz
from matml.io.mlearn import VIRIAL_ORDER, read_mlearn, virial_to_stress
from matml.io.read import detect_format, read
from matml.io.validate import TARGETS, check_cell, validate_structures

__all__ = [
    "read",
    "detect_format",
    "read_mlearn",
    "virial_to_stress",
    "VIRIAL_ORDER",
    "read_extxyz",
    "write_extxyz",
    "validate_structures",
    "check_cell",
    "TARGETS",
    "fetch_mlearn",
    "load_mlearn",
    "check_mlearn_file",
    "default_cache_dir",
    "MLEARN_URL",
    "MLEARN_COUNTS",
    "MLEARN_SPLITS",
]
