"""Departments CSV: the shipped sample, Excel's encodings, validation, idempotent import, search."""

from __future__ import annotations

import codecs
import csv
import io
from collections import Counter
from collections.abc import AsyncIterator

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import StaticPool
from sqlmodel import SQLModel, select
from sqlmodel.ext.asyncio.session import AsyncSession

from db.models import Department, DepartmentKind
from db.people.departments import (
    DEPARTMENT_CLASSES,
    MAX_NAME_LENGTH,
    CsvProblem,
    DepartmentCsvError,
    DepartmentRow,
    export_departments,
    import_departments,
    parse_departments_csv,
    sample_csv_path,
    search_departments,
)


@pytest.fixture
async def engine() -> AsyncIterator[AsyncEngine]:
    eng = create_async_engine("sqlite+aiosqlite://", poolclass=StaticPool)
    async with eng.begin() as conn:
        await conn.run_sync(SQLModel.metadata.create_all)
    yield eng
    await eng.dispose()


@pytest.fixture
async def session(engine: AsyncEngine) -> AsyncIterator[AsyncSession]:
    async with AsyncSession(engine, expire_on_commit=False) as s:
        yield s


def sample_bytes() -> bytes:
    return sample_csv_path().read_bytes()


def problems_of(data: bytes) -> list[CsvProblem]:
    with pytest.raises(DepartmentCsvError) as excinfo:
        parse_departments_csv(data)
    assert excinfo.value.problems, "an error must carry at least one problem"
    return excinfo.value.problems


async def count_departments(session: AsyncSession) -> int:
    return len((await session.exec(select(Department))).all())


# --- the shipped sample -------------------------------------------------------------------------


def test_sample_is_plain_utf8_with_the_agreed_header() -> None:
    data = sample_bytes()
    assert not data.startswith(codecs.BOM_UTF8)
    assert data.decode("utf-8").splitlines()[0] == "code,name,kind,class"


def test_sample_has_the_141_units_of_seed_001() -> None:
    rows = parse_departments_csv(sample_bytes())

    assert len(rows) == 141
    assert Counter(r.kind for r in rows) == {
        DepartmentKind.department: 23,
        DepartmentKind.window: 16,
        DepartmentKind.key_position: 52,
        DepartmentKind.project: 50,
    }
    assert {r.dept_class for r in rows} == set(DEPARTMENT_CLASSES)
    prefixes = {
        DepartmentKind.department: "D",
        DepartmentKind.window: "W",
        DepartmentKind.key_position: "K",
        DepartmentKind.project: "P",
    }
    assert all(r.code.startswith(prefixes[r.kind]) for r in rows)
    names = {r.name for r in rows}
    assert {"市公安局", "市政府采购中心", "市公安局户政处", "康师傅饮品二期项目"} <= names
    # project numbering ("1.", "5.") is stripped; "30mw" is part of the name, not a number
    assert "30mw燃压机组批量化生产技术改造项目" in names
    assert not any(r.name[0].isdigit() and "." in r.name[:3] for r in rows)
    assert all(r.dept_class == "其他" for r in rows if r.kind is DepartmentKind.project)


# --- import ---------------------------------------------------------------------------------------


async def test_import_sample_is_idempotent(session: AsyncSession) -> None:
    rows = parse_departments_csv(sample_bytes())

    first = await import_departments(session, rows)
    await session.commit()
    second = await import_departments(session, rows)
    await session.commit()

    assert (first.created, first.updated, first.unchanged) == (141, 0, 0)
    assert (second.created, second.updated, second.unchanged) == (0, 0, 141)
    assert await count_departments(session) == 141


async def test_import_counts_created_updated_unchanged(session: AsyncSession) -> None:
    rows = parse_departments_csv(sample_bytes())
    await import_departments(session, rows)
    await session.commit()

    renamed = [
        DepartmentRow(r.code, "市公安局(新)", r.kind, r.dept_class) if r.code == "D011" else r
        for r in rows
    ]
    extra = DepartmentRow("X001", "新单位", DepartmentKind.district, None)
    result = await import_departments(session, [*renamed, extra])
    await session.commit()

    assert (result.created, result.updated, result.unchanged) == (1, 1, 140)
    d011 = (await session.exec(select(Department).where(Department.code == "D011"))).one()
    assert d011.name == "市公安局(新)"


async def test_import_keeps_departments_missing_from_the_file(session: AsyncSession) -> None:
    rows = parse_departments_csv(sample_bytes())
    await import_departments(session, rows)
    await session.commit()

    result = await import_departments(session, rows[:10])
    await session.commit()

    assert result.unchanged == 10
    active = (await session.exec(select(Department).where(Department.active))).all()
    assert len(active) == 141


async def test_import_does_not_commit(engine: AsyncEngine, session: AsyncSession) -> None:
    await import_departments(session, parse_departments_csv(sample_bytes()))
    await session.rollback()
    async with AsyncSession(engine) as other:
        assert await count_departments(other) == 0


