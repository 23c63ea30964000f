"""A rule's status and the row that stores it, field by field.

The rules (`db.duties.rules.SubmissionStatus`, `db.ledger.rules.ItemStatus`) are frozen dataclasses
whose fields a table row (`Submission`, `RectificationItem`) stores under the same names, so one
pair of copies serves every rule instead of a hand-written conversion each.
"""

from __future__ import annotations

from dataclasses import fields
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

Status = TypeVar("Status", bound="DataclassInstance")


def read_status(kind: type[Status], row: object) -> Status:
    """The status a rule reads, off the row (`Submission`, `RectificationItem`) that stores its
    fields under the same names."""
    return kind(**{f.name: getattr(row, f.name) for f in fields(kind)})


def write_status(row: object, status: DataclassInstance) -> None:
    """What a rule decided, back onto its row; the due time is not the rules' to move."""
    for f in fields(status):
        if f.name != "due_at":
            setattr(row, f.name, getattr(status, f.name))
