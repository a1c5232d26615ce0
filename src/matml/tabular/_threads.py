"""Keep OpenMP/BLAS to one thread inside the table commands.

Tree ensembles parallelise over trees with ``n_jobs`` instead. OpenMP loops inside
scikit-learn (histogram gradient boosting, k-means) slow down many times over when the
cores are shared with other work (measured: 57 s against 2.6 s for one boosting fit on
a busy 2-core machine), so the commands run them on one thread.
"""

from __future__ import annotations

import functools

__all__ = ["one_thread"]


def one_thread(func):
    """Decorator: run ``func`` with native thread pools limited to one thread."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        from threadpoolctl import threadpool_limits

        with threadpool_limits(limits=1):
            return func(*args, **kwargs)

    return wrapper
