"""Properties, declared once: name, level, irreps (or Cartesian kind) and file key.

A declaration drives every layer: the key read from (and written to) extxyz files, the
padded arrays and masks of :class:`~matml.data.AtomsGraph`, the model's output head,
the loss term and metrics, the saved model's header and the calculator's results.
Energy, forces and stress are three declared properties (:data:`BUILTIN`): energy is
the model's own structure-level scalar, forces and stress its derivatives.

In a training config, ``properties:`` maps names to declarations::

    properties:
      dipole: {level: structure, reduce: moment}   # a known name: 1o, REF_dipole
      chi: {level: atom, cartesian: symmetric, weight: 10}
      gap: {level: structure, irreps: 0e, reduce: mean, key: band_gap}

Keys: ``level`` (structure, atom or edge; required), ``irreps`` (e3nn irreps of the
output, e.g. ``2x0e + 1o``) and/or ``cartesian`` (the value's Cartesian kind:
scalar, pseudoscalar, vector, pseudovector, symmetric (3x3, 0e + 2e), tensor (3x3,
0e + 1e + 2e)), ``key`` (where files hold it: ``atoms.info`` for structures,
``atoms.arrays`` for atoms; default ``REF_<name>``), ``weight`` (of its loss term,
default 1), ``hidden`` (width of its head's scalar MLP, default 32) and, for
structures, ``reduce``: ``sum`` (of per-atom contributions, the
default), ``mean``, or ``moment`` (a dipole: ``sum_i q_i r_i + p_i`` with per-atom
charges ``q`` made neutral and per-atom vectors ``p``; for molecules and clusters).

Values: a Cartesian kind gives arrays of shape ``()``, ``(3,)`` or ``(3, 3)`` per item;
plain irreps give their e3nn components ``(dim,)`` (l = 1 in x, y, z order). Units are
the file's; metrics report them as they are.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from functools import cache, cached_property

import numpy as np

from matml.errors import ConfigError
from matml.keys import EV_PER_A3_TO_GPA

__all__ = [
    "Property",
    "BUILTIN",
    "ENERGY",
    "FORCES",
    "STRESS",
    "ASE_NAMES",
    "parse_properties",
]

LEVELS = ("structure", "atom", "edge")
REDUCE = ("sum", "mean", "moment")
CARTESIAN = {  # kind: (irreps, shape of one value)
    "scalar": ("0e", ()),
    "pseudoscalar": ("0o", ()),
    "vector": ("1o", (3,)),
    "pseudovector": ("1e", (3,)),
    "symmetric": ("0e + 2e", (3, 3)),
    "tensor": ("0e + 1e + 2e", (3, 3)),
}
# names whose physics fixes the kind (so a dipole cannot be declared 1e)
KNOWN = {
    "dipole": ("structure", "vector"),
    "charges": ("atom", "scalar"),
    "magmom": ("structure", "scalar"),
    "magmoms": ("atom", "scalar"),
    "polarizability": ("structure", "symmetric"),
    "born_charges": ("atom", "tensor"),
}
# properties that ASE's calculators know by name (the rest go to calc.results too)
ASE_NAMES = {"dipole", "charges", "magmom", "magmoms"}
OPTIONS = ("level", "irreps", "cartesian", "key", "weight", "reduce", "hidden")
# names the calculator and matml.predict already give (or ASE reads with another
# meaning): a property may not take them
RESERVED = {"energies", "node_energies", "free_energy", "stresses", "forces",
            "energy", "stress"}  # fmt: skip


def _irreps(text: str):
    import e3nn_jax as e3nn

    return e3nn.Irreps(text).regroup()


@dataclass(frozen=True)
class Property:
    """One declared property (hashable: it is part of compiled functions' keys)."""

    name: str
    level: str
    irreps: str
    cartesian: str | None = None
    key: str = ""
    weight: float = 1.0
    reduce: str = "sum"
    hidden: int = 32  # width of the head's scalar MLP
    builtin: bool = False
    # how errors are measured (set for the built-in ones): per atom of the structure
    # (energy), and the factor from file units to the units metrics report
    per_atom: bool = False
    unit_factor: float = 1.0
    unit: str = "file units"  # of the metrics (after unit_factor)

    @cached_property
    def shape(self) -> tuple[int, ...]:
        """Shape of one value (of one structure, atom or edge)."""
        if self.cartesian is not None:
            return CARTESIAN[self.cartesian][1]
        return (_irreps(self.irreps).dim,)

    @property
    def size(self) -> int:
        return int(np.prod(self.shape, dtype=int))

    def to_dict(self) -> dict:
        d = asdict(self)
        for k in ("builtin", "name", "per_atom", "unit_factor", "unit"):
            d.pop(k)
        if self.hidden == 32:  # the default: headers stay readable by older versions
            d.pop("hidden")
        if self.level != "structure":
            d.pop("reduce")
        if d["cartesian"] is None:
            d.pop("cartesian")
        return d

    def basis(self) -> np.ndarray | None:
        """For a rank-2 Cartesian kind, the orthonormal map ``[3, 3, dim]`` from the
        irreps components to the 3x3 tensor (e3nn-jax's reduced tensor product basis);
        ``None`` for other kinds (their components are the value)."""
        if self.cartesian not in ("symmetric", "tensor"):
            return None
        return _basis(self.cartesian)

    def rows(self, graph: int, atoms: slice, edges: slice):
        """Where one structure's value sits in a padded ``[G|N|E, ...]`` array: its
        graph index (structures), or its slice of atoms or of edges."""
        return {"structure": graph, "atom": atoms, "edge": edges}[self.level]

    def value(self, raw, *, count: int | None = None) -> np.ndarray:
        """A value read from a file as an array of :attr:`shape` (or ``[count,
        *shape]`` for atoms): any layout with the right number of numbers."""
        a = np.asarray(raw, dtype=np.float64)
        want = self.shape if count is None else (count, *self.shape)
        if a.size != int(np.prod(want, dtype=int)):
            raise ValueError(
                f"has {a.size} values, expected {int(np.prod(want, dtype=int))} "
                f"(shape {want})"
            )
        # rows first ([count, ...]), or flattened (edge values in ``info``)
        if count is not None and a.ndim > 1 and a.shape[0] != count:
            raise ValueError(f"has shape {a.shape}: expected {count} rows (one a row)")
        a = a.reshape(want)
        if self.cartesian == "symmetric" and np.abs(a - np.swapaxes(a, -1, -2)).max(
            initial=0.0
        ) > 1e-6 * max(1.0, float(np.abs(a).max(initial=0.0))):
            raise ValueError("is declared symmetric but is not")
        return a


# The built-in properties: the model's energy and its two derivatives. They go through
# the same padded arrays, masks, loss terms and metrics as declared ones; what is
# theirs alone is where the prediction comes from (the energy read-out, -dE/dr, the
# strain derivative), that the energy error is taken per atom and that metrics report
# meV/atom and GPa. Their loss weights are the train section's energy/forces/stress.
ENERGY = Property("energy", "structure", "0e", "scalar", "REF_energy", builtin=True,
                  per_atom=True, unit_factor=1000.0, unit="meV/atom")  # fmt: skip
FORCES = Property("forces", "atom", "1o", "vector", "REF_forces", builtin=True,
                  unit="eV/Å")  # fmt: skip
STRESS = Property("stress", "structure", "0e + 2e", "symmetric", "REF_stress",
                  builtin=True, unit_factor=EV_PER_A3_TO_GPA, unit="GPa")  # fmt: skip
BUILTIN = (ENERGY, FORCES, STRESS)


@cache
def _basis(kind: str) -> np.ndarray:
    import e3nn_jax as e3nn

    formula = "ij=ji" if kind == "symmetric" else "ij"
    kw = {"i": "1o"} if kind == "symmetric" else {"i": "1o", "j": "1o"}
    q = e3nn.reduced_tensor_product_basis(formula, **kw)
    if q.irreps.regroup() != _irreps(CARTESIAN[kind][0]):  # e3nn's order changed
        raise RuntimeError(f"e3nn's basis of a {kind} is {q.irreps}")
    out = np.asarray(q.array, dtype=np.float64)
    out.setflags(write=False)
    return out


def _parity_text(irreps) -> str:
    return " + ".join(str(ir) for _, ir in irreps)


def declare(name: str, spec, *, where: str = "properties") -> Property:
    """One :class:`Property` from a config entry, checked (one-line errors)."""
    field = f"{where}.{name}"
    if not isinstance(name, str) or not name.isidentifier():
        raise ConfigError(
            f"property name {name!r} must be a word (letters, digits, _)", field=where
        )
    if name in {p.name for p in BUILTIN}:
        raise ConfigError(
            f"{name} is built in (the model's energy and its derivatives): set its "
            f"loss weight with train.{name}_weight",
            field=field,
        )
    if name in RESERVED:
        raise ConfigError(
            f"{name} is a name the calculator already gives; choose another",
            field=field,
        )
    if not isinstance(spec, dict):
        raise ConfigError("must be a mapping (level, irreps, ...)", field=field)
    for k in spec:
        if k not in OPTIONS:
            raise ConfigError(
                f"unknown key {k!r}; known: {', '.join(OPTIONS)}", field=f"{field}.{k}"
            )
    known_level, known_kind = KNOWN.get(name, (None, None))
    level = spec.get("level", known_level)
    if known_level is not None and level != known_level:
        raise ConfigError(
            f"a {name} is a {known_level}-level property, not {level}",
            field=f"{field}.level",
        )
    if level not in LEVELS:
        raise ConfigError(
            f"unknown level {level!r}; choose {', '.join(LEVELS)}",
            field=f"{field}.level",
        )
    kind = spec.get("cartesian")
    if kind is not None and kind not in CARTESIAN:
        raise ConfigError(
            f"unknown Cartesian kind {kind!r}; choose {', '.join(CARTESIAN)}",
            field=f"{field}.cartesian",
        )
    if kind is None and "irreps" not in spec:
        kind = known_kind
    if kind is None and "irreps" not in spec:
        raise ConfigError(
            "give its irreps (e.g. '1o') or its Cartesian kind (e.g. 'symmetric')",
            field=field,
        )
    if known_kind is not None and kind is not None and kind != known_kind:
        raise ConfigError(
            f"a {name} is a {known_kind} ({CARTESIAN[known_kind][0]}), not a {kind}",
            field=f"{field}.cartesian",
        )
    try:
        irreps = _irreps(spec["irreps"]) if "irreps" in spec else None
    except (ValueError, TypeError) as err:
        raise ConfigError(f"not e3nn irreps: {err}", field=f"{field}.irreps") from None
    want = known_kind if kind is None else kind
    if want is None and irreps is not None:  # a lone scalar or vector is Cartesian
        want = next(
            (k for k in ("scalar", "pseudoscalar", "vector", "pseudovector")
             if irreps == _irreps(CARTESIAN[k][0])),
            None,
        )  # fmt: skip
    if want is not None:
        expected = _irreps(CARTESIAN[want][0])
        if irreps is not None and irreps != expected:
            same_l = sorted(ir.l for _, ir in irreps) == sorted(
                ir.l for _, ir in expected
            )
            why = "parity (e/o) does not match" if same_l else "do not match"
            raise ConfigError(
                f"irreps {_parity_text(irreps)} {why} a {want} "
                f"({_parity_text(expected)})",
                field=f"{field}.irreps",
            )
        irreps = expected
    if irreps.dim == 0:
        raise ConfigError("irreps are empty", field=f"{field}.irreps")
    # a dipole is the moment of charges by default (for clusters and molecules)
    reduce = spec.get("reduce", "moment" if name == "dipole" else "sum")
    if reduce not in REDUCE:
        raise ConfigError(
            f"unknown reduce {reduce!r}; choose {', '.join(REDUCE)}",
            field=f"{field}.reduce",
        )
    if level != "structure" and "reduce" in spec:
        raise ConfigError(
            f"reduce applies to structure-level properties, not {level}",
            field=f"{field}.reduce",
        )
    if reduce == "moment" and str(irreps) != "1x1o":
        raise ConfigError(
            f"reduce: moment makes a dipole (1o), not {_parity_text(irreps)}",
            field=f"{field}.reduce",
        )
    try:
        weight = float(spec.get("weight", 1.0))
    except (TypeError, ValueError):
        raise ConfigError("must be a number", field=f"{field}.weight") from None
    if not 0 <= weight < float("inf"):
        raise ConfigError("must be a finite number >= 0", field=f"{field}.weight")
    hidden = spec.get("hidden", 32)
    if isinstance(hidden, bool) or not isinstance(hidden, int) or hidden < 1:
        raise ConfigError(
            f"must be a whole number >= 1 (the head's MLP width), not {hidden!r}",
            field=f"{field}.hidden",
        )
    return Property(
        name=name,
        level=level,
        irreps=str(irreps),
        cartesian=want,
        key=str(spec.get("key", f"REF_{name}")),
        weight=weight,
        reduce=reduce,
        hidden=hidden,
    )


def parse_properties(raw, *, where: str = "properties") -> tuple[Property, ...]:
    """Declarations from a config mapping (or a saved model's list of dicts)."""
    if raw is None:
        return ()
    if isinstance(raw, list | tuple):  # [{"name": ..., ...}] as saved models hold them
        out = []
        for d in raw:
            d = dict(d)
            out.append(declare(d.pop("name"), d, where=where))
        return tuple(out)
    if not isinstance(raw, dict):
        raise ConfigError("must be a mapping name -> declaration", field=where)
    return tuple(declare(k, v, where=where) for k, v in raw.items())


def as_records(props) -> list[dict]:
    """Declarations as JSON records (``parse_properties`` reads them back)."""
    return [{"name": p.name, **p.to_dict()} for p in props]
