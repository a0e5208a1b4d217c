"""One way to write a CSV export, safe to open in a spreadsheet.

Spreadsheets run a cell that starts with =, +, -, @, a tab or a carriage
return as a formula: a customer named ``=HYPERLINK(...)`` would leak the
sheet to whoever wrote it. Every export writes through ``csv_export``, which
neutralises such text with a leading apostrophe; numbers stay numbers.
"""

import csv
from collections.abc import Iterable
from decimal import Decimal

from django.http import HttpResponse

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value) -> str | int | float | Decimal:
    """Return ``value`` as a cell no spreadsheet will run."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int | float | Decimal):
        return value
    text = str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


class SafeWriter:
    """A csv writer whose every cell goes through ``safe_cell``."""

    def __init__(self, stream):
        self._writer = csv.writer(stream)

    def writerow(self, row: Iterable) -> None:
        self._writer.writerow([safe_cell(value) for value in row])

    def writerows(self, rows: Iterable[Iterable]) -> None:
        for row in rows:
            self.writerow(row)


def csv_export(filename: str) -> tuple[HttpResponse, SafeWriter]:
    """Return a CSV download named ``filename`` and the writer that fills it."""
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response, SafeWriter(response)
