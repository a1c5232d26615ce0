"""``MomentInvariants``: the moment-invariant descriptor (MILAD-style) as one object."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from matml._jit import jit
from matml.descriptors._coupling import InvariantTables
from matml.descriptors._cutoff import CUTOFFS
from matml.descriptors._invariants import invariants
from matml.descriptors._moments import environment_moments
from matml.descriptors._radial import RADIAL_BASES, n_per_l
from matml.descriptors._selection import independent_tables
from matml.descriptors._zernike import geometric_to_zernike
from matml.errors import ConfigError

__all__ = ["MomentInvariants"]

DENSITIES = ("delta", "gaussian")


class MomentInvariants:
    """Rotation-invariant moment descriptors of every atom's environment.

    The neighbours of each atom within ``cutoff`` make a density in the unit ball (Dirac
    deltas or Gaussians, weighted by species and by a smooth cutoff function); its
    moments on a radial basis x e3nn-jax's real spherical harmonics are coupled by
    Clebsch-Gordan coefficients into invariants of degree 1 to ``max_degree``, of which a
    linearly independent set is kept (see :attr:`counts`). Invariant under rotations,
    reflections, translations and permutations of the neighbours.

    Args:
        cutoff: r_c in Å.
        max_order: N, the largest Zernike order n (blocks l <= N, n_l = (N - l)//2 + 1).
        max_degree: 1 to 4, the largest polynomial degree of the invariants.
        species: element symbols, in the order of ``AtomsGraph.species`` indices. ``None``
            means element-blind (every neighbour weighs 1).
        weights: element -> weight for a single weighted density. If not given and
            there are several species, each species gets a density (channel) of its
            own and the invariants of each channel are concatenated (no cross-species
            coupling).
        density: ``"delta"`` or ``"gaussian"`` (Zernike radial basis only).
        sigma: Gaussian width in Å.
        radial: ``"zernike"``, ``"bessel"`` or ``"chebyshev"``.
        cutoff_fn: ``"cosine"`` (C1) or ``"triweight"`` (C2, (1 - (r/r_c)^2)^3).
        chunk_size: environments per block when evaluating invariants (blocks keep the
            coupled arrays in cache; a speed setting only, results do not change).

    >>> from ase.build import bulk
    >>> desc = MomentInvariants(cutoff=4.0, max_order=3, max_degree=3)
    >>> desc(bulk("Si", "diamond", a=5.43)).shape
    (2, 31)
    """

    def __init__(
        self,
        cutoff: float = 5.0,
        max_order: int = 7,
        max_degree: int = 4,
        species: Sequence[str] | None = None,
        weights: Mapping[str, float] | None = None,
        density: str = "delta",
        sigma: float = 0.4,
        radial: str = "zernike",
        cutoff_fn: str = "cosine",
        chunk_size: int = 96,
    ):
        def bad(msg, fld):
            raise ConfigError(msg, entry="MomentInvariants", field=fld)

        if not cutoff > 0:
            bad(f"must be positive, got {cutoff}", "cutoff")
        if int(max_order) != max_order or not 0 <= max_order <= 12:
            bad(f"must be an integer in 0..12, got {max_order}", "max_order")
        if max_degree not in (1, 2, 3, 4):
            bad(f"must be 1, 2, 3 or 4, got {max_degree}", "max_degree")
        if density not in DENSITIES:
            bad(f"unknown density {density!r}; choose from {DENSITIES}", "density")
        if radial not in RADIAL_BASES:
            bad(
                f"unknown radial basis {radial!r}; choose from {RADIAL_BASES}", "radial"
            )
        if cutoff_fn not in CUTOFFS:
            bad(
                f"unknown cutoff function {cutoff_fn!r}; choose from {CUTOFFS}",
                "cutoff_fn",
            )
        if density == "gaussian" and radial != "zernike":
            bad("a Gaussian density needs the Zernike radial basis", "density")
        if density == "gaussian" and not sigma > 0:
            bad(f"must be positive, got {sigma}", "sigma")
        if weights is not None:
            if species is None:
                species = tuple(weights)
            missing = [s for s in species if s not in weights]
            if missing:
                bad(f"no weight for {', '.join(missing)}", "weights")
        self.cutoff = float(cutoff)
        self.max_order = int(max_order)
        self.max_degree = int(max_degree)
        self.species = None if species is None else tuple(species)
        self.weights = (
            None if weights is None else {k: float(v) for k, v in weights.items()}
        )
        self.density = density
        self.sigma = float(sigma) if density == "gaussian" else 0.0
        self.radial = radial
        self.cutoff_fn = cutoff_fn
        self.chunk_size = int(chunk_size)
        self.tables: InvariantTables = independent_tables(
            n_per_l(self.max_order), self.max_degree
        )
        n_sp = 1 if self.species is None else len(self.species)
        self.n_channels = n_sp if (self.weights is None and n_sp > 1) else 1
        if self.weights is not None:
            self._species_weights = np.array([self.weights[s] for s in self.species])
        else:
            self._species_weights = np.ones(n_sp)
        if self.density == "gaussian":
            geometric_to_zernike(self.max_order)  # build the constant outside any trace
        #: ``from_graph`` compiled with ``jax.jit`` (one compile per padded shape):
        #: what ``__call__`` runs, and the function to time or call on device graphs
        self.jit_from_graph = jit(self.from_graph)

    # -- description --------------------------------------------------------------
    def config(self) -> dict:
        """The arguments that rebuild this descriptor (JSON-serialisable)."""
        return {
            "cutoff": self.cutoff,
            "max_order": self.max_order,
            "max_degree": self.max_degree,
            "species": None if self.species is None else list(self.species),
            "weights": self.weights,
            "density": self.density,
            "sigma": self.sigma if self.density == "gaussian" else 0.4,
            "radial": self.radial,
            "cutoff_fn": self.cutoff_fn,
        }

    @property
    def counts(self) -> dict[int, int]:
        """Number of independent invariants of each degree (per channel)."""
        return self.tables.counts()

    @property
    def n_features(self) -> int:
        """Features per atom (all channels)."""
        return self.tables.n_features * self.n_channels

    def feature_labels(self) -> list[str]:
        """A label per feature: degree, then the coupled blocks (l, k) and L."""
        if self.n_channels == 1:
            return list(self.tables.labels)
        return [f"{s}: {lab}" for s in self.species for lab in self.tables.labels]

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.config().items())
        return f"MomentInvariants({args})"

    # -- pure functions (use inside jit / models) ---------------------------------
    def moments_from_edges(
        self, vectors, centres, neighbour_species, edge_mask, n_nodes
    ):
        """Moments [n_nodes, n_channels, K] of every environment (pure jnp).

        ``neighbour_species`` is the species index of ``senders`` ([E] int); ``n_nodes``
        must be static under jit.
        """
        if self.species is None:  # element-blind: every neighbour weighs 1
            w = jnp.ones(vectors.shape[0], dtype=vectors.dtype)
        else:
            w = jnp.asarray(self._species_weights, dtype=vectors.dtype)[
                neighbour_species
            ]
        return environment_moments(
            vectors,
            centres,
            w,
            edge_mask,
            n_nodes,
            cutoff=self.cutoff,
            max_order=self.max_order,
            radial=self.radial,
            density=self.density,
            sigma=self.sigma,
            cutoff_fn=self.cutoff_fn,
            channels=neighbour_species,
            n_channels=self.n_channels,
        )

    def from_edges(self, vectors, centres, neighbour_species, edge_mask, n_nodes):
        """Invariants [n_nodes, n_features] from edge vectors (pure, differentiable).

        Args:
            vectors: [E, 3] from centre to neighbour (``matml.data.edge_vectors``).
            centres: [E] centre atom (``graph.receivers``).
            neighbour_species: [E] species index of the neighbour
                (``graph.species[graph.senders]``).
            edge_mask: [E] bool.
            n_nodes: number of atoms (static).
        """
        c = self.moments_from_edges(
            vectors, centres, neighbour_species, edge_mask, n_nodes
        )
        c = c.reshape(n_nodes * self.n_channels, -1)
        feats = _chunked_invariants(c, self.tables, self.chunk_size)
        return feats.reshape(n_nodes, -1)

    def from_graph(self, graph, positions=None, cell=None):
        """Invariants [N, n_features] of a padded ``AtomsGraph`` (pure, jit-able).

        Pass ``positions`` and/or ``cell`` (e.g. strained ones) to differentiate with
        respect to them. Rows of padding atoms are zero.
        """
        from matml.data import edge_vectors

        vec = edge_vectors(graph, positions, cell)
        feats = self.from_edges(
            vec,
            graph.receivers,
            graph.species[graph.senders],
            graph.edge_mask,
            graph.positions.shape[0],
        )
        # padding atoms have only masked edges: zero moments, so zero invariants
        # (every invariant is a polynomial without constant term); no masking pass
        return feats

    # -- convenience ---------------------------------------------------------------
    def graph(self, atoms, **padding):
        """``atoms_to_graph`` with this descriptor's cutoff and species."""
        from ase import Atoms

        from matml.data import atoms_to_graph

        atoms_list = [atoms] if isinstance(atoms, Atoms) else list(atoms)
        if "n_node" not in padding:
            # nodes padded to a multiple of the chunk: the chunked evaluation then
            # writes its result in place, with no final copy
            n = sum(len(a) for a in atoms_list) + 1
            if n > self.chunk_size:
                padding["n_node"] = -(-n // self.chunk_size) * self.chunk_size
        if self.species is not None:
            return atoms_to_graph(atoms_list, self.cutoff, self.species, **padding)
        present = sorted({s for a in atoms_list for s in a.get_chemical_symbols()})
        return _blind(atoms_to_graph(atoms_list, self.cutoff, present, **padding))

    def __call__(self, structures, dtype=None) -> np.ndarray:
        """Per-atom features of ``ase.Atoms``, a list of them, or an ``AtomsGraph``.

        Returns a numpy array [total atoms, n_features] (padding removed), atoms of
        several structures one after the other.
        """
        from matml.data import AtomsGraph

        graph = (
            structures if isinstance(structures, AtomsGraph) else self.graph(structures)
        )
        jgraph = graph.to_jax(dtype) if isinstance(graph, AtomsGraph) else graph
        feats = self.jit_from_graph(jgraph)
        return np.asarray(feats)[np.asarray(graph.node_mask)]


def _chunked_invariants(c, tables, chunk):
    """``invariants`` over blocks of ``chunk`` rows (lax.map), padding with zeros."""
    n = c.shape[0]
    if n <= chunk:
        return invariants(c, tables)
    n_pad = -(-n // chunk) * chunk
    c = jnp.pad(c, ((0, n_pad - n), (0, 0)))
    out = jax.lax.map(
        lambda x: invariants(x, tables), c.reshape(n_pad // chunk, chunk, -1)
    )
    return out.reshape(n_pad, -1)[:n]


def _blind(graph):
    """Element-blind graph: every species index 0 (one weight-1 channel)."""
    return graph._replace(species=np.zeros_like(np.asarray(graph.species)))
