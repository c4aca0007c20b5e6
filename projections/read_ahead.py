"""Reading the next batch while the current one is worked on.

Bulk readers (verification, rebuild, replay) alternate between waiting on the database and
working in Python. On PostgreSQL a read is mostly a wait on the server, which the driver does
without holding the GIL, so reading batch n + 1 in a thread while batch n is checked or projected
overlaps the two; one read is ahead at a time, so memory stays at two batches. A SQLite read is
work in this process, mostly under the GIL: a thread only adds hand-offs (measured slower), so
SQLite reads run in turn.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from itertools import islice
from typing import TypeVar

from projections.sql import Dialect

T = TypeVar("T")


def read_ahead(reads: Iterable[Callable[[], T]], dialect: Dialect) -> Iterator[T]:
    """The results of ``reads``, in order; on PostgreSQL each read starts before the previous
    result is used."""
    if dialect is not Dialect.POSTGRES:
        yield from (read() for read in reads)
        return
    pending_reads = iter(reads)
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="read-ahead") as pool:
        ahead = [pool.submit(read) for read in islice(pending_reads, 1)]
        while ahead:
            result = ahead.pop().result()
            ahead += [pool.submit(read) for read in islice(pending_reads, 1)]
            yield result
