"""Padding to a few size buckets, and a loader that shuffles and batches a dataset.

jit compiles once per distinct array shape. Batches are padded to one of a handful of
(nodes, edges) buckets fixed before training, so an epoch over structures of varied sizes
compiles a few times, not once per batch.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
from ase import Atoms

from matml.data.dataset import Dataset, Structure
from matml.data.graph import AtomsGraph
from matml.properties import BUILTIN

__all__ = [
    "collate",
    "Buckets",
    "GraphLoader",
    "ShardedLoader",
    "atoms_to_graph",
    "prefetch",
    "stack",
    "round_up",
    "bucket",
    "NODE_MULTIPLE",
    "EDGE_MULTIPLE",
]

# The padding rules, in one place: node counts round up to a multiple of 8 (with one
# padding node at least), edge counts to a multiple of 64; sizes that move (an MD run,
# a stream of files) go to coarse buckets of at most 1/8 of a power of two.
NODE_MULTIPLE = 8
EDGE_MULTIPLE = 64


def round_up(n: int, multiple: int) -> int:
    """Smallest multiple of ``multiple`` that is >= ``n`` (and >= ``multiple``)."""
    return int(math.ceil(max(n, 1) / multiple) * multiple)


def bucket(n: int, minimum: int = EDGE_MULTIPLE) -> int:
    """Coarse padded size for a count that moves: a multiple of 1/8 of the largest
    power of two below ``n`` (so at most 12.5% padding), never below ``minimum``.

    >>> [bucket(n) for n in (10, 100, 1000, 3000)]
    [64, 128, 1024, 3072]
    """
    if n <= minimum:
        return int(minimum)
    step = max(minimum, 2 ** int(math.floor(math.log2(n))) // 8)
    return round_up(n, step)


def collate(
    structures: Sequence[Structure],
    n_node: int,
    n_edge: int,
    n_graph: int,
    properties: Sequence = (),
) -> AtomsGraph:
    """Concatenate structures into one padded :class:`AtomsGraph` (numpy arrays).

    Needs ``n_node`` > total nodes (one padding node at least), ``n_edge`` >= total edges
    and ``n_graph`` > number of structures (the last graph holds the padding).
    Targets: energy, forces and stress (:data:`matml.properties.BUILTIN`) and the
    declared ``properties`` (:class:`~matml.properties.Property`), each as padded
    values and a mask (false where a structure lacks it, and on padding).
    """
    G = len(structures)
    N = sum(s.n_node for s in structures)
    E = sum(s.n_edge for s in structures)
    if n_node <= N or n_edge < E or n_graph <= G:
        raise ValueError(
            f"padding ({n_node} nodes, {n_edge} edges, {n_graph} graphs) too small for "
            f"{N} nodes, {E} edges, {G} graphs"
        )
    positions = np.zeros((n_node, 3))
    species = np.zeros(n_node, np.int32)
    cell = np.tile(np.eye(3), (n_graph, 1, 1))
    pbc = np.zeros((n_graph, 3), bool)
    senders = np.full(n_edge, n_node - 1, np.int32)
    receivers = np.full(n_edge, n_node - 1, np.int32)
    shifts = np.zeros((n_edge, 3))
    node_graph = np.full(n_node, n_graph - 1, np.int32)
    n_node_arr = np.zeros(n_graph, np.int32)
    n_edge_arr = np.zeros(n_graph, np.int32)
    weight = np.zeros(n_graph)
    a = b = 0
    for g, s in enumerate(structures):
        n, m = s.n_node, s.n_edge
        positions[a : a + n] = s.positions
        species[a : a + n] = s.species
        cell[g] = s.cell
        pbc[g] = s.pbc
        senders[b : b + m] = s.senders + a
        receivers[b : b + m] = s.receivers + a
        shifts[b : b + m] = s.shifts
        node_graph[a : a + n] = g
        n_node_arr[g], n_edge_arr[g] = n, m
        weight[g] = s.weight
        a += n
        b += m
    n_node_arr[-1] = n_node - N
    n_edge_arr[-1] = n_edge - E
    # energy, forces and stress first, then the declared properties: one mechanism
    values, masks = _collate_properties(
        structures, (*BUILTIN, *properties), n_node, n_edge, n_graph
    )
    node_mask = np.arange(n_node) < N
    edge_mask = np.arange(n_edge) < E
    graph_mask = np.arange(n_graph) < G
    return AtomsGraph(
        positions, species, cell, pbc, senders, receivers, shifts, node_graph,
        n_node_arr, n_edge_arr, node_mask, edge_mask, graph_mask, weight, values,
        masks,
    )  # fmt: skip


def _collate_properties(structures, properties, n_node, n_edge, n_graph):
    """Padded values ``[G|N|E, *shape]`` and masks ``[G|N|E]`` of declared properties
    (zero and false where a structure lacks one, and on padding)."""
    values, masks = {}, {}
    size = {"structure": n_graph, "atom": n_node, "edge": n_edge}
    for p in properties:
        v = np.zeros((size[p.level], *p.shape))
        m = np.zeros(size[p.level], bool)
        a = b = 0
        for g, s in enumerate(structures):
            x = s.target(p)
            if x is not None:
                rows = p.rows(g, slice(a, a + s.n_node), slice(b, b + s.n_edge))
                v[rows] = x
                m[rows] = True
            a += s.n_node
            b += s.n_edge
        values[p.name], masks[p.name] = v, m
    return values, masks


@dataclass(frozen=True)
class Buckets:
    """A few (nodes, edges) paddings, largest first; a batch takes the smallest that fits.

    Node counts are multiples of 8 and edge counts multiples of 64; each includes room for
    the padding node. ``n_graph`` is fixed (batch size + 1).
    """

    nodes: tuple[int, ...]
    edges: tuple[int, ...]
    n_graph: int

    @classmethod
    def for_dataset(cls, dataset: Dataset, batch_size: int, n_buckets: int = 4):
        """Buckets spanning the smallest to the largest possible batch of ``dataset``."""
        return cls.for_datasets([dataset], batch_size, n_buckets)

    @classmethod
    def for_datasets(
        cls, datasets: Sequence[Dataset], batch_size: int, n_buckets: int = 4
    ):
        """Buckets for batches of any of ``datasets`` (each read without its structures
        when it is a store)."""
        sizes = [d.sizes() for d in datasets if d is not None and len(d)]
        nn = np.sort(np.concatenate([s[0] for s in sizes]))
        ne = np.sort(np.concatenate([s[1] for s in sizes]))
        k = min(batch_size, len(nn))
        hi_n, hi_e = int(nn[-k:].sum()) + 1, int(ne[-k:].sum())
        lo_n, lo_e = int(nn[:k].sum()) + 1, int(ne[:k].sum())
        return cls.geometric(lo_n, hi_n, lo_e, hi_e, k + 1, n_buckets)

    @classmethod
    def geometric(cls, lo_n, hi_n, lo_e, hi_e, n_graph, n_buckets=4):
        def series(lo, hi, mult):
            lo = max(lo, 1)
            if n_buckets == 1 or lo >= hi:
                return (round_up(hi, mult),)
            r = (lo / hi) ** (1.0 / (n_buckets - 1))
            vals = sorted({round_up(hi * r**i, mult) for i in range(n_buckets)})
            vals[-1] = max(vals[-1], round_up(hi, mult))
            return tuple(reversed(vals))

        nodes, edges = (
            series(lo_n, hi_n, NODE_MULTIPLE),
            series(lo_e, hi_e, EDGE_MULTIPLE),
        )
        m = min(len(nodes), len(edges))
        return cls(nodes[:m], edges[:m], int(n_graph))

    def pick(self, n_node: int, n_edge: int) -> tuple[int, int]:
        """Smallest bucket holding ``n_node`` + 1 nodes and ``n_edge`` edges."""
        best = None
        for N, E in zip(self.nodes, self.edges, strict=True):
            if N > n_node and E >= n_edge:
                best = (N, E)
        if best is None:  # bigger than planned: grow, at the price of a compile
            best = (
                round_up(n_node + 1, NODE_MULTIPLE),
                round_up(n_edge, EDGE_MULTIPLE),
            )
        return best


class GraphLoader:
    """Batches of a :class:`Dataset` as padded :class:`AtomsGraph` (numpy arrays).

    Shuffling is reproducible: the order of epoch ``e`` depends only on ``(seed, e)``,
    so a resumed run sees the same batches as an uninterrupted one.
    """

    def __init__(
        self,
        dataset: Dataset,
        batch_size: int,
        *,
        shuffle: bool = False,
        seed: int = 0,
        buckets: Buckets | None = None,
        n_buckets: int = 4,
    ):
        if len(dataset) == 0:
            raise ValueError("empty dataset")
        self.dataset = dataset
        self.batch_size = int(batch_size)
        self.shuffle = shuffle
        self.seed = seed
        self.buckets = buckets or Buckets.for_dataset(dataset, batch_size, n_buckets)
        self.epoch = 0

    def __len__(self) -> int:
        return math.ceil(len(self.dataset) / self.batch_size)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def order(self) -> np.ndarray:
        n = len(self.dataset)
        if not self.shuffle:
            return np.arange(n)
        return np.random.default_rng([self.seed, self.epoch]).permutation(n)

    def __iter__(self) -> Iterator[AtomsGraph]:
        idx = self.order()
        for start in range(0, len(idx), self.batch_size):
            chunk = [
                self.dataset.structures[i] for i in idx[start : start + self.batch_size]
            ]
            N = sum(s.n_node for s in chunk)
            E = sum(s.n_edge for s in chunk)
            n_node, n_edge = self.buckets.pick(N, E)
            yield collate(
                chunk, n_node, n_edge, self.buckets.n_graph, self.dataset.properties
            )


def atoms_to_graph(
    atoms: Atoms | Sequence[Atoms],
    cutoff: float,
    species: Sequence[str] | None = None,
    *,
    n_node: int | None = None,
    n_edge: int | None = None,
    n_graph: int | None = None,
    properties: Sequence = (),
) -> AtomsGraph:
    """One padded :class:`AtomsGraph` (numpy arrays) of one or several structures,
    with the values of the declared ``properties`` that they hold.

    Paddings default to the smallest valid ones (nodes to a multiple of 8, edges of 64).

    >>> from ase.build import bulk
    >>> g = atoms_to_graph(bulk("Cu", "fcc", a=3.6), cutoff=3.0)
    >>> int(g.n_node[0]), int(g.n_edge[0]), g.positions.shape
    (1, 12, (8, 3))
    """
    atoms_list = [atoms] if isinstance(atoms, Atoms) else list(atoms)
    ds = Dataset.from_atoms(atoms_list, cutoff, species, properties=properties)
    N = sum(s.n_node for s in ds.structures)
    E = sum(s.n_edge for s in ds.structures)
    return collate(
        ds.structures,
        n_node or round_up(N + 1, NODE_MULTIPLE),
        n_edge or round_up(E, EDGE_MULTIPLE),
        n_graph or len(atoms_list) + 1,
        ds.properties,
    )


def stack(graphs: Sequence[AtomsGraph]) -> AtomsGraph:
    """Graphs of one padded shape stacked on a new leading (device) axis."""
    import jax

    return jax.tree_util.tree_map(lambda *xs: np.stack(xs), *graphs)


class ShardedLoader(GraphLoader):
    """Global batches split across devices: each batch of ``batch_size`` structures (in
    :class:`GraphLoader`'s order, so the same for any device count) is cut into
    ``n_shards`` sub-batches of ``ceil(batch_size / n_shards)`` structures, all padded
    to one bucket shape (the smallest that fits the largest of them: one compile).

    Yields the sub-batches of ``local`` (the shards of this process's devices) stacked
    on a leading axis; only their structures are read (a store is read in part).
    ``buckets`` must be sized for sub-batches (``Buckets.for_dataset(d, sub_batch)``).
    """

    def __init__(
        self,
        dataset: Dataset,
        batch_size: int,
        n_shards: int,
        local: Sequence[int] | None = None,
        **kwargs,
    ):
        super().__init__(dataset, batch_size, **kwargs)
        self.n_shards = int(n_shards)
        self.sub_batch = math.ceil(self.batch_size / self.n_shards)
        self.local = list(range(self.n_shards) if local is None else local)
        self._n_node, self._n_edge = dataset.sizes()

    def __iter__(self) -> Iterator[AtomsGraph]:
        idx = self.order()
        b = self.sub_batch
        for start in range(0, len(idx), self.batch_size):
            chunk = idx[start : start + self.batch_size]
            pieces = [chunk[k * b : (k + 1) * b] for k in range(self.n_shards)]
            N = max(int(self._n_node[p].sum()) for p in pieces)
            E = max(int(self._n_edge[p].sum()) for p in pieces)
            n_node, n_edge = self.buckets.pick(N, E)
            yield stack(
                [
                    collate(
                        [self.dataset.structures[i] for i in pieces[k]],
                        n_node,
                        n_edge,
                        self.buckets.n_graph,
                        self.dataset.properties,
                    )
                    for k in self.local
                ]
            )


def prefetch(iterable, depth: int = 2) -> Iterator:
    """Iterate ``iterable`` in a background thread, ``depth`` items ahead (reading
    and padding the next batches while the device works on this one). An exception in
    the thread is raised here; leaving the loop early stops the thread."""
    import queue
    import threading

    q: queue.Queue = queue.Queue(maxsize=max(int(depth), 1))
    stop = threading.Event()
    done = object()

    def work():
        try:
            for item in iterable:
                while not stop.is_set():
                    try:
                        q.put((True, item), timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            q.put((True, done))
        except BaseException as err:  # handed over to the consumer
            q.put((False, err))

    thread = threading.Thread(target=work, name="matml-prefetch", daemon=True)
    thread.start()
    try:
        while True:
            ok, item = q.get()
            if not ok:
                raise item
            if item is done:
                return
            yield item
    finally:
        stop.set()
        while thread.is_alive():  # unblock a producer waiting on a full queue
            try:
                q.get_nowait()
            except queue.Empty:
                thread.join(0.05)
