"""Read one CSV file into typed columns, setting malformed rows aside.

pyarrow parses the file on all cores, each column straight to the type its first block shows
(int64, float32, else text; see ``_parse`` for why, and for a later block that disagrees).
A text column is then typed in bulk: its cells are classified (vectorised regexes) and the
column is numeric when its non-numeric cells are few. The rule: a column is numeric when it has
more numeric cells than non-numeric ones, and its non-numeric cells number at most
``max(1, tolerance * non-empty cells)`` where ``tolerance = max(NUMERIC_TOLERANCE,
max_bad_row_fraction)``. Its non-numeric cells are then malformed ("12k" among follower counts,
"tall" among flipper lengths) rather than evidence that the column is text; a single odd cell
always counts as malformed, so one typo cannot silently turn a numeric feature into text.
Otherwise the column is text. ``column_types`` overrides the inference.

Missing data: only an unquoted empty cell is missing. ``""`` is an empty string, and "NA",
"null" and friends are ordinary text ("NA" is Namibia's country code); in a numeric column
they are malformed. Numbers may have surrounding spaces and a leading "+"; "nan" and "inf" are
floats.

Rows with the wrong number of fields are set aside by pyarrow's invalid-row handler. Line
numbers for malformed rows come from a vectorised scan of the file (quote-aware, so quoted
newlines and blank lines count right); it runs only when a file has malformed rows.
"""

from __future__ import annotations

import csv
import io
import re
from collections import Counter
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from components.example_gen.bad_rows import BadRow
from components.example_gen.features import BYTES, FLOAT, INT
from pipelines.sdk import DataError

NUMERIC_TOLERANCE = 0.1
BLOCK_SIZE = 1 << 20  # pyarrow's default unit of parallel parsing; 4 and 16 MiB were no faster
_INT = r"^-?[0-9]+$"  # after trimming and dropping a leading "+"
_WHOLE = r"^\s*[+-]?[0-9]+\s*$"
_NUMBER = (r"^\s*[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?\s*$"
           r"|^\s*[+-]?(?:inf|infinity|nan)\s*$")
_HEADER_BYTES = 1 << 20
_PARSED_TYPES = (pa.int64(), pa.float64(), pa.string(), pa.null())
_TYPED = (pa.int64(), pa.float32(), pa.string())  # the types a column is parsed to directly
_RETYPES = 4  # typed parses tried before pyarrow's whole-file inference
_CONVERSION = re.compile(r"In CSV column #(\d+): .*CSV conversion error")


@dataclass
class CsvFile:
    table: pa.Table  # normalised columns, malformed rows removed
    bad: list[BadRow]
    rows: int  # data rows in the file, good and malformed


def read_csv(
    path: Path, *, delimiter: str, column_types: Mapping[str, str], max_bad_row_fraction: float,
    encoding: str = "utf-8", max_row_bytes: int | None = None,
) -> CsvFile:
    header = read_header(path, delimiter, encoding)
    table, invalid = _parse(path, delimiter, header, set(column_types), encoding,
                            max(max_row_bytes or 0, BLOCK_SIZE))
    tolerance = max(NUMERIC_TOLERANCE, max_bad_row_fraction)
    columns: list[pa.ChunkedArray] = []
    malformed: dict[str, np.ndarray] = {}  # column -> row indices of its non-numeric cells
    for name in header:
        typed, bad = type_column(table.column(name), column_types.get(name), tolerance)
        columns.append(typed)
        if len(bad):
            malformed[name] = bad
    typed_table = pa.Table.from_arrays(columns, names=header)
    rows = table.num_rows + len(invalid)
    if not invalid and not malformed:
        return CsvFile(typed_table, [], rows)

    bad_rows, drop = _locate(path, delimiter, header, table, invalid, malformed, column_types)
    keep = np.ones(table.num_rows, dtype=bool)
    keep[drop] = False
    return CsvFile(typed_table.filter(pa.array(keep)), bad_rows, rows)


