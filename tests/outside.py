"""The test suite stands alone: nothing it runs reads a file beside the repository.

A clone of the project from its public home has nothing next to it, so a test that reads
``../something`` passes only on the machine where it was written. An audit hook (PEP 578) sees
every file this process opens; a test that opened one beside the repository fails (the
``no_reads_outside_the_repository`` fixture in conftest.py). Hidden folders (caches,
configuration) and, for a repository cloned straight into the temporary folder, pytest's and
tempfile's scratch folders are not "beside the repository" even where its parent holds them.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path
from typing import Any

REPO = str(Path(__file__).resolve().parent.parent)
PARENT = os.path.dirname(REPO)
TEMP = os.path.realpath(tempfile.gettempdir())

seen: list[str] = []


def beside_the_repository(path: str) -> bool:
    """Whether ``path`` lies in the repository's parent folder but outside the repository."""
    if os.sep == PARENT:  # a repository at the root has nothing beside it but the system
        return False
    full = os.path.abspath(path)
    if full == REPO or full.startswith(REPO + os.sep):
        return False
    if not full.startswith(PARENT + os.sep):
        return False
    first = full[len(PARENT) + 1 :].split(os.sep, 1)[0]
    if first.startswith("."):
        return False
    # A repository cloned straight into the temporary folder sits beside pytest's and
    # tempfile's own working folders; those are the tests' scratch space, not files beside it.
    return not (PARENT == TEMP and first.startswith(("pytest-of-", "tmp")))


def _watch(event: str, args: tuple[Any, ...]) -> None:
    if event != "open" or not args:
        return
    target = args[0]
    if isinstance(target, (str, bytes, os.PathLike)):
        path = os.fsdecode(target)
        if beside_the_repository(path):
            seen.append(path)


def install() -> None:
    sys.addaudithook(_watch)
