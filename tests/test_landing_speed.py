"""The per-value and sort-based shortcuts of the landing path give exactly what the general rules give.

Each shortcut (a column trimmed once per distinct value, statuses normalized once per value, repeated
pairs found by sorting the pair hashes, the timestamp text not trimmed twice) is compared with the
general rule on messy values, and a whole messy day file is validated both ways: the orders, the
quarantined rows (lines, fields, reasons, raw) and the report must be equal.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import random

import numpy as np
import polars as pl
import pytest

from spd_assets.core.landing import distinct, exports, files, pairs, statuses, timestamps, validate
from spd_assets.core.landing import mapping as maps
from spd_assets.core.landing.money import detect_decimal
from spd_assets.core.landing.statuses import DEFAULT_EXCLUDED, excluded_rows, is_excluded
from spd_assets.core.landing.timestamps import trimmed_column, trimmed_text, with_when

DAY = dt.date(2026, 3, 2)
PADDED = [
    "S1",
    " S1",
    "S1 ",
    "\tS1\t",
    "S1\u00a0",  # a non-breaking space
    "\u3000S1",  # an ideographic space
    "",
    "   ",
    None,
    "Köln",
    " Köln ",
    "北京",
    "a\nb",  # a quoted newline inside, not at the end
    "a\n",
    "S 1",
]
STATUSES = [
    "paid",
    "Cancelled",
    " cancelled ",
    "CANCELED",
    "wc-refunded",
    "WC-Refunded",
    "voided",
    "Failed",
    "partially refunded",
    "partially-refunded",
    "refunded partial",
    "",
    " ",
    None,
    "fulfilled",
    "annulé",
    "cancelled\n",
]
WHEN = [
    "2026-03-02 10:15:00",
    "2026-03-02T23:59:59",
    " 2026-03-02 10:15:00 ",
    "2026-03-02",
    "2026-03-02 10:15:00 -0500",
    "2026-03-02T10:15:00Z",
    "2026-03-02 10:15:00 Europe/Berlin",
    "2026-03-01 23:00:00",
    "2026-02-30 10:00:00",
    "",
    " ",
    None,
    "garbage",
    "2026-03-02 10:15",
]


def _general_trim(frame: pl.DataFrame, col: str) -> pl.Series:
    return frame.select(trimmed_text(col, frame.schema[col])).to_series()


@pytest.mark.parametrize("distinct", [10, 5_000])  # few values: once per value; many: row by row
def test_a_column_is_trimmed_as_the_general_rule_trims_it(distinct) -> None:
    rng = random.Random(distinct)
    pool = PADDED + [f" v{i} " if i % 3 else f"v{i}" for i in range(distinct)]
    frame = pl.DataFrame({"c": [rng.choice(pool) for _ in range(20_000)]}, schema={"c": pl.String})
    assert trimmed_column(frame, "c").equals(_general_trim(frame, "c"))
    clean = frame.filter(pl.col("c").str.strip_chars() == pl.col("c"), pl.col("c") != "")
    assert trimmed_column(clean, "c").equals(_general_trim(clean, "c"))


def test_a_typed_column_is_trimmed_as_its_text() -> None:
    frame = pl.DataFrame({"n": [1, None, 3], "f": [1.5, 2.0, None], "d": [DAY, None, DAY]})
    for col in frame.columns:
        assert trimmed_column(frame, col).equals(_general_trim(frame, col))


@pytest.mark.parametrize("excluded", [DEFAULT_EXCLUDED, ("partially_refunded", "annulé"), ()])
def test_statuses_are_excluded_as_the_general_rule_excludes_them(excluded) -> None:
    rng = random.Random(7)
    for pool in (STATUSES, STATUSES + [f"status {i}" for i in range(3_000)]):
        status = pl.Series("s", [rng.choice(pool) for _ in range(10_000)], dtype=pl.String)
        general = pl.select(is_excluded(pl.lit(status), excluded)).to_series()
        assert excluded_rows(status, excluded).equals(general)
    assert excluded_rows(pl.Series("s", [], dtype=pl.String), excluded).to_list() == []


def _general_shared(hashes: pl.Series, valid: pl.Series) -> pl.Series:
    return pl.select(pl.when(valid).then(hashes).is_duplicated() & valid).to_series()


def test_shared_pair_hashes_are_found_by_sorting_as_by_is_duplicated() -> None:
    rng = np.random.default_rng(3)
    for n, space in ((0, 10), (1, 10), (5_000, 1_000), (5_000, 1 << 62)):
        hashes = pl.Series(rng.integers(0, space, n, dtype=np.uint64), dtype=pl.UInt64)
        for valid in (
            pl.Series(rng.random(n) < 0.8),
            pl.Series([True] * n, dtype=pl.Boolean),
            pl.Series([False] * n, dtype=pl.Boolean),
        ):
            assert pairs._shared(hashes, valid).equals(_general_shared(hashes, valid))


@pytest.mark.parametrize("timezone", [None, "America/New_York"])
def test_timestamps_from_trimmed_text_parse_as_from_the_cell(timezone) -> None:
    rng = random.Random(11)
    frame = pl.DataFrame({"w": [rng.choice(WHEN) for _ in range(3_000)]}, schema={"w": pl.String})
    text = frame.with_columns(trimmed_column(frame, "w").alias("t"))
    fast = with_when(text, "t", pl.String, "x_", timezone, trimmed=True).drop("w", "t")
    assert fast.equals(with_when(frame, "w", pl.String, "x_", timezone).drop("w"))
    no_t = frame.filter(~pl.col("w").str.contains("T", literal=True))  # the separator replace skipped
    text = no_t.with_columns(trimmed_column(no_t, "w").alias("t"))
    fast = with_when(text, "t", pl.String, "x_", timezone, trimmed=True).drop("w", "t")
    assert fast.equals(with_when(no_t, "w", pl.String, "x_", timezone).drop("w"))


def _messy_rows(n: int, seed: int, when_rate: float = 0.1) -> list[list[str | None]]:
    """Mostly plain order lines; one in ten or so has a messy field of some kind."""
    rng = random.Random(seed)
    qty = ["1", "2", " 3 ", "two", "", "1.5", "-1", "0", "1e0", " ", None]
    price = ["2.50", " 2.50", "19.99 ", "abc", "", "-1", "nan", "inf", "1e3", "0", None]

    def messy(pool: list, plain: str | None, rate: float = 0.05) -> str | None:
        return rng.choice(pool) if rng.random() < rate else plain

    rows = []
    for i in range(n):
        order = messy(["", " ", None, f" SO-{i // 3} "], f"SO-{i // 3}", 0.02)
        sku = messy(PADDED[:12], f"SKU-{rng.randrange(40)}")
        region = messy(PADDED[:12], rng.choice(["North", "Süd", "East"]))
        q, p = messy(qty, rng.choice(["1", "2"])), messy(price, rng.choice(["2.50", "19.99", "7"]))
        revenue = f"{float(q) * float(p):.2f}" if _num(q, p) else "1"
        revenue = rng.choice([None, "", "5.00", "x", revenue, revenue, revenue])
        when = messy(WHEN, f"2026-03-02 {rng.randrange(24):02d}:{rng.randrange(60):02d}:00", when_rate)
        rows.append([order, when, sku, region, q, p, revenue, rng.choice(STATUSES), rng.choice(PADDED)])
    for i in rng.sample(range(n), n // 50):  # repeated (order_id, sku) pairs, some of them bad rows
        rows.append(list(rows[i]))
    return rows


def _num(*values: str | None) -> bool:
    try:
        return all(np.isfinite(float(v)) for v in values)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return False


def _general(monkeypatch) -> None:
    """The general rules everywhere: no per-value trimming or statuses, is_duplicated for pairs."""
    monkeypatch.setattr(distinct, "has_few_values", lambda _: False)
    monkeypatch.setattr(statuses, "has_few_values", lambda _: False)
    monkeypatch.setattr(pairs, "_shared", _general_shared)
    monkeypatch.setattr(validate, "when_text", lambda frame, col: (_general_trim(frame, col), None))


def _validated_both_ways(monkeypatch, run) -> tuple:
    fast = run()
    with monkeypatch.context() as patch:
        _general(patch)
        general = run()
    return fast, general


def _assert_same(fast: validate.ValidatedDay, general: validate.ValidatedDay) -> None:
    assert fast.orders.equals(general.orders)
    assert fast.quarantine.equals(general.quarantine)
    assert fast.report == general.report


@pytest.mark.parametrize("timezone", [None, "Europe/Berlin"])
def test_a_messy_frame_validates_as_by_the_general_rules(monkeypatch, timezone) -> None:
    cols = ["order_id", "ts", "sku", "region", "qty", "price", "revenue", "status", "note"]
    raw = pl.DataFrame(_messy_rows(6_000, 1), schema=dict.fromkeys(cols, pl.String), orient="row")
    fast, general = _validated_both_ways(
        monkeypatch, lambda: validate.validate_orders(raw, DAY, "orders_2026-03-02.csv", timezone=timezone)
    )
    _assert_same(fast, general)
    expected = {"duplicate order_id and sku", "qty is not a number", "price is negative", "ts does not parse"}
    assert expected <= set(fast.report.problems)  # not vacuous: each kind of problem is there
    assert fast.report.rows_kept > 1_000 and fast.report.rows_cancelled > 100


@pytest.mark.parametrize("timezone", [None, "America/New_York"])
def test_a_day_of_plain_timestamps_validates_as_by_the_general_rules(monkeypatch, timezone) -> None:
    cols = ["order_id", "ts", "sku", "region", "qty", "price", "revenue", "status", "note"]
    rows = _messy_rows(5_000, 3, when_rate=0.0)
    raw = pl.DataFrame(rows, schema=dict.fromkeys(cols, pl.String), orient="row")
    assert timestamps.when_text(raw, "ts")[1] is not None  # the plain path is the one taken
    with_date = raw.with_columns(date=pl.col("ts").str.slice(0, 10), ts=pl.col("ts").str.replace(" ", "T"))
    for frame in (raw, with_date):
        fast, general = _validated_both_ways(
            monkeypatch,
            lambda f=frame: validate.validate_orders(f, DAY, "orders_2026-03-02.csv", timezone=timezone),
        )
        _assert_same(fast, general)
        assert fast.report.rows_kept > 3_000


def test_a_messy_day_file_with_a_date_and_a_ts_loads_as_by_the_general_rules(monkeypatch, tmp_path) -> None:
    cols = ["order_id", "ts", "sku", "region", "qty", "price", "revenue", "status", "note"]
    frame = pl.DataFrame(_messy_rows(8_000, 2), schema=dict.fromkeys(cols, pl.String), orient="row")
    frame = frame.with_columns(
        Date=pl.when(pl.int_range(pl.len()) % 7 == 0)
        .then(pl.lit(" 2026-03-02"))
        .otherwise(pl.lit("2026-03-02"))
    )
    frame.write_csv(tmp_path / "orders_2026-03-02.csv")
    fast, general = _validated_both_ways(monkeypatch, lambda: files.load_day(tmp_path, DAY))
    _assert_same(fast, general)
    assert fast.report.rows_in == 8_000 + 8_000 // 50
    assert fast.quarantine["line"].is_sorted() and fast.quarantine["line"].max() > 8_000


HEADER = "order_id,ts,sku,region,qty,price\n"
FILE_BODIES = {
    "plain": HEADER + "A1,2026-03-02 09:00:00,S1,West,1,2.50\nA2,2026-03-02 09:01:00,S2,East,2,1.00\n",
    "no final newline": HEADER + "A1,2026-03-02 09:00:00,S1,West,1,2.50",
    "crlf": HEADER.replace("\n", "\r\n") + "A1,2026-03-02 09:00:00,S1,West,1,2.50\r\n",
    "quoted newline and blank lines": HEADER
    + 'A1,2026-03-02 09:00:00,S1,"North\nEast",1,2.5\n\n,,,,,\nA2,x,S1,W,1,1\n',
    "utf-8 bom": "\ufeff" + HEADER + "A1,2026-03-02 09:00:00,Süd,West,1,2.50\n",
    "ragged": HEADER + "A1,2026-03-02 09:00:00,S1,West,1,2.50,extra\nA2,2026-03-02 09:00:00,S1,West,1,2.50\n",
    "header only": HEADER,
    "whitespace only": " \n\t\n",
}
BAD_BYTES = {
    "latin-1": (HEADER + "A1,2026-03-02 09:00:00,S\xfcd,West,1,2.50\n").encode("latin-1"),
    "utf-16": (HEADER + "A1,2026-03-02,S1,West,1,2.50\n").encode("utf-16"),
    "nul": HEADER.encode() + b"A1,2026-03-02,S1\x00,West,1,2.50\n",
    "parquet magic": b"PAR1" + HEADER.encode(),
    "semicolons": b"order_id;ts;sku;region;qty;price\nA1;2026-03-02;S1;West;1;2.50\n",
}


def _outcome(run) -> tuple:
    try:
        return ("ok", *run())
    except validate.LandingFileError as exc:
        return ("error", str(exc))


@pytest.mark.parametrize("name", [*FILE_BODIES, *BAD_BYTES])
def test_a_mapped_day_file_reads_as_its_bytes_do(tmp_path, name) -> None:
    path = tmp_path / "orders_2026-03-02.csv"
    path.write_bytes(BAD_BYTES[name] if name in BAD_BYTES else FILE_BODIES[name].encode())
    data = path.read_bytes()
    mapped = _outcome(lambda: files.read_orders_file(path))
    from_bytes = _outcome(lambda: (files._parse_csv(data, str(path)), hashlib.sha256(data).hexdigest()))
    assert mapped[0] == from_bytes[0]
    if mapped[0] == "ok":
        assert mapped[1].equals(from_bytes[1]) and mapped[2] == from_bytes[2]
    else:
        assert mapped[1] == from_bytes[1]


MONEY_TEXT = [
    "24.89",
    " 24.89 ",
    "$1,234.50",
    "1,234.50 USD",
    "USD 12.00",
    "$ 7",
    "-3.10",
    "abc",
    "",
    "   ",
    None,
    "1.2.3",
    "12,00",  # a decimal comma among decimal points: the file fails, both ways alike
    "1,234",  # ambiguous alone
    "€5.00",
    "5\u00a0000.00",
    "1'234.50",
]


def _general_fill_down(frame: pl.DataFrame, fields: list[str], carry: pl.DataFrame | None) -> pl.DataFrame:
    """The fill-down rule on every field, empty or not (the rule before fields never empty were skipped)."""
    marker = "__spd_carry"
    parts = [frame.with_columns(pl.lit(False).alias(marker))]
    if carry is not None and not carry.is_empty():
        parts.insert(0, carry.select("order_id", *fields).with_columns(pl.lit(True).alias(marker)))
    both = pl.concat(parts, how="diagonal_relaxed")
    filled = both.with_columns(pl.col(f).forward_fill().over("order_id") for f in fields)
    return filled.filter(~pl.col(marker)).drop(marker).select(frame.columns)


def _export_rows(n: int, seed: int, money: list[str | None]) -> pl.DataFrame:
    """A Shopify-like export: order-level fields on an order's first line only, money as written."""
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        first = i % 3 == 0
        rows.append(
            {
                "Name": f"#{i // 3}",
                "Created at": "2026-03-02 10:00:00"
                if first
                else rng.choice(["", None, "2026-03-02 11:00:00"]),
                "Lineitem sku": rng.choice(PADDED[:12])
                if rng.random() < 0.05
                else f"SKU-{rng.randrange(30)}",
                "Shipping Country": (rng.choice(["DE", " FR ", "Köln"]) if first else rng.choice(["", None])),
                "Lineitem quantity": rng.choice(["1", "2", " 3", "x"]),
                "Lineitem price": rng.choice(money) if rng.random() < 0.2 else rng.choice(["24.89", "7.00"]),
                "Financial Status": rng.choice(STATUSES) if first else None,
            }
        )
    return pl.DataFrame(rows, schema=dict.fromkeys(rows[0], pl.String))