def _parse(
    path: Path, delimiter: str, header: list[str], as_text: set[str], encoding: str,
    block_size: int,
) -> tuple[pa.Table, list[str]]:
    """Parse each column straight to its final type (int64, float32 or text), as the first
    block shows it, reading ``as_text`` columns as text.

    Typing every column up front is what lets pyarrow free each parse block once converted:
    with any column left to its inference it keeps every block to re-convert later (a 2.4 GB
    file of 10M numeric rows peaked at 6.2 GB that way, 2.3 GB typed). Floats are parsed to float32
    directly, rounding once instead of through float64 (the two agreed on every one of 12M
    generated values). A column empty in the first block is read as text and typed afterwards
    like any text column. A later block that disagrees (a "1.5" among ints, a "12k" among
    floats) makes its column text and the file is parsed again; after ``_RETYPES`` of those,
    pyarrow's own whole-file inference takes over.
    """
    first = _first_block_types(path, delimiter, header, encoding, block_size)
    unsure = {name for name, kind in first.items() if pa.types.is_null(kind)}
    types = {name: pa.string() if name in as_text or kind not in _TYPED else kind
             for name, kind in first.items()}
    for _ in range(_RETYPES):
        try:
            table, invalid = _read(path, delimiter, header, encoding, block_size, types)
        except _Disagrees as exc:
            types[header[exc.column]] = pa.string()
            continue
        return _empty_as_null(table, unsure), invalid
    return _inferred(path, delimiter, header, as_text, encoding, block_size)


def _first_block_types(
    path: Path, delimiter: str, header: list[str], encoding: str, block_size: int
) -> dict[str, pa.DataType]:
    """Each column's type as pyarrow infers it from the first block, floats as float32."""
    with _errors(path, delimiter, header, block_size):
        reader = pacsv.open_csv(str(path), *_options(delimiter, encoding, block_size, {}, []))
        schema = reader.schema
        reader.close()
    return {field.name: pa.float32() if field.type == pa.float64() else field.type
            for field in schema}


def _empty_as_null(table: pa.Table, names: set[str]) -> pa.Table:
    """Columns read as text only for want of a first-block type stay null-typed when empty
    throughout, as pyarrow's inference leaves them."""
    for name in names:
        column = table.column(name)
        if column.null_count == len(column) and not pa.types.is_null(column.type):
            index = table.schema.get_field_index(name)
            table = table.set_column(index, name, pa.nulls(len(column)))
    return table


def _inferred(
    path: Path, delimiter: str, header: list[str], as_text: set[str], encoding: str,
    block_size: int,
) -> tuple[pa.Table, list[str]]:
    """pyarrow's whole-file inference, which re-converts a column whose later block disagrees
    with the first (int, then float, then text). A column inferred as a type a tf.Example
    cannot hold (a date, a time) is re-read as text."""
    as_text = set(as_text)
    while True:
        types = {name: pa.string() for name in as_text if name in header}
        table, invalid = _read(path, delimiter, header, encoding, block_size, types)
        odd = {name for name, column in zip(header, table.columns, strict=True)
               if column.type not in _PARSED_TYPES}
        if not odd:
            return table, invalid
        as_text |= odd


class _Disagrees(Exception):
    """A cell that the type chosen for its column cannot hold."""

    def __init__(self, column: int) -> None:
        super().__init__(column)
        self.column = column


def _read(
    path: Path, delimiter: str, header: list[str], encoding: str, block_size: int,
    types: dict[str, pa.DataType],
) -> tuple[pa.Table, list[str]]:
    """The file parsed with ``types`` fixed (others inferred), and the text of the rows with
    the wrong number of fields, which pyarrow's invalid-row handler sets aside."""
    invalid: list[str] = []
    with _errors(path, delimiter, header, block_size):
        try:
            table = pacsv.read_csv(str(path),
                                   *_options(delimiter, encoding, block_size, types, invalid))
        except pa.ArrowInvalid as exc:
            disagrees = _CONVERSION.search(str(exc))
            if disagrees and not _not_text(exc):  # bad bytes are not a type question
                raise _Disagrees(int(disagrees.group(1))) from exc
            raise
    return table, invalid


