"""lumberjack's naming and pruning rules (pipeline.rotation), pure, with fakes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from pipeline.rotation import (
    BackupFile,
    backup_name,
    backups_in,
    format_stamp,
    go_ext,
    looks_like_backup,
    mill_plan,
    parse_backup,
    parse_stamp,
    prefix_and_ext,
    unread_backups,
)

T0 = datetime(2026, 3, 1, 10, 22, 33, 123456, tzinfo=UTC)


@pytest.mark.parametrize(
    ("name", "ext"),
    [("audit.log", ".log"), ("audit", ""), ("a.b.log", ".log"), (".hidden", ".hidden"), ("audit.", ".")],
)
def test_go_ext_is_from_the_last_dot(name: str, ext: str) -> None:
    assert go_ext(name) == ext


def test_backup_name_is_prefix_stamp_ext_in_utc_with_milliseconds_truncated() -> None:
    assert backup_name("/var/log/audit.log", T0, local_time=False) == "/var/log/audit-2026-03-01T10-22-33.123.log"
    assert backup_name("/x/audit", T0, local_time=False) == "/x/audit-2026-03-01T10-22-33.123"
    east = T0.astimezone(timezone(timedelta(hours=5)))
    assert backup_name("/x/a.log", east, local_time=False) == "/x/a-2026-03-01T10-22-33.123.log"


def test_backup_name_in_local_time_uses_the_local_zone() -> None:
    expected = T0.astimezone().strftime("%Y-%m-%dT%H-%M-%S") + ".123"
    assert backup_name("/x/a.log", T0, local_time=True) == f"/x/a-{expected}.log"


def test_stamps_round_trip_and_bad_ones_are_refused() -> None:
    assert format_stamp(T0) == "2026-03-01T10-22-33.123"
    assert parse_stamp("2026-03-01T10-22-33.123") == T0.replace(microsecond=123000)
    for bad in ("2026-13-01T10-22-33.123", "2026-02-30T10-22-33.123", "2026-03-01T10-22-33.12", "2026-03-01 10-22"):
        assert parse_stamp(bad) is None, bad


def test_parse_backup_accepts_plain_and_gz_and_nothing_else() -> None:
    prefix, ext = prefix_and_ext("/x/audit.log")
    assert (prefix, ext) == ("audit-", ".log")
    plain = parse_backup("audit-2026-03-01T10-22-33.123.log", prefix, ext)
    gz = parse_backup("audit-2026-03-01T10-22-33.123.log.gz", prefix, ext)
    assert plain is not None and not plain.compressed and plain.stem == plain.name
    assert gz is not None and gz.compressed and gz.stem == plain.name
    for other in (
        "audit.log",
        "audit-foo.log",
        "other-2026-03-01T10-22-33.123.log",
        "audit-2026-03-01T10-22-33.123.txt",
    ):
        assert parse_backup(other, prefix, ext) is None, other


def test_looks_like_backup_whatever_the_live_name() -> None:
    assert looks_like_backup("kube-a-2026-03-01T10-22-33.123.log")
    assert looks_like_backup("kube-a-2026-03-01T10-22-33.123.log.gz")
    assert looks_like_backup("noext-2026-03-01T10-22-33.123")
    assert not looks_like_backup("kube-a.log")
    assert not looks_like_backup("audit-2026-03-01.log")


def _b(stamp: str, gz: bool = False) -> BackupFile:
    b = parse_backup(f"audit-{stamp}.log" + (".gz" if gz else ""), "audit-", ".log")
    assert b is not None
    return b


def test_backups_are_listed_newest_first_by_the_name_not_the_listing_order() -> None:
    names = [
        "audit.log",
        "audit-2026-03-01T10-00-00.000.log.gz",
        "audit-2026-03-02T10-00-00.000.log",
        "audit-2026-02-28T10-00-00.000.log.gz",
        "unrelated.txt",
    ]
    assert [b.stamp for b in backups_in(names, "/x/audit.log")] == [
        "2026-03-02T10-00-00.000",
        "2026-03-01T10-00-00.000",
        "2026-02-28T10-00-00.000",
    ]


def test_mill_keeps_max_backups_names_counting_a_plain_file_and_its_gz_once() -> None:
    files = [
        _b("2026-03-05T00-00-00.000"),
        _b("2026-03-04T00-00-00.000"),  # mid-compression: both forms exist
        _b("2026-03-04T00-00-00.000", gz=True),
        _b("2026-03-03T00-00-00.000", gz=True),
        _b("2026-03-02T00-00-00.000", gz=True),
    ]
    now = datetime(2026, 3, 6, tzinfo=UTC)
    plan = mill_plan(files, now, max_backups=2, max_age_days=0, compress=True)
    assert [f.name for f in plan.remove] == [files[3].name, files[4].name]
    assert [f.name for f in plan.compress] == [files[0].name, files[1].name]


def test_mill_removes_by_the_age_in_the_name() -> None:
    now = datetime(2026, 3, 10, 12, tzinfo=UTC)
    old = _b("2026-03-01T11-59-59.999")  # just over 9 days
    young = _b("2026-03-01T12-00-00.000")  # exactly 9 days: kept (lumberjack's Before)
    plan = mill_plan([young, old], now, max_backups=0, max_age_days=9, compress=False)
    assert plan.remove == [old]
    assert plan.compress == []


def test_mill_does_nothing_when_nothing_is_asked() -> None:
    files = [_b("2020-01-01T00-00-00.000")]
    assert mill_plan(files, datetime(2026, 1, 1, tzinfo=UTC), 0, 0, False).remove == []


def test_unread_backups_are_oldest_first_after_the_stamp_and_prefer_the_plain_file() -> None:
    files = [
        _b("2026-03-03T00-00-00.000", gz=True),
        _b("2026-03-02T00-00-00.000", gz=True),
        _b("2026-03-02T00-00-00.000"),
        _b("2026-03-01T00-00-00.000", gz=True),
    ]
    got = unread_backups(files, "2026-03-01T00-00-00.000")
    assert [(b.stamp, b.compressed) for b in got] == [
        ("2026-03-02T00-00-00.000", False),
        ("2026-03-03T00-00-00.000", True),
    ]
    assert len(unread_backups(files, "")) == 3
