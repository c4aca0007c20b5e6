"""The repository needs nothing beside it: the set-up, CI and the tests read only its own files."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from tests import outside

REPO = Path(outside.REPO)


def test_what_stood_beside_the_repository_counts_as_outside(monkeypatch):
    monkeypatch.setattr(outside, "NEIGHBOURS", frozenset({"shared"}))

    assert outside.beside_the_repository(os.path.join(outside.PARENT, "shared", "contract.graphql"))
    assert outside.beside_the_repository(os.path.join(REPO, "..", "shared", "x.json"))


def test_the_repository_and_what_the_run_creates_beside_it_do_not(monkeypatch):
    monkeypatch.setattr(outside, "NEIGHBOURS", frozenset({"shared"}))

    assert not outside.beside_the_repository(str(REPO / "api" / "contract.graphql"))
    assert not outside.beside_the_repository(os.path.join(outside.PARENT, "regentrace-scratch"))
    assert not outside.beside_the_repository("/usr/lib/python3/os.py")


def test_hidden_folders_and_pytest_folders_are_never_neighbours():
    assert not any(n.startswith((".", "pytest-of-")) for n in outside.NEIGHBOURS)
    assert os.path.basename(outside.REPO) not in outside.NEIGHBOURS


def test_opening_a_file_beside_the_repository_is_seen(monkeypatch):
    name = "regentrace-no-such-file-beside-the-repository"
    monkeypatch.setattr(outside, "NEIGHBOURS", outside.NEIGHBOURS | {name})
    path = os.path.join(outside.PARENT, name)
    before = len(outside.seen)
    with pytest.raises(FileNotFoundError):
        open(path)  # noqa: SIM115 - the audit hook sees the attempt
    assert outside.seen[before:] == [path]
    del outside.seen[before:]  # seen on purpose: do not fail this test for it


@pytest.mark.parametrize("name", ["Makefile", ".ci/run", "pyproject.toml"])
def test_set_up_and_ci_name_no_path_outside_the_repository(name: str):
    text = (REPO / name).read_text()

    assert not re.search(r"(^|[\s=\"'(/])\.\./", text), f"{name} reaches outside the repository"
    assert not re.search(r"\bshared/", text), f"{name} names a folder outside the repository"