def _options(
    delimiter: str, encoding: str, block_size: int, types: dict[str, pa.DataType],
    invalid: list[str],
) -> tuple[pacsv.ReadOptions, pacsv.ParseOptions, pacsv.ConvertOptions]:
    def on_invalid(row: pacsv.InvalidRow) -> str:
        invalid.append(row.text)
        return "skip"

    return (
        pacsv.ReadOptions(use_threads=True, block_size=block_size, encoding=encoding),
        pacsv.ParseOptions(delimiter=delimiter, invalid_row_handler=on_invalid),
        pacsv.ConvertOptions(
            column_types=types,
            strings_can_be_null=True,
            quoted_strings_can_be_null=False,
            null_values=[""],
            true_values=[],  # "true" is text, as in TFX; no bool features
            false_values=[],
            check_utf8=True,  # else a Latin-1 "é" becomes a different feature value
        ),
    )


@contextmanager
def _errors(path: Path, delimiter: str, header: list[str], block_size: int) -> Iterator[None]:
    """pyarrow's read errors as DataErrors that say what to do."""
    try:
        yield
    except pa.ArrowInvalid as exc:
        if _not_text(exc):
            raise DataError(_not_utf8(path, delimiter, header)) from exc
        if "straddle" in str(exc):
            raise DataError(_row_too_long(path, block_size)) from exc
        raise DataError(f"ExampleGen: {path} cannot be read as CSV: {exc}. Fix the file.") \
            from exc
    except OSError as exc:
        raise DataError(_unreadable(path, exc)) from exc


def _not_text(exc: pa.ArrowInvalid) -> bool:
    """pyarrow found bytes that are not UTF-8."""
    return "UTF8" in str(exc) or "UTF-8" in str(exc)


def read_header(path: Path, delimiter: str, encoding: str = "utf-8") -> list[str]:
    """The column names from the first line, checked for blanks and duplicates."""
    try:
        with pa.input_stream(str(path), compression="detect") as stream:
            raw = stream.read(_HEADER_BYTES)
    except OSError as exc:
        raise DataError(_unreadable(path, exc)) from exc
    first = raw.split(b"\n", 1)[0]
    codec = "utf-8-sig" if encoding.lower().replace("_", "-") in ("utf-8", "utf8") else encoding
    try:
        first.decode(codec)
    except UnicodeDecodeError as exc:
        raise DataError(_not_utf8(path, delimiter, [], raw)) from exc
    head = raw.decode(codec, errors="replace")
    lines = io.StringIO(head)
    for row in csv.reader(lines, delimiter=delimiter):
        if row:
            break
    else:
        raise DataError(f"ExampleGen: {path} is empty; a CSV input needs a header line.")
    blank = [str(i + 1) for i, name in enumerate(row) if not name.strip()]
    if blank:
        raise DataError(
            f"ExampleGen: {path}: header column(s) {', '.join(blank)} have no name. Every CSV "
            f"column needs a name in the first line."
        )
    dupes = sorted(name for name, count in Counter(row).items() if count > 1)
    if dupes:
        raise DataError(
            f"ExampleGen: {path}: the header names {', '.join(map(repr, dupes))} more than "
            f"once. Rename the duplicate columns."
        )
    return row


def _unreadable(path: Path, exc: OSError) -> str:
    """A compressed file cut short (a copy interrupted, a writer not done) or otherwise
    unreadable: nothing of it is read, so nothing half is ingested."""
    if "ompress" in str(exc) or path.suffix in (".gz", ".bz2", ".zst", ".lz4"):
        return (f"ExampleGen: {path} is a truncated or corrupt compressed file ({exc}); it may "
                "have been cut off in transfer or still be being written. Replace it with a "
                "whole copy; nothing of it was ingested.")
    return f"ExampleGen: {path} cannot be read: {exc}"


