"""Moment invariants, as the course shows them: reconstruction and invariances.

Writes PNGs into ``--out`` (default ``out/descriptors``):

1. ``reconstruction.png``: a cluster of Gaussian atoms in the unit ball, a slice of its
   density, and the slice of its Zernike reconstruction at several orders N;
2. ``reconstruction_error.png``: relative L2 error of the reconstruction against N;
3. ``recovered_cluster.png``: a cluster recovered from its moments and from its
   invariants by optimisation (pair distances against the original's);
4. ``invariances.png``: the descriptor of one atom of a rattled Si crystal after
   translation, permutation, rotation and reflection (max difference to the original),
   next to its raw moments, which do change under rotation;
5. ``degenerate_pair.png``: the Pozdnyakov et al. pair: same power spectrum
   (degree 2), different bispectrum (degree 3).

    python examples/descriptors.py --out out/descriptors
"""

from __future__ import annotations

import argparse
from pathlib import Path

import jax
import jax.numpy as jnp
import matplotlib
import numpy as np

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

jax.config.update("jax_enable_x64", True)

from matml.descriptors import (  # noqa: E402
    MomentInvariants,
    ball_grid,
    cluster_moments,
    gaussian_density,
    independent_tables,
    invariants,
    n_per_l,
    recover_positions,
    synthesize_density,
)


def cluster(seed=2, n=5):
    rng = np.random.default_rng(seed)
    x = rng.uniform(-0.5, 0.5, (n, 3))
    x[:, 2] *= 0.15  # nearly planar, so that one slice shows every atom
    return x


def reconstruction(out: Path, orders=(3, 6, 9, 12), sigma=0.1):
    x = jnp.asarray(cluster())
    g = np.linspace(-1, 1, 121)
    X, Y = np.meshgrid(g, g, indexing="ij")
    plane = np.stack([X, Y, np.zeros_like(X)], -1).reshape(-1, 3)
    inside = (plane**2).sum(1) < 1
    plane_j = jnp.asarray(plane)
    rho = np.asarray(gaussian_density(plane_j, x, sigma)).reshape(X.shape)
    fig, axes = plt.subplots(1, len(orders) + 1, figsize=(3.2 * (len(orders) + 1), 3.4))
    vmax = rho.max()
    mask = ~inside.reshape(X.shape)
    axes[0].imshow(
        np.ma.masked_where(mask, rho).T,
        origin="lower",
        extent=(-1, 1, -1, 1),
        vmin=0,
        vmax=vmax,
    )
    axes[0].set_title("original density (z = 0)")
    for ax, order in zip(axes[1:], orders, strict=True):
        c = cluster_moments(x, None, order, "gaussian", sigma)
        rec = np.asarray(synthesize_density(c, plane_j, order)).reshape(X.shape)
        ax.imshow(
            np.ma.masked_where(mask, rec).T,
            origin="lower",
            extent=(-1, 1, -1, 1),
            vmin=0,
            vmax=vmax,
        )
        ax.set_title(f"Zernike, N = {order}")
    for ax in axes:
        ax.plot(*np.asarray(x)[:, :2].T, "r+", ms=8)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.tight_layout()
    fig.savefig(out / "reconstruction.png", dpi=110)
    plt.close(fig)

    pts, _ = ball_grid(36)
    pts = jnp.asarray(pts)
    ref = gaussian_density(pts, x, sigma)
    ns = list(range(2, max(orders) + 1, 2))
    errs = []
    for order in ns:
        c = cluster_moments(x, None, order, "gaussian", sigma)
        errs.append(
            float(
                jnp.linalg.norm(synthesize_density(c, pts, order) - ref)
                / jnp.linalg.norm(ref)
            )
        )
    fig, ax = plt.subplots(figsize=(4.5, 3.4))
    ax.plot(ns, errs, "o-")
    ax.set_xlabel("order N")
    ax.set_ylabel("relative L2 error in the ball")
    ax.set_title("reconstruction error falls with N")
    fig.tight_layout()
    fig.savefig(out / "reconstruction_error.png", dpi=110)
    plt.close(fig)
    return dict(zip(ns, errs, strict=True))


def _distances(x):
    d = np.linalg.norm(x[:, None] - x[None], axis=-1)
    return np.sort(d[np.triu_indices(len(x), 1)])


def recovery(out: Path, order=5):
    x = cluster(seed=7, n=4)
    x[:, 2] /= 0.15 * 2  # a 3D cluster
    c = cluster_moments(jnp.asarray(x), None, order)
    from_moments, loss_m = recover_positions(
        np.asarray(c), len(x), max_order=order, restarts=6
    )
    tables = independent_tables(n_per_l(order), 3)
    inv = invariants(np.asarray(c)[None], tables, xp=np)[0]
    from_inv, loss_i = recover_positions(
        inv, len(x), max_order=order, tables=tables, restarts=12
    )
    fig, ax = plt.subplots(figsize=(4.5, 4))
    ref = _distances(x)
    ax.plot(
        ref, _distances(from_moments), "o", label=f"from moments (loss {loss_m:.1e})"
    )
    ax.plot(
        ref,
        _distances(from_inv),
        "x",
        ms=9,
        label=f"from invariants (loss {loss_i:.1e})",
    )
    ax.plot([0, ref.max()], [0, ref.max()], "k:", lw=1)
    ax.set_xlabel("pair distance, original")
    ax.set_ylabel("pair distance, recovered")
    ax.set_title(f"cluster recovered (N = {order})")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out / "recovered_cluster.png", dpi=110)
    plt.close(fig)
    return {"loss_from_moments": loss_m, "loss_from_invariants": loss_i}


