"""A dense autoencoder (flax nnx + optax) as a scikit-learn transformer.

``transform`` gives the bottleneck code; ``inverse_transform`` decodes it. Inputs
should be scaled (the reduce command standardises them first).
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted, validate_data

__all__ = ["Autoencoder"]


def _build(n_in: int, hidden: tuple[int, ...], bottleneck: int, seed: int):
    from flax import nnx

    from matml.nn.mlp import MLP

    rngs = nnx.Rngs(seed)

    class AE(nnx.Module):
        def __init__(self):
            self.encoder = MLP(
                (n_in, *hidden, bottleneck), activation="tanh", rngs=rngs
            )
            self.decoder = MLP(
                (bottleneck, *hidden[::-1], n_in), activation="tanh", rngs=rngs
            )

        def __call__(self, x):
            return self.decoder(self.encoder(x))

    return AE()


class Autoencoder(TransformerMixin, BaseEstimator):
    """Dense autoencoder: ``n -> hidden -> bottleneck -> hidden -> n``, tanh, MSE loss.

    Args:
        bottleneck: size of the code.
        hidden: sizes of the hidden layers of the encoder (the decoder mirrors them).
        epochs: passes over the data.
        batch_size: rows per Adam step.
        learning_rate: Adam's step size.
        seed: initialisation and shuffling seed.

    Attributes:
        loss_curve_: training MSE per epoch.

    >>> X = np.random.default_rng(0).normal(size=(64, 6))
    >>> Autoencoder(bottleneck=2, hidden=(8,), epochs=5).fit_transform(X).shape
    (64, 2)
    """

    def __init__(
        self,
        bottleneck: int = 2,
        hidden: tuple[int, ...] = (64,),
        epochs: int = 200,
        batch_size: int = 128,
        learning_rate: float = 3e-3,
        seed: int = 0,
    ):
        self.bottleneck = bottleneck
        self.hidden = hidden
        self.epochs = epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.seed = seed

    def fit(self, X, y=None):
        """Train on ``X`` (rows are samples) with Adam on the reconstruction MSE."""
        import jax
        import jax.numpy as jnp
        import optax
        from flax import nnx

        X = validate_data(self, X, dtype=np.float32)
        model = _build(
            X.shape[1], tuple(self.hidden), int(self.bottleneck), int(self.seed)
        )
        graphdef, params = nnx.split(model, nnx.Param)
        tx = optax.adam(self.learning_rate)
        opt_state = tx.init(params)

        def loss_fn(params, xb, wb):
            out = nnx.merge(graphdef, params)(xb)
            err = jnp.mean((out - xb) ** 2, axis=1)
            return jnp.sum(err * wb) / jnp.sum(wb)

        @jax.jit
        def epoch(params, opt_state, xs, ws):
            def body(carry, batch):
                params, opt_state = carry
                loss, grads = jax.value_and_grad(loss_fn)(params, *batch)
                updates, opt_state = tx.update(grads, opt_state, params)
                return (
                    optax.apply_updates(params, updates),
                    opt_state,
                ), loss * jnp.sum(batch[1])

            (params, opt_state), losses = jax.lax.scan(
                body, (params, opt_state), (xs, ws)
            )
            return params, opt_state, jnp.sum(losses)

        rng = np.random.default_rng(self.seed)
        n = X.shape[0]
        bs = min(self.batch_size, n)
        n_batches = int(np.ceil(n / bs))
        # the last batch is padded (weight 0), so every epoch has one shape: one compile
        weights = np.zeros(n_batches * bs, np.float32)
        weights[:n] = 1.0
        ws = jnp.asarray(weights.reshape(n_batches, bs))
        curve = []
        for _ in range(self.epochs):
            order = np.concatenate(
                [rng.permutation(n), np.zeros(n_batches * bs - n, int)]
            )
            xs = jnp.asarray(X[order].reshape(n_batches, bs, -1))
            params, opt_state, total = epoch(params, opt_state, xs, ws)
            curve.append(float(total) / n)
        nnx.update(model, params)
        self.model_ = model
        self.loss_curve_ = curve
        return self

    def transform(self, X):
        """The bottleneck code of each row."""
        import jax.numpy as jnp

        check_is_fitted(self, "model_")
        X = validate_data(self, X, reset=False, dtype=np.float32)
        return np.asarray(self.model_.encoder(jnp.asarray(X)), dtype=np.float64)

    def inverse_transform(self, Z):
        """Decode codes back to the input space."""
        import jax.numpy as jnp

        check_is_fitted(self, "model_")
        return np.asarray(
            self.model_.decoder(jnp.asarray(np.asarray(Z, np.float32))), np.float64
        )

    def reconstruction_error(self, X) -> float:
        """Mean squared reconstruction error on ``X``."""
        X = np.asarray(X, np.float64)
        return float(np.mean((self.inverse_transform(self.transform(X)) - X) ** 2))