def _row_too_long(path: Path, block_size: int) -> str:
    """A row longer than a parse block: say how long the longest is and what to set."""
    with pa.input_stream(str(path), compression="detect") as stream:
        longest, line = 0, 0
        for number, row in enumerate(io.BufferedReader(stream), start=1):
            if len(row) > longest:
                longest, line = len(row), number
    suggestion = 1 << max(longest, 1).bit_length()
    return (f"ExampleGen: {path}:{line}: a row of {longest:,} bytes is longer than the CSV "
            f"parse block ({block_size:,} bytes). Set ExampleGen's `max_row_bytes:` to at least "
            f"{longest:,} (for example {suggestion}).")


def _not_utf8(path: Path, delimiter: str, header: list[str], data: bytes | None = None) -> str:
    """Where the first byte that is not UTF-8 is (line, column), and what to set."""
    if data is None:
        with pa.input_stream(str(path), compression="detect") as stream:
            data = stream.read()
    try:
        data.decode("utf-8")
        where, bad = "", b""
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        start = data.rfind(b"\n", 0, exc.start) + 1
        field = data[start:exc.start].count(delimiter.encode())
        column = (f"column '{header[field]}'" if line > 1 and field < len(header)
                  else "the header" if line == 1 else f"field {field + 1}")
        bad = data[exc.start:exc.end]
        where = f":{line}: {column} has"
    return (f"ExampleGen: {path}{where or ' has'} bytes that are not UTF-8 ({bad!r}). If the "
            "file is in another encoding, set ExampleGen's `encoding:` to it (latin-1, cp1252, "
            "...); otherwise fix the file.")


def type_column(
    column: pa.ChunkedArray, forced: str | None, tolerance: float
) -> tuple[pa.ChunkedArray, np.ndarray]:
    """The column as int64, float32 or binary (null when every cell is empty), and the rows
    of its malformed cells. Text columns are typed here; parsed ones only narrowed."""
    none = np.zeros(0, dtype=np.int64)
    if pa.types.is_null(column.type) or column.type == INT:
        return column, none
    if pa.types.is_floating(column.type):
        return column.cast(FLOAT, safe=False), none
    if forced == "string":
        return column.cast(BYTES), none
    if forced is not None:  # read as text on purpose: try the whole column first
        try:
            return (column.cast(INT) if forced == "int"
                    else column.cast(pa.float64()).cast(FLOAT, safe=False)), none
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            pass
    non_empty = len(column) - column.null_count
    limit = max(1.0, tolerance * non_empty)
    wrong = 0
    masks = []
    pattern = _WHOLE if forced == "int" else _NUMBER
    for chunk in column.chunks:  # chunk by chunk, so a text column stops early
        is_number = pc.match_substring_regex(chunk, pattern, ignore_case=True)
        wrong += len(chunk) - chunk.null_count - int(pc.sum(is_number).as_py() or 0)
        if forced is None and wrong > limit:
            return column.cast(BYTES), none
        masks.append(is_number)
    if forced is None and non_empty - wrong <= wrong:
        return column.cast(BYTES), none
    numeric = pa.chunked_array(masks, type=pa.bool_())
    bad = np.flatnonzero(pc.and_kleene(pc.invert(numeric), pc.is_valid(column)).to_numpy())
    clean = pc.replace_substring_regex(
        pc.utf8_trim_whitespace(pc.if_else(numeric, column, pa.scalar(None, pa.string()))),
        r"^\+", "",
    )
    if forced != "float" and bool(pc.all(pc.match_substring_regex(clean, _INT)).as_py()):
        try:
            return clean.cast(INT), bad
        except pa.ArrowInvalid:  # beyond int64: keep it as a float
            pass
    return clean.cast(pa.float64()).cast(FLOAT, safe=False), bad


