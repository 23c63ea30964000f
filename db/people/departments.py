"""The list of monitored units as a spreadsheet: parse, import, search and export departments.

Admins keep the unit list in Excel, so the CSV side is forgiving about what Excel produces (BOM,
GBK, Chinese headers) and strict about what would corrupt the table (duplicate or malformed codes,
unknown kinds). Everything here is a plain function over a session so handlers and the CLI share it
and tests need no Telegram.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
import string
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Literal

from sqlalchemy import Integer, String, bindparam, case, func, or_
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from sqlmodel.sql.expression import SelectOfScalar

from db.models import Department, DepartmentKind

# The five classes seed 003 sorts units into; a unit may also have no class at all.
DEPARTMENT_CLASSES: tuple[str, ...] = ("党政综合", "经济管理", "执法监督", "管理服务", "其他")
NO_CLASS_WORDS = frozenset({"none", "-", "无"})
"""What an admin types for "no class"."""

CSV_COLUMNS: tuple[str, ...] = ("code", "name", "kind", "class")
MAX_CODE_LENGTH = 32
MAX_NAME_LENGTH = 200

ProblemKind = Literal[
    "encoding",
    "missing_columns",
    "duplicate_code",
    "bad_kind",
    "bad_class",
    "bad_code",
    "empty_field",
    "too_long",
    "empty_file",
]

_CODE_RE = re.compile(r"[A-Za-z0-9_-]+")
# Text files never contain these; finding one means we decoded a binary file or the wrong encoding.
_BINARY_RE = re.compile(r"[\x00-\x08\x0e-\x1b\x7f]")

_HEADER_ALIASES: dict[str, str] = {
    "code": "code",
    "编码": "code",
    "代码": "code",
    "name": "name",
    "名称": "name",
    "单位名称": "name",
    "kind": "kind",
    "类型": "kind",
    "class": "class",
    "dept_class": "class",
    "类别": "class",
    "分类": "class",
}

_KIND_ALIASES: dict[str, DepartmentKind] = {
    **{kind.value: kind for kind in DepartmentKind},
    "部门": DepartmentKind.department,
    "窗口": DepartmentKind.window,
    "关键部位": DepartmentKind.key_position,
    "项目": DepartmentKind.project,
    "区县": DepartmentKind.district,
}

_KIND_ORDER: dict[DepartmentKind, int] = {kind: i for i, kind in enumerate(DepartmentKind)}


def sample_csv_path() -> Path:
    """The 141 units of seed 001, shipped so a fresh install can be seeded in one command."""
    return Path(__file__).parents[1] / "data" / "departments_sample.csv"


@dataclass(frozen=True)
class DepartmentRow:
    code: str
    name: str
    kind: DepartmentKind
    dept_class: str | None


@dataclass(frozen=True)
class CsvProblem:
    """One thing wrong with an uploaded file.

    `detail` is the untranslated subject of the problem (the offending value, the column name, or a
    short tag for encodings) rather than a sentence, so a handler can put it into a message in the
    reader's language. `line` is the spreadsheet row number (header = 1); None means the whole
    file.
    """

    line: int | None
    kind: ProblemKind
    detail: str


class DepartmentCsvError(Exception):
    """All problems of a file at once, so the admin can fix the spreadsheet in one round trip."""

    def __init__(self, problems: list[CsvProblem]) -> None:
        self.problems = problems
        shown = "; ".join(
            f"line {p.line}: {p.kind} {p.detail!r}" if p.line else f"{p.kind} {p.detail!r}"
            for p in problems[:5]
        )
        more = f" (+{len(problems) - 5} more)" if len(problems) > 5 else ""
        super().__init__(f"{len(problems)} problem(s) in departments CSV: {shown}{more}")


@dataclass
class ImportResult:
    created: int
    updated: int
    unchanged: int


def _decode(data: bytes) -> str | CsvProblem:
    """Guess between the two encodings Chinese offices actually produce: UTF-8 and GBK (GB18030).

    Excel's "Unicode text" (UTF-16) and workbooks uploaded instead of CSV are named in the detail,
    because those are the usual mistakes and each has a different fix.
    """
    if data.startswith(b"PK\x03\x04"):
        return CsvProblem(None, "encoding", "xlsx")
    if data.startswith(b"\xd0\xcf\x11\xe0"):
        return CsvProblem(None, "encoding", "xls")
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return CsvProblem(None, "encoding", "utf-16")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            text = data.decode("gb18030")
        except UnicodeDecodeError:
            return CsvProblem(None, "encoding", "unknown")
    # UTF-16 without a BOM decodes as "valid" UTF-8 full of NULs; so does a binary file.
    if _BINARY_RE.search(text):
        return CsvProblem(None, "encoding", "binary")
    return text.removeprefix("\ufeff")


def _normalize_name(raw: str) -> str:
    # A wrapped Excel cell (Alt+Enter) or stray double spaces would otherwise end up in buttons and
    # make "the same" unit two different names.
    return " ".join(raw.split())


def _map_header(header: Sequence[str], line: int) -> dict[str, int] | list[CsvProblem]:
    """Column positions by canonical name, or why the header cannot be used."""
    positions: dict[str, int] = {}
    ambiguous: list[str] = []
    for index, cell in enumerate(header):
        canonical = _HEADER_ALIASES.get(cell.strip().removeprefix("\ufeff").strip().lower())
        if canonical is None:
            continue  # extra columns (notes, 序号 …) are common in real spreadsheets
        if canonical in positions:
            ambiguous.append(canonical)
        else:
            positions[canonical] = index
    missing = [c for c in CSV_COLUMNS if c not in positions]
    problems: list[CsvProblem] = []
    if missing:
        problems.append(CsvProblem(line, "missing_columns", ",".join(missing)))
    if ambiguous:
        # Two columns both meaning "code" cannot be resolved without guessing which one is right.
        problems.append(CsvProblem(line, "missing_columns", ",".join(sorted(set(ambiguous)))))
    return problems or positions


def parse_departments_csv(data: bytes) -> list[DepartmentRow]:
    """Validate a whole uploaded file before anything touches the database.

    Raises DepartmentCsvError with every problem found; returns rows only for a clean file. A file
    with a header but no rows is an error too: importing nothing is never what the admin meant.
    Blank rows are skipped but still counted, so line numbers match what the spreadsheet shows.
    """
    decoded = _decode(data)
    if isinstance(decoded, CsvProblem):
        raise DepartmentCsvError([decoded])
    if not decoded.strip():
        raise DepartmentCsvError([CsvProblem(None, "empty_file", "")])

    problems: list[CsvProblem] = []
    rows: list[DepartmentRow] = []
    code_lines: dict[str, list[int]] = {}
    positions: dict[str, int] | None = None
    line = 0
    reader = csv.reader(io.StringIO(decoded, newline=""))
    try:
        for line, record in enumerate(reader, start=1):
            if not any(cell.strip() for cell in record):
                continue
            if positions is None:
                mapped = _map_header(record, line)
                if isinstance(mapped, list):
                    raise DepartmentCsvError(mapped)
                positions = mapped
                continue
            row = _parse_record(record, positions, line, problems)
            if row is not None:
                rows.append(row)
            code = _cell(record, positions["code"]).strip()
            if code:
                code_lines.setdefault(code, []).append(line)
    except csv.Error as exc:
        raise DepartmentCsvError(
            [CsvProblem(line + 1, "too_long" if "field larger" in str(exc) else "encoding", "csv")]
        ) from exc

    for code, lines in code_lines.items():
        if len(lines) > 1:
            problems.extend(CsvProblem(n, "duplicate_code", code) for n in lines)
    if positions is None or (not rows and not problems):
        problems.append(CsvProblem(None, "empty_file", ""))
    if problems:
        problems.sort(key=lambda p: p.line or 0)
        raise DepartmentCsvError(problems)
    return rows


def _cell(record: Sequence[str], index: int) -> str:
    # Excel drops trailing empty cells of a row, so a short row just means empty values.
    return record[index] if index < len(record) else ""


def _parse_record(
    record: Sequence[str], positions: dict[str, int], line: int, problems: list[CsvProblem]
) -> DepartmentRow | None:
    found_before = len(problems)

    code = _cell(record, positions["code"]).strip()
    if not code:
        problems.append(CsvProblem(line, "empty_field", "code"))
    elif len(code) > MAX_CODE_LENGTH:
        problems.append(CsvProblem(line, "too_long", "code"))
    elif not _CODE_RE.fullmatch(code):
        problems.append(CsvProblem(line, "bad_code", code))

    name = _normalize_name(_cell(record, positions["name"]))
    if not name:
        problems.append(CsvProblem(line, "empty_field", "name"))
    elif len(name) > MAX_NAME_LENGTH:
        problems.append(CsvProblem(line, "too_long", "name"))

    raw_kind = _cell(record, positions["kind"]).strip()
    kind = _KIND_ALIASES.get(raw_kind.lower())
    if not raw_kind:
        problems.append(CsvProblem(line, "empty_field", "kind"))
    elif kind is None:
        problems.append(CsvProblem(line, "bad_kind", raw_kind))

    dept_class: str | None = _cell(record, positions["class"]).strip() or None
    if dept_class is not None and dept_class not in DEPARTMENT_CLASSES:
        problems.append(CsvProblem(line, "bad_class", dept_class))

    if len(problems) > found_before or kind is None:
        return None
    return DepartmentRow(code=code, name=name, kind=kind, dept_class=dept_class)


async def import_departments(session: AsyncSession, rows: list[DepartmentRow]) -> ImportResult:
    """Upsert by code inside the caller's transaction, so a failed import leaves nothing behind.

    Departments absent from the file stay as they are (reports point at them), and `active` is not
    touched: deactivating a unit is a deliberate admin act that re-importing an old file must not
    undo. The whole table is loaded in one query; unit lists are hundreds of rows, and this avoids
    both a query per row and the bound-parameter limits of a huge IN list.
    """
    seen: set[str] = set()
    for row in rows:
        if row.code in seen:
            raise ValueError(f"duplicate department code {row.code!r}")
        seen.add(row.code)

    existing = {d.code: d for d in (await session.exec(select(Department))).all()}
    result = ImportResult(created=0, updated=0, unchanged=0)
    for row in rows:
        dept = existing.get(row.code)
        if dept is None:
            session.add(
                Department(code=row.code, name=row.name, kind=row.kind, dept_class=row.dept_class)
            )
            result.created += 1
        elif (dept.name, dept.kind, dept.dept_class) == (row.name, row.kind, row.dept_class):
            result.unchanged += 1
        else:
            dept.name, dept.kind, dept.dept_class = row.name, row.kind, row.dept_class
            session.add(dept)
            result.updated += 1
    # Surface constraint violations here, where the caller still knows it was the import.
    await session.flush()
    return result


async def department_by_code(session: AsyncSession, code: str) -> Department | None:
    """Case-insensitive, because admins type codes from a printed list (d011 means D011)."""
    statement = select(Department).where(func.upper(col(Department.code)) == code.strip().upper())
    return (await session.exec(statement)).first()


_ASCII_UPPER_TO_LOWER = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)


def _ascii_lower(text: str) -> str:
    # SQLite's lower() and LIKE only fold ASCII; folding more in Python would miss on SQLite.
    return text.translate(_ASCII_UPPER_TO_LOWER)


def _escape_like(text: str) -> str:
    """Make the user's % and _ literal: a citizen typing "100%" means the text, not a wildcard."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