async def test_import_rejects_duplicate_rows_before_writing(session: AsyncSession) -> None:
    row = DepartmentRow("D001", "市发改委", DepartmentKind.department, "经济管理")
    with pytest.raises(ValueError, match="D001"):
        await import_departments(session, [row, row])
    assert await count_departments(session) == 0


async def test_gbk_file_from_chinese_excel_imports_with_right_names(session: AsyncSession) -> None:
    text = (
        "编码,名称,类型,类别\r\n"
        "D001,市发改委,部门,经济管理\r\n"
        "W001,道里区行政服务中心,窗口,管理服务\r\n"
    )
    data = text.encode("gbk")
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")

    rows = parse_departments_csv(data)
    result = await import_departments(session, rows)
    await session.commit()

    assert result.created == 2
    names = {d.code: d.name for d in (await session.exec(select(Department))).all()}
    assert names == {"D001": "市发改委", "W001": "道里区行政服务中心"}
    assert [r.kind for r in rows] == [DepartmentKind.department, DepartmentKind.window]


def test_utf8_bom_crlf_and_header_variants_are_accepted() -> None:
    text = ' Code ,NAME,Kind,CLASS,备注\r\nk1,"  市 公安局\n户政处 ",关键部位,\r\n'
    data = codecs.BOM_UTF8 + text.encode()
    assert parse_departments_csv(data) == [
        DepartmentRow("k1", "市 公安局 户政处", DepartmentKind.key_position, None)
    ]


# --- problems -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "detail"),
    [
        (b"\xff\xfe\x00garbage", "utf-16"),
        ("code,name,kind,class\nD1,市发改委,部门,\n".encode("utf-16"), "utf-16"),
        ("code,name,kind,class\nD1,x,部门,\n".encode("utf-16-le"), "binary"),
        (b"PK\x03\x04\x14\x00\x06\x00", "xlsx"),
        (b"code,name\n\x80\xff\xfe\n", "unknown"),
    ],
)
def test_undecodable_file_is_an_encoding_problem(data: bytes, detail: str) -> None:
    assert problems_of(data) == [CsvProblem(None, "encoding", detail)]


@pytest.mark.parametrize("data", [b"", b"  \r\n\r\n", b"code,name,kind,class\n", b",,,\n,,\n"])
def test_empty_file(data: bytes) -> None:
    assert [p.kind for p in problems_of(data)] == ["empty_file"]


async def test_missing_columns_are_named(session: AsyncSession) -> None:
    problems = problems_of("code,名称\nD1,市发改委\n".encode())
    assert problems == [CsvProblem(1, "missing_columns", "kind,class")]
    assert await count_departments(session) == 0


def test_two_columns_meaning_the_same_are_refused() -> None:
    problems = problems_of("code,编码,name,kind,class\nD1,D2,x,部门,\n".encode())
    assert problems == [CsvProblem(1, "missing_columns", "code")]


def test_a_cell_beyond_the_csv_field_limit_is_too_long() -> None:
    data = b"code,name,kind,class\nD1,x,department,\nD2," + b"x" * 200_000 + b",department,\n"
    assert problems_of(data) == [CsvProblem(3, "too_long", "csv")]


async def test_duplicate_codes_report_both_lines(session: AsyncSession) -> None:
    data = "code,name,kind,class\nD1,甲,部门,\nD2,乙,部门,\n\nD1,丙,部门,\n".encode()
    problems = problems_of(data)
    assert problems == [
        CsvProblem(2, "duplicate_code", "D1"),
        CsvProblem(5, "duplicate_code", "D1"),
    ]
    assert await count_departments(session) == 0


def test_bad_kind_bad_class_empty_name_and_long_values_all_reported_at_once() -> None:
    data = (
        "code,name,kind,class\n"
        "D1,市发改委,部委,经济管理\n"
        "D2,,department,\n"
        "D3,市工信委,department,经济\n"
        f"D4,{'长' * (MAX_NAME_LENGTH + 1)},department,\n"
        f"{'D' * 33},市商务局,department,\n"
        "D 6,市林业局,department,\n"
        ",市农委,,\n"
        "D8,市科技局,department,其他\n"
    ).encode()
    assert problems_of(data) == [
        CsvProblem(2, "bad_kind", "部委"),
        CsvProblem(3, "empty_field", "name"),
        CsvProblem(4, "bad_class", "经济"),
        CsvProblem(5, "too_long", "name"),
        CsvProblem(6, "too_long", "code"),
        CsvProblem(7, "bad_code", "D 6"),
        CsvProblem(8, "empty_field", "code"),
        CsvProblem(8, "empty_field", "kind"),
    ]


def test_line_numbers_follow_spreadsheet_rows_with_multiline_cells() -> None:
    data = 'code,name,kind,class\nD1,"市\n发改委",部门,\nD2,x,bad,\n'.encode()
    assert problems_of(data) == [CsvProblem(3, "bad_kind", "bad")]