def _locate(
    path: Path,
    delimiter: str,
    header: list[str],
    table: pa.Table,
    invalid: list[str],
    malformed: dict[str, np.ndarray],
    forced_types: Mapping[str, str],
) -> tuple[list[BadRow], np.ndarray]:
    """Malformed rows with their line numbers and text, and the table rows to drop."""
    reasons: dict[int, list[tuple[str, str]]] = {}
    for name, rows in malformed.items():
        values = table.column(name).take(pa.array(rows)).to_pylist()
        noun = "an integer" if forced_types.get(name) == "int" else "a number"
        for row, value in zip(rows.tolist(), values, strict=True):
            reasons.setdefault(row, []).append((name, f"{name}={value!r} is not {noun}"))
    drop = np.array(sorted(reasons), dtype=np.int64)
    scan = _scan(path, delimiter, len(header))
    exact = scan is not None and len(scan.good_lines) == table.num_rows \
        and len(scan.bad_lines) == len(invalid)
    out: list[BadRow] = []
    if exact and scan is not None:
        for line, fields, text in zip(scan.bad_lines, scan.bad_fields, scan.bad_texts,
                                      strict=True):
            out.append(BadRow(str(path), line, f"{fields} fields, expected {len(header)}", text))
        for row in drop.tolist():
            out.append(BadRow(str(path), int(scan.good_lines[row]), _reason(reasons[row]),
                              scan.text(row), _columns(reasons[row])))
    else:  # the scan disagrees with pyarrow (odd quoting): report rows without line numbers
        for text in invalid:
            out.append(BadRow(str(path), None, f"wrong number of fields, expected {len(header)}",
                              text))
        for row in drop.tolist():
            out.append(BadRow(str(path), None, f"data row {row + 1}: {_reason(reasons[row])}",
                              "", _columns(reasons[row])))
    out.sort(key=lambda b: (b.line or 0))
    return out, drop


def _reason(problems: list[tuple[str, str]]) -> str:
    return "; ".join(text for _, text in problems)


def _columns(problems: list[tuple[str, str]]) -> tuple[str, ...]:
    return tuple(name for name, _ in problems)


@dataclass
class _Scan:
    good_lines: np.ndarray  # line number of each well-formed data row, in order
    good_spans: np.ndarray  # (start, end) byte offsets of each well-formed data row
    bad_lines: list[int]
    bad_fields: list[int]
    bad_texts: list[str]
    data: bytes

    def text(self, row: int) -> str:
        start, end = self.good_spans[row]
        return self.data[start:end].decode("utf-8", errors="replace")


def _scan(path: Path, delimiter: str, width: int) -> _Scan | None:
    """Record boundaries, line numbers and field counts of a whole CSV file, vectorised.

    Quotes toggle an "inside" state (a doubled quote toggles twice); newlines and delimiters
    inside quotes do not count. Empty lines are skipped, as pyarrow skips them.
    """
    with pa.input_stream(str(path), compression="detect") as stream:
        data = stream.read()
    buf = np.frombuffer(data, dtype=np.uint8)
    outside = ~np.bitwise_xor.accumulate(buf == ord('"'))  # 3x faster than a cumsum
    newlines = np.flatnonzero(buf == ord("\n"))
    ends = newlines[outside[newlines]]
    starts = np.concatenate([[0], ends + 1])
    ends = np.concatenate([ends, [len(buf)]])
    carriage = (ends > starts) & (buf[np.maximum(ends - 1, 0)] == ord("\r"))
    ends = ends - carriage
    keep = ends > starts
    starts, ends = starts[keep], ends[keep]
    if len(starts) == 0:
        return None
    lines = np.searchsorted(newlines, starts) + 1
    delimiters = np.flatnonzero((buf == ord(delimiter)) & outside)
    fields = np.searchsorted(delimiters, ends) - np.searchsorted(delimiters, starts) + 1
    starts, ends, lines, fields = starts[1:], ends[1:], lines[1:], fields[1:]  # the header
    good = fields == width
    bad = np.flatnonzero(~good)
    return _Scan(
        good_lines=lines[good],
        good_spans=np.column_stack([starts[good], ends[good]]),
        bad_lines=lines[bad].tolist(),
        bad_fields=fields[bad].tolist(),
        bad_texts=[data[s:e].decode("utf-8", errors="replace")
                   for s, e in zip(starts[bad].tolist(), ends[bad].tolist(), strict=True)],
        data=data,
    )
