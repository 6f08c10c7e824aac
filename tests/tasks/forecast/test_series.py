"""Reading a series from CSV, the bundled default, and continuing the time stamps."""

from __future__ import annotations

from rnnkit.tasks.forecast import bundled_series, next_times, read_csv_series


def test_reads_the_column_and_time_stamps_with_lines(tmp_path):
    path = tmp_path / "s.csv"
    path.write_text("\ufeffday, sales ,other\n2024-01-01,3.5,x\n2024-01-02, 4 ,\n\n")
    series = read_csv_series(path, "sales", "day")
    assert series.values.tolist() == [3.5, 4.0] and series.times == ["2024-01-01", "2024-01-02"]
    assert series.lines == [2, 3]  # trailing empty rows are fine; an empty 'other' cell too


def test_without_a_time_column_rows_are_numbered(tmp_path):
    path = tmp_path / "s.csv"
    path.write_text("v\n1\n2\n3\n")
    assert read_csv_series(path, "v", None).times == ["1", "2", "3"]


def test_the_default_is_the_airline_series():
    series = bundled_series()
    assert len(series.values) == 144 and series.times[0] == "1949-01" and series.values[0] == 112


def test_next_times_continues_months_dates_and_integers():
    assert next_times(["1960-11", "1960-12"], 2) == ["1961-01", "1961-02"]
    assert next_times(["2020-01", "2020-04", "2020-07"], 2) == ["2020-10", "2021-01"]
    assert next_times(["2024-02-26", "2024-03-04"], 1) == ["2024-03-11"]
    assert next_times(["3", "5", "7"], 2) == ["9", "11"]
    assert next_times(["a", "b"], 2) == ["", ""]
    assert next_times(["1", "2", "4"], 1) == [""]  # no constant spacing


def test_digest_changes_with_values_and_times():
    a = bundled_series()
    b = bundled_series()
    assert a.sha256() == b.sha256()
    b.values[-1] += 1
    assert a.sha256() != b.sha256()