async def test_nothing_is_imported_when_any_row_is_bad(session: AsyncSession) -> None:
    good = sample_bytes().decode("utf-8")
    data = (good + "X1,,department,\n").encode()
    problems = problems_of(data)
    assert problems == [CsvProblem(143, "empty_field", "name")]
    assert await count_departments(session) == 0


# --- search ---------------------------------------------------------------------------------------


@pytest.fixture
async def seeded(session: AsyncSession) -> AsyncSession:
    await import_departments(session, parse_departments_csv(sample_bytes()))
    await session.commit()
    return session


async def test_search_puts_the_shortest_match_first(seeded: AsyncSession) -> None:
    found = await search_departments(seeded, "公安")
    assert found[0].name == "市公安局"
    assert len(found) == 5  # 市公安局 and its four key positions
    assert all("公安" in d.name for d in found)
    assert [len(d.name) for d in found[1:]] == sorted(len(d.name) for d in found[1:])


async def test_search_ranks_exact_then_prefix(seeded: AsyncSession) -> None:
    seeded.add(Department(code="Z1", name="公安局大楼", kind=DepartmentKind.project))
    seeded.add(Department(code="Z2", name="公安", kind=DepartmentKind.project))
    await seeded.commit()

    found = await search_departments(seeded, " 公安 ", limit=3)
    assert [d.code for d in found] == ["Z2", "Z1", "D011"]


async def test_search_by_code_and_latin_case(seeded: AsyncSession) -> None:
    assert [d.name for d in await search_departments(seeded, "d011")] == ["市公安局"]
    found = await search_departments(seeded, "SMA")
    assert [d.code for d in found] == ["P006"]


async def test_search_treats_wildcards_literally(seeded: AsyncSession) -> None:
    seeded.add(Department(code="Y1", name="达标率100%单位", kind=DepartmentKind.district))
    seeded.add(Department(code="Y2", name="a_b局", kind=DepartmentKind.district))
    seeded.add(Department(code="Y3", name="axb局", kind=DepartmentKind.district))
    seeded.add(Department(code="Y4", name="反斜杠\\局", kind=DepartmentKind.district))
    await seeded.commit()

    assert [d.code for d in await search_departments(seeded, "%")] == ["Y1"]
    assert [d.code for d in await search_departments(seeded, "100%")] == ["Y1"]
    assert [d.code for d in await search_departments(seeded, "a_b")] == ["Y2"]
    assert [d.code for d in await search_departments(seeded, "_")] == ["Y2"]
    assert [d.code for d in await search_departments(seeded, "\\")] == ["Y4"]


async def test_search_skips_inactive_and_empty_queries(seeded: AsyncSession) -> None:
    d011 = (await seeded.exec(select(Department).where(Department.code == "D011"))).one()
    d011.active = False
    seeded.add(d011)
    await seeded.commit()

    assert "D011" not in [d.code for d in await search_departments(seeded, "公安")]
    assert await search_departments(seeded, "   ") == []
    assert await search_departments(seeded, "公安", limit=0) == []
    assert await search_departments(seeded, "不存在的单位") == []


# --- export ---------------------------------------------------------------------------------------


async def test_export_round_trips(seeded: AsyncSession) -> None:
    exported = await export_departments(seeded)

    assert exported.startswith(codecs.BOM_UTF8)
    assert parse_departments_csv(exported) == parse_departments_csv(sample_bytes())
    result = await import_departments(seeded, parse_departments_csv(exported))
    assert (result.created, result.updated, result.unchanged) == (0, 0, 141)
    plain = await export_departments(seeded, bom=False)
    assert plain.replace(b"\r\n", b"\n") == sample_bytes()


# --- property -------------------------------------------------------------------------------------

# Names the parser keeps verbatim: no control characters or surrogates, single inner spaces only.
_word = st.text(
    alphabet=st.characters(exclude_categories=("Cc", "Cs", "Zs", "Zl", "Zp")), min_size=1
)
_name = (
    st.lists(_word, min_size=1, max_size=5)
    .map(" ".join)
    .filter(lambda s: len(s) <= MAX_NAME_LENGTH)
)
_row = st.builds(
    DepartmentRow,
    code=st.from_regex(r"[A-Za-z0-9_-]{1,32}", fullmatch=True),
    name=_name,
    kind=st.sampled_from(DepartmentKind),
    dept_class=st.one_of(st.none(), st.sampled_from(DEPARTMENT_CLASSES)),
)


@given(
    rows=st.lists(_row, min_size=1, max_size=20, unique_by=lambda r: r.code),
    bom=st.booleans(),
    lineterminator=st.sampled_from(["\n", "\r\n"]),
)
def test_valid_rows_written_by_csv_writer_parse_back(
    rows: list[DepartmentRow], bom: bool, lineterminator: str
) -> None:
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator=lineterminator)
    writer.writerow(["code", "name", "kind", "class"])
    writer.writerows([r.code, r.name, r.kind.value, r.dept_class or ""] for r in rows)
    data = (codecs.BOM_UTF8 if bom else b"") + buffer.getvalue().encode("utf-8")

    assert parse_departments_csv(data) == rows