def invariances(out: Path):
    from ase.build import bulk
    from scipy.spatial.transform import Rotation

    si = bulk("Si", "diamond", a=5.43) * (2, 2, 2)
    si.rattle(0.1, seed=3)
    desc = MomentInvariants(cutoff=4.0, max_order=5, max_degree=3)
    ref = desc(si)
    rot = Rotation.random(random_state=1).as_matrix()
    variants = {}
    a = si.copy()
    a.positions += [1.1, -0.4, 2.3]
    a.wrap()
    variants["translation"] = (a, np.arange(len(si)))
    perm = np.random.default_rng(0).permutation(len(si))
    variants["permutation"] = (si[perm], perm)
    a = si.copy()
    a.positions = si.positions @ rot.T
    a.cell = si.cell[:] @ rot.T
    variants["rotation"] = (a, np.arange(len(si)))
    a = si.copy()
    a.positions = si.positions * [-1, 1, 1]
    a.cell = si.cell[:] * [-1, 1, 1]
    variants["reflection"] = (a, np.arange(len(si)))
    diffs = {
        k: float(np.abs(desc(v) - ref[p]).max() / np.abs(ref).max())
        for k, (v, p) in variants.items()
    }

    graph = desc.graph(si).to_jax()
    graph_r = desc.graph(variants["rotation"][0]).to_jax()

    def moments(g):
        from matml.data import edge_vectors

        return np.asarray(
            desc.moments_from_edges(
                edge_vectors(g),
                g.receivers,
                g.species[g.senders],
                g.edge_mask,
                g.positions.shape[0],
            )
        )[0, 0]

    m0, m1 = moments(graph), moments(graph_r)
    fig, axes = plt.subplots(1, 3, figsize=(14, 3.6))
    axes[0].plot(ref[0], lw=1, label="original")
    axes[0].plot(desc(variants["rotation"][0])[0], "--", lw=1, label="rotated")
    axes[0].set_yscale("symlog", linthresh=1e-3)
    axes[0].set_title(f"invariants of atom 0 ({desc.n_features})")
    axes[0].legend(fontsize=8)
    axes[1].bar(list(diffs), [max(v, 1e-18) for v in diffs.values()])
    axes[1].set_yscale("log")
    axes[1].set_ylim(1e-18, 1)
    for i, v in enumerate(diffs.values()):
        axes[1].text(i, max(v, 1e-18) * 3, f"{v:.0e}", ha="center", fontsize=8)
    axes[1].set_title("max |change| / max |feature|")
    axes[2].plot(m0, lw=1, label="original")
    axes[2].plot(m1, "--", lw=1, label="rotated")
    axes[2].set_title("raw Zernike moments of atom 0: not invariant")
    axes[2].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out / "invariances.png", dpi=110)
    plt.close(fig)
    return diffs


def degenerate_pair(out: Path, order=6):
    r = 0.6
    envs = {}
    for name, ks in (("X+", [0, 1, 2, 5]), ("X-", [0, 1, 3, 4])):
        ang = np.array(ks) * np.pi / 4
        ring = np.stack([np.cos(ang), np.sin(ang), np.zeros(4)], 1)
        envs[name] = r * np.vstack([ring, [[0.0, 0.0, 1.0]]])
    t3 = independent_tables(n_per_l(order), 3)
    n12 = t3.counts()[1] + t3.counts()[2]
    f = {
        k: invariants(
            np.asarray(cluster_moments(jnp.asarray(v), None, order))[None], t3, xp=np
        )[0]
        for k, v in envs.items()
    }
    d = np.abs(f["X+"] - f["X-"]) / np.abs(f["X+"]).max()
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    for k, v in envs.items():
        axes[0].plot(
            v[:, 0], v[:, 1], "o", ms=10 if k == "X+" else 6, label=k, alpha=0.7
        )
    axes[0].add_patch(plt.Circle((0, 0), r, fill=False, ls=":"))
    axes[0].set_aspect("equal")
    axes[0].set_title("4 neighbours on the equator (+ 1 on the pole)")
    axes[0].legend()
    axes[1].semilogy(
        np.arange(n12), np.maximum(d[:n12], 1e-18), ".", label="degree 1-2"
    )
    axes[1].semilogy(
        np.arange(n12, len(d)), np.maximum(d[n12:], 1e-18), ".", label="degree 3"
    )
    axes[1].set_title("|X+ - X-| per invariant")
    axes[1].legend()
    fig.tight_layout()
    fig.savefig(out / "degenerate_pair.png", dpi=110)
    plt.close(fig)
    return {
        "max_diff_degree_2": float(d[:n12].max()),
        "max_diff_degree_3": float(d[n12:].max()),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("out/descriptors"))
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    print("reconstruction error by N:", reconstruction(args.out))
    print("recovery:", recovery(args.out))
    print("invariances (relative max change):", invariances(args.out))
    print("degenerate pair:", degenerate_pair(args.out))
    print(f"figures in {args.out}")


if __name__ == "__main__":
    main()
