"""Docker's list output: ``table`` templates aligned like the docker CLI's
tabwriter, ``json`` (one object per row), and raw templates.

This mirrors docker/cli's cli/command/formatter.Context: the format loses its
``table`` prefix and surrounding spaces, the two-character escapes ``\\t`` and
``\\n`` become a tab and a newline, each row is the template's output plus a
newline, and for tables a header row (the same template executed over the
column names) goes first and everything passes through
``tabwriter.NewWriter(out, 10, 1, 3, ' ', 0)``.
"""

from __future__ import annotations

from dockyard.cli.gotemplate import HEADER_FUNCS, TemplateError, parse
from dockyard.gojson import go_json

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping
    from typing import Any

TABLE_PREFIX = "table"
JSON_FORMAT = "json"


def is_table(format: str) -> bool:
    return format.startswith(TABLE_PREFIX)


def render_table(format: str, rows: Iterable[Any], headers: Mapping[str, str]) -> str:
    """Render ``rows`` (dicts or objects) with a docker ``--format`` value.

    ``headers`` maps field names to column titles (``{"ID": "IMAGE ID"}``).
    Returns the whole output, each line ending in a newline. A template that
    does not parse or fails on a row raises TemplateError ("template parsing
    error: ...", as docker prints it).
    """
    if format == JSON_FORMAT:
        return "".join(row_json(row) + "\n" for row in rows)
    table = is_table(format)
    text = format[len(TABLE_PREFIX) :] if table else format
    text = text.strip(" ").replace("\\t", "\t").replace("\\n", "\n")
    template = parse(text)
    out: list[str] = []
    for row in rows:
        try:
            template.execute_into(out, row)
        except TemplateError as error:
            raise TemplateError(
                f"template parsing error: {error.go_message}", error.go_message
            ) from None
        out.append("\n")
    if not table:
        return "".join(out)
    header: list[str] = []
    try:
        template.execute_into(header, dict(headers), HEADER_FUNCS)
    except TemplateError:
        pass  # docker ignores errors in the header and keeps what was written
    header.append("\n")
    return tabwrite("".join(header) + "".join(out))


def row_fields(row: Any) -> dict[str, Any]:
    """The fields of a row as a dict: a dict itself, or an object's public
    attributes, properties and argument-less methods (docker marshals every
    method of its formatting context that takes no argument)."""
    if isinstance(row, dict):
        return row
    fields: dict[str, Any] = {}
    for name in dir(row):
        if name.startswith("_"):
            continue
        try:
            value = getattr(row, name)
        except AttributeError:
            continue
        if isinstance(value, type):
            continue
        if callable(value):
            code = getattr(getattr(value, "__func__", None), "__code__", None)
            defaults = getattr(getattr(value, "__func__", None), "__defaults__", None) or ()
            if code is None or code.co_argcount - 1 - len(defaults) != 0:
                continue
            value = value()
        fields[name] = value
    return fields


def row_json(row: Any) -> str:
    """One line of ``--format json``: the row's fields in sorted key order,
    with HTML characters escaped as Go's json.Marshal does (\\u003cnone\\u003e)."""
    fields = row_fields(row)
    ordered = {key: fields[key] for key in sorted(fields)}
    return go_json(ordered)


# --- tabwriter ---------------------------------------------------------------


def _cell_width(text: str) -> int:
    """Display width as go-runewidth counts it: wide East Asian characters
    take two columns, combining marks none."""
    if text.isascii():
        return len(text)
    import unicodedata

    width = 0
    for ch in text:
        if unicodedata.combining(ch) or unicodedata.category(ch) in ("Mn", "Me", "Cf"):
            continue
        width += 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1
    return width


def tabwrite(
    text: str, minwidth: int = 10, tabwidth: int = 1, padding: int = 3, padchar: str = " "
) -> str:
    """Go's text/tabwriter (docker's copy) with flags 0 and a non-tab padchar.

    Cells are terminated by tabs; the text after a line's last tab is not part
    of a column. A column block is a run of consecutive lines that all have a
    cell in that column; its width is max(minwidth, widest cell + padding).
    A form feed ends every block, like a flush. ``tabwidth`` only matters for
    tab padding, which is not supported.
    """
    del tabwidth
    segments = text.replace("\v", "\t").split("\f")
    return "\n".join(_format_segment(seg, minwidth, padding, padchar) for seg in segments)


def _format_segment(text: str, minwidth: int, padding: int, padchar: str) -> str:
    lines = [line.split("\t") for line in text.split("\n")]
    widths = [[_cell_width(cell) for cell in line] for line in lines]
    out: list[str] = []
    column_widths: list[int] = []

    def write_lines(line0: int, line1: int) -> None:
        for i in range(line0, line1):
            parts: list[str] = []
            line = lines[i]
            for j, cell in enumerate(line):
                parts.append(cell)
                if j < len(column_widths):
                    parts.append(padchar * (column_widths[j] - widths[i][j]))
            out.append("".join(parts))

    def format_block(line0: int, line1: int) -> None:
        column = len(column_widths)
        this = line0
        while this < line1:
            if column >= len(lines[this]) - 1:
                this += 1
                continue
            write_lines(line0, this)
            line0 = this
            width = minwidth
            while this < line1 and column < len(lines[this]) - 1:
                width = max(width, widths[this][column] + padding)
                this += 1
            column_widths.append(width)
            format_block(line0, this)
            column_widths.pop()
            line0 = this
        write_lines(line0, line1)

    format_block(0, len(lines))
    return "\n".join(out)
