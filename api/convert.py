"""A GraphQL type built from a row of the read side by matching names: each field of the type
takes the row's attribute of the same name, and only a field whose name or value differs is
given by hand."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

T = TypeVar("T", bound="DataclassInstance")


def from_view(cls: type[T], view: object, **given: Any) -> T:
    """``cls`` (a strawberry type) with the fields in ``given`` as given and every other field
    copied from ``view``'s attribute of that name; a field the view lacks is an error
    (AttributeError), never a silent default. Values are taken as they are: an ``ID`` field
    takes the view's ``str`` (``strawberry.ID`` is that ``str`` at run time)."""
    unknown = given.keys() - {f.name for f in dataclasses.fields(cls)}
    if unknown:
        raise TypeError(f"{cls.__name__} has no field {', '.join(sorted(unknown))}")
    copied = {
        f.name: getattr(view, f.name)
        for f in dataclasses.fields(cls)
        if f.init and f.name not in given
    }
    return cls(**copied, **given)