ONE_FORMAT = [
    "$1,234.50",
    "$ 7",
    " 24.89 ",
    "-3.10",
    "abc",
    "",
    "   ",
    None,
    "USD 12.00",
    "1'234.50",
    "9.999",
]


@pytest.mark.parametrize("money", [["24.89", "7.00", ""], ONE_FORMAT, MONEY_TEXT])
def test_a_mapped_export_loads_as_by_the_general_rules(monkeypatch, tmp_path, money) -> None:
    maps.save(
        maps.Mapping(
            columns={
                "order_id": "Name",
                "date": "Created at",
                "sku": "Lineitem sku",
                "region": "Shipping Country",
                "qty": "Lineitem quantity",
                "price": "Lineitem price",
                "status": "Financial Status",
            }
        ),
        tmp_path / "mapping.toml",
    )
    _export_rows(6_000, 4, money).write_csv(tmp_path / "orders_2026-03-02.csv")
    fast, general = _validated_both_ways(
        monkeypatch, lambda: _outcome(lambda: (files.load_day(tmp_path, DAY),))
    )
    assert fast[0] == general[0]
    if fast[0] == "error":
        assert fast[1] == general[1] and "decimal" in fast[1]
    else:
        _assert_same(fast[1], general[1])
        assert fast[1].report.rows_kept > 3_000 and fast[1].report.rows_quarantined > 100


