"""The test suite stands alone: nothing it runs reads a file beside the repository.

A clone of the project from its public home has nothing next to it, so a test that reads
``../something`` passes only on the machine where it was written. An audit hook (PEP 578) sees
every file this process opens; a test that opened one beside the repository fails (the
``no_reads_outside_the_repository`` fixture in conftest.py). "Beside" means what stood in the
repository's parent folder when the run began, so the run's own scratch folders never count, even
for a repository cloned straight into the temporary folder.
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


def _neighbours() -> frozenset[str]:
    """What stood beside the repository when the run began: what a test must not read. Whatever
    the run creates there later (scratch folders, when the repository sits in the temporary
    folder) is its own; hidden folders (caches, configuration) and pytest's own folders are not
    the project's neighbours."""
    if os.sep == PARENT:  # a repository at the root has nothing beside it but the system
        return frozenset()
    try:
        names = os.listdir(PARENT)
    except OSError:
        return frozenset()
    mine = os.path.basename(REPO)
    return frozenset(n for n in names if n != mine and not n.startswith((".", "pytest-of-")))


NEIGHBOURS = _neighbours()
seen: list[str] = []


def beside_the_repository(path: str) -> bool:
    """Whether ``path`` lies in something that stood beside the repository when the run began."""
    full = os.path.abspath(path)
    if not full.startswith(PARENT + os.sep) or full.startswith(REPO + os.sep) or full == REPO:
        return False
    return full[len(PARENT) + 1 :].split(os.sep, 1)[0] in NEIGHBOURS


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
