"""`Table.find`: the rows of a batch holding a value, kept right as the fold changes rows."""

from __future__ import annotations

from sanzheng_shared.engine.table import Table


def _table() -> Table:
    table = Table("internships", key=("internship_id",))
    table.accept(
        [
            {"internship_id": "i2", "student_id": "s1", "employer_id": "E1"},
            {"internship_id": "i1", "student_id": "s2", "employer_id": "E1"},
            {"internship_id": "i3", "student_id": "s3", "employer_id": "E2"},
        ]
    )
    return table


def ids(rows: list[dict[str, str]]) -> list[str]:
    return [r["internship_id"] for r in rows]


def test_find_gives_the_rows_holding_the_value_in_key_order() -> None:
    table = _table()
    assert ids(table.find("employer_id", "E1")) == ["i1", "i2"]
    assert ids(table.find("employer_id", "E9")) == []


def test_find_follows_rows_put_moved_and_deleted_after_its_first_use() -> None:
    table = _table()
    assert ids(table.find("employer_id", "E2")) == ["i3"]
    table.put({"internship_id": "i4", "student_id": "s4", "employer_id": "E2"})
    table.update(table.get("i1") or {}, employer_id="E2")  # moved from E1 to E2
    table.delete("i3")
    assert ids(table.find("employer_id", "E2")) == ["i1", "i4"]
    assert ids(table.find("employer_id", "E1")) == ["i2"]
    table.accept([{"internship_id": "i5", "student_id": "s5", "employer_id": "E1"}])
    assert ids(table.find("employer_id", "E1")) == ["i2", "i5"]