async def search_departments(session: AsyncSession, text: str, limit: int = 8) -> list[Department]:
    """Find the unit a citizen means from a fragment of its name, best guess first.

    Ranking is exact name (or exact code), then prefix, then shortest name: short names are the
    parent units ("市公安局" before "市公安局户政处"), which is usually what a fragment means.
    lower() on both sides gives the same ASCII case-folding on SQLite and PostgreSQL; the raw LIKE
    keeps exact-case matches of other scripts working on PostgreSQL, whose lower() folds more.
    """
    raw = text.strip()
    needle = _ascii_lower(raw)
    if not needle or limit <= 0:
        return []
    params = {
        "needle": needle,
        "prefix": f"{_escape_like(needle)}%",
        "contains": f"%{_escape_like(needle)}%",
        "contains_raw": f"%{_escape_like(raw)}%",
        "limit": limit,
    }
    result = await session.exec(_SEARCH, params=params)
    return list(result.all())


def _search_statement() -> SelectOfScalar[Department]:
    """The search of `search_departments`, built once: building it (a CASE, four LIKEs) cost
    several times more than running it. Every typed value is a bound parameter."""
    name = col(Department.name)
    name_lower = func.lower(name)
    code_lower = func.lower(col(Department.code))
    needle = bindparam("needle", type_=String)
    rank = case(
        (name_lower == needle, 0),
        (code_lower == needle, 0),
        (name_lower.like(bindparam("prefix", type_=String), escape="\\"), 1),
        else_=2,
    )
    return (
        select(Department)
        .where(col(Department.active).is_(True))
        .where(
            or_(
                name_lower.like(bindparam("contains", type_=String), escape="\\"),
                name.like(bindparam("contains_raw", type_=String), escape="\\"),
                code_lower == needle,
            )
        )
        .order_by(rank, func.length(name), col(Department.code))
        .limit(bindparam("limit", type_=Integer))
    )


