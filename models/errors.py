"""Errors that point a planner at the exact place in their scenario that is wrong.

Every problem with user input is raised as a ScenarioError carrying the file,
the row and the column, so the CLI can print one line a person can act on.
Rows are numbered as a person finds them: in a CSV as a spreadsheet shows it
(the header is row 1, the first data row is row 2); in Parquet and SQL results,
which have no header line, the first data row is row 1.
"""

from __future__ import annotations


class ScenarioError(Exception):
    """Invalid scenario input, located as precisely as we know."""

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        row: int | None = None,
        column: str | None = None,
    ) -> None:
        self.message = message
        self.file = file
        self.row = row
        self.column = column
        super().__init__(str(self))

    def __str__(self) -> str:
        where = self.file or "<scenario>"
        if self.row is not None:
            where += f":{self.row}"
        if self.column is not None:
            where += f": column '{self.column}'"
        return f"{where}: {self.message}"


class InfeasibleError(Exception):
    """The rules make a mandatory contact (or a hard global rule) impossible."""