def test_the_decimal_separator_is_detected_on_distinct_values_as_on_every_row() -> None:
    rng = random.Random(9)
    mapping = maps.Mapping(columns={"price": "p", "revenue": "r"})
    pools = [MONEY_TEXT, ["1,234", "2,500", None], ["1.234,50 €", "12,00", "3,5"], ["7", "", None], []]
    for pool in pools:
        for _ in range(5):
            frame = pl.DataFrame(
                {c: [rng.choice(pool) if pool else None for _ in range(200)] for c in "pr"},
                schema={"p": pl.String, "r": pl.String},
            )
            every_row = frame["p"].drop_nulls().to_list() + frame["r"].drop_nulls().to_list()
            general = _outcome(lambda rows=every_row: (detect_decimal(rows, "f.csv"),))
            assert _outcome(lambda f=frame: (exports.file_decimal(f, mapping, "f.csv"),)) == general


def test_fields_are_filled_down_as_by_the_general_rule() -> None:
    rng = random.Random(13)
    frame = pl.DataFrame(
        {
            "order_id": [f"#{i // 4}" for i in range(400)],
            "date": [rng.choice(["d1", "d2", None]) for _ in range(400)],
            "region": [rng.choice(["DE", "FR"]) for _ in range(400)],  # never empty: skipped
            "status": [None] * 400,
        }
    )
    carry = pl.DataFrame({"order_id": ["#0"], "date": ["d0"], "region": ["NL"], "status": ["paid"]})
    fields = ["date", "region", "status"]
    for c in (None, carry):
        assert exports._fill_down(frame, fields, c).equals(_general_fill_down(frame, fields, c))
        no_empty = frame.with_columns(date=pl.lit("d1"), status=pl.lit("paid"))
        assert exports._fill_down(no_empty, fields, c).equals(_general_fill_down(no_empty, fields, c))


def test_a_day_file_that_cannot_be_mapped_is_read_as_bytes(monkeypatch, tmp_path) -> None:
    path = tmp_path / "orders_2026-03-02.csv"
    path.write_text(FILE_BODIES["plain"])
    expected = files.read_orders_file(path)

    def no_map(*_args, **_kwargs):
        raise OSError(19, "No such device")

    monkeypatch.setattr(files.mmap, "mmap", no_map)
    frame, digest = files.read_orders_file(path)
    assert (
        frame.equals(expected[0]) and digest == expected[1] == hashlib.sha256(path.read_bytes()).hexdigest()
    )
