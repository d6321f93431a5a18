"""A platform setting for training on a CPU: glibc's ``malloc`` keeps freed memory for reuse (:func:`reuse_freed_memory`)."""

from __future__ import annotations

import ctypes
import functools

__all__ = ["reuse_freed_memory"]

_M_TRIM_THRESHOLD, _M_TOP_PAD, _M_MMAP_THRESHOLD = -1, -2, -3  # glibc's mallopt parameters (malloc.h)


@functools.cache
def reuse_freed_memory() -> bool:
    """Let glibc's ``malloc`` keep freed memory for reuse instead of returning it to the OS; once per process.

    By default, glibc serves blocks above a threshold (128 KiB, adjusted on the fly) straight from
    the OS and trims the top of its heap when enough of it is free. A training step allocates
    and frees activations and gradients of hundreds of KiB to a few MiB, so every step then
    page-faults its memory in afresh: measured at 5-15% of a step on the CPU
    (``benchmarks/README.md``). This raises the mmap threshold to 32 MiB, the trim threshold to
    256 MiB and the top pad to 64 MiB (what ``MALLOC_MMAP_THRESHOLD_``, ``MALLOC_TRIM_THRESHOLD_``
    and ``MALLOC_TOP_PAD_`` set at start-up). It changes where memory comes from, never a number;
    the cost is that the process keeps up to 256 MiB of freed heap. :func:`train_step` calls it.
    Returns whether it applied (glibc only; elsewhere nothing changes).
    """
    try:
        libc = ctypes.CDLL("libc.so.6")
        settings = ((_M_MMAP_THRESHOLD, 32 << 20), (_M_TRIM_THRESHOLD, 256 << 20), (_M_TOP_PAD, 64 << 20))
        return all(libc.mallopt(key, value) == 1 for key, value in settings)
    except (OSError, AttributeError):  # not glibc
        return False
