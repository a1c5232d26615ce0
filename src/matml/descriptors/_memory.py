"""Let glibc reuse freed large blocks instead of returning them to the OS.

By default glibc serves allocations above a dynamic threshold (at most 32 MB) with fresh
``mmap`` pages and unmaps them on free, so every call that returns a big feature array
(6,676 float32 features for 1,536 atoms is 41 MB) page-faults its way through new
memory: on the 2-core benchmark machine that is 5-15 % of the descriptor's time.
Raising the mmap threshold to 256 MB and the trim threshold to 512 MB makes such blocks
come from, and go back to, the heap, where the next call finds them. The cost is that up
to 512 MB of freed memory may stay mapped to the process.

An explicit opt-in for a process that does little else than compute descriptors (as
``benchmarks/descriptors.py`` does): call :func:`matml.descriptors.reuse_freed_memory`
once; building a :class:`MomentInvariants` does not change the allocator. Linux with
glibc only; ``MATML_MALLOC_TUNING=0`` makes the call a no-op.
"""

from __future__ import annotations

import ctypes
import os
import sys
from functools import cache

__all__ = ["reuse_freed_memory"]

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 256 * 2**20
TRIM_THRESHOLD = 512 * 2**20


@cache
def reuse_freed_memory() -> bool:
    """Raise glibc's mmap and trim thresholds (once); True if they were set."""
    if os.environ.get("MATML_MALLOC_TUNING", "1") == "0" or sys.platform != "linux":
        return False
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.gnu_get_libc_version  # noqa: B018 - glibc only (not musl)
    except (OSError, AttributeError):
        return False
    ok = libc.mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)
    ok &= libc.mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD)
    return bool(ok)