_SEARCH = _search_statement()


def departments_to_csv(rows: Iterable[DepartmentRow], *, bom: bool = True) -> bytes:
    """The import format, with a BOM by default because Chinese Excel reads BOM-less UTF-8 as GBK.

    CRLF line ends follow RFC 4180 and what Excel writes; the parser accepts either.
    """
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for row in rows:
        writer.writerow([row.code, row.name, row.kind.value, row.dept_class or ""])
    return (codecs.BOM_UTF8 if bom else b"") + buffer.getvalue().encode("utf-8")


async def export_departments(session: AsyncSession, *, bom: bool = True) -> bytes:
    """Every department, inactive ones included, so export → edit → import loses nothing.

    Import never changes `active`, so re-importing an export cannot revive a deactivated unit.
    """
    departments = (await session.exec(select(Department))).all()
    rows = sorted(
        (
            DepartmentRow(
                code=d.code,
                name=d.name,
                kind=DepartmentKind(d.kind),
                dept_class=d.dept_class,
            )
            for d in departments
        ),
        key=lambda r: (_KIND_ORDER[r.kind], r.code),
    )
    return departments_to_csv(rows, bom=bom)


class UnitProblem(StrEnum):
    """Why an admin's new or changed unit was refused; each has its own message."""

    bad_code = "bad_code"
    duplicate_code = "duplicate_code"
    bad_name = "bad_name"
    bad_kind = "bad_kind"
    bad_class = "bad_class"


