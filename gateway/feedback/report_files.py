"""A feedback report as CSV (UTF-8 with BOM, so Excel opens Vietnamese correctly) and as
XLSX (three sheets and a chart of received vs processed per area).

Text that a spreadsheet would run as a formula (it begins with = + - @, a tab or a
carriage return: an area's name, a bulletin's title) gets a leading apostrophe, and
XLSX cells are written as text, never formulas (OWASP "CSV injection")."""

from __future__ import annotations

import csv
import io
from typing import Any

from gateway.feedback.reports import COLUMNS, Report, table

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutral(value: Any) -> Any:
    """``value`` as a cell: empty for None, text that could start a formula escaped."""
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def to_csv(report: Report) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([f"Báo cáo phản ánh {report.start:%d/%m/%Y} - {report.end:%d/%m/%Y}"])
    writer.writerow(COLUMNS)
    for row in table(report):
        writer.writerow([neutral(value) for value in row])
    writer.writerow([])
    writer.writerow(["Lĩnh vực", "Tiếp nhận"])
    for _key, name, count in report.categories:
        writer.writerow([neutral(name), count])
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def to_xlsx(report: Report) -> bytes:
    import xlsxwriter

    buffer = io.BytesIO()
    text_only = {"strings_to_formulas": False, "strings_to_urls": False, "strings_to_numbers": False}
    book = xlsxwriter.Workbook(buffer, {"in_memory": True, **text_only})
    bold = book.add_format({"bold": True})
    sheet = book.add_worksheet("Theo địa bàn")
    sheet.write(0, 0, f"Báo cáo phản ánh {report.start:%d/%m/%Y} - {report.end:%d/%m/%Y}", bold)
    sheet.write_row(2, 0, COLUMNS, bold)
    rows = table(report)
    for i, row in enumerate(rows, start=3):
        sheet.write_row(i, 0, [neutral(value) for value in row])
    sheet.set_column(0, 0, 12)
    sheet.set_column(1, 1, 24)
    sheet.set_column(2, len(COLUMNS) - 1, 14)
    if len(rows) > 1:
        chart = book.add_chart({"type": "column"})
        last = 3 + len(rows) - 2  # areas only, not the total
        for column, name in ((2, "Tiếp nhận"), (3, "Đã xử lý")):
            chart.add_series(
                {
                    "name": name,
                    "categories": ["Theo địa bàn", 3, 1, last, 1],
                    "values": ["Theo địa bàn", 3, column, last, column],
                }
            )
        chart.set_title({"name": "Tiếp nhận và đã xử lý theo địa bàn"})
        sheet.insert_chart(len(rows) + 5, 1, chart)
    categories = book.add_worksheet("Lĩnh vực")
    categories.write_row(0, 0, ("Lĩnh vực", "Tiếp nhận"), bold)
    for i, (_key, name, count) in enumerate(report.categories, start=1):
        categories.write_row(i, 0, (neutral(name), count))
    days = book.add_worksheet("Theo ngày")
    days.write_row(0, 0, ("Ngày", "Tiếp nhận", "Đã xử lý"), bold)
    for i, (day, received, processed) in enumerate(report.days, start=1):
        days.write_row(i, 0, (day.isoformat(), received, processed))
    book.close()
    return buffer.getvalue()
