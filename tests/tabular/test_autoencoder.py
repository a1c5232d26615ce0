"""The flax autoencoder: learns a low-dimensional structure, reproducibly."""

from __future__ import annotations

import numpy as np

from matml.tabular.autoencoder import Autoencoder


def test_autoencoder_learns_a_plane():
    rng = np.random.default_rng(0)
    codes = rng.normal(size=(256, 2))
    X = codes @ rng.normal(size=(2, 6)) + 0.01 * rng.normal(size=(256, 6))
    X = (X - X.mean(0)) / X.std(0)
    ae = Autoencoder(bottleneck=2, hidden=(16,), epochs=60, batch_size=64, seed=1)
    Z = ae.fit_transform(X)
    assert Z.shape == (256, 2)
    assert ae.loss_curve_[-1] < 0.1 * ae.loss_curve_[0]
    assert ae.reconstruction_error(X) < 0.05  # the data are a plane: 2 numbers suffice
    again = Autoencoder(
        bottleneck=2, hidden=(16,), epochs=60, batch_size=64, seed=1
    ).fit(X)
    np.testing.assert_allclose(again.transform(X), Z, rtol=1e-5, atol=1e-6)