def parse_kind(word: str) -> DepartmentKind | None:
    """A kind as admins type it: the English value or the Chinese word of the CSV."""
    return _KIND_ALIASES.get(word.strip().lower())


def valid_code(code: str) -> bool:
    """Codes are typed back into commands and buttons: ASCII letters, digits, _ and - only."""
    return len(code) <= MAX_CODE_LENGTH and bool(_CODE_RE.fullmatch(code))


async def add_department(
    session: AsyncSession, code: str, name: str, kind_word: str, class_word: str | None
) -> Department | UnitProblem:
    """Create one unit from an admin's words, with the same rules as the CSV import."""
    name = _normalize_name(name)
    kind = parse_kind(kind_word)
    if not valid_code(code):
        return UnitProblem.bad_code
    if not name or len(name) > MAX_NAME_LENGTH:
        return UnitProblem.bad_name
    if kind is None:
        return UnitProblem.bad_kind
    if class_word is not None and class_word not in DEPARTMENT_CLASSES:
        return UnitProblem.bad_class
    if await department_by_code(session, code) is not None:
        return UnitProblem.duplicate_code
    unit = Department(code=code, name=name, kind=kind, dept_class=class_word)
    session.add(unit)
    await session.flush()
    return unit


async def rename_department(
    session: AsyncSession, unit: Department, name: str
) -> UnitProblem | None:
    """The name reporters and liaisons see from now on; None when renamed."""
    if not name or len(name) > MAX_NAME_LENGTH:
        return UnitProblem.bad_name
    unit.name = name
    session.add(unit)
    await session.flush()
    return None


def parse_class(word: str) -> str | UnitProblem | None:
    """A class of seed 003 as an admin types it; `none` (or - or 无) for no class."""
    word = word.strip()
    if word.lower() in NO_CLASS_WORDS:
        return None
    return word if word in DEPARTMENT_CLASSES else UnitProblem.bad_class


async def set_department_class(session: AsyncSession, unit: Department, value: str | None) -> None:
    """The class the digest and the duties' `类别` scope group the unit by."""
    unit.dept_class = value
    session.add(unit)
    await session.flush()


async def reactivate_department(session: AsyncSession, unit: Department) -> None:
    """Reporters find the unit again. (Deactivating checks its open reports first:
    `db.cases.reports.deactivate_department`.)"""
    unit.active = True
    session.add(unit)
    await session.flush()


async def list_departments(
    session: AsyncSession, text: str, *, offset: int, limit: int
) -> tuple[list[Department], int]:
    """One page of every unit (inactive ones too) whose code or name contains `text`, by code,
    with the number of all matches for the pager."""
    needle = _ascii_lower(text.strip())
    statement = select(Department)
    if needle:
        pattern = f"%{_escape_like(needle)}%"
        statement = statement.where(
            or_(
                func.lower(col(Department.name)).like(pattern, escape="\\"),
                func.lower(col(Department.code)).like(pattern, escape="\\"),
            )
        )
    total = await session.scalar(select(func.count()).select_from(statement.subquery()))
    page = await session.exec(statement.order_by(col(Department.code)).offset(offset).limit(limit))
    return list(page.all()), int(total or 0)
