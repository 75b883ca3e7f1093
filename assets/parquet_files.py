"""Parquet tables: the schema checked first (only text, numbers, dates and lists of codes are read),
then row batches, text columns dictionary-encoded so that their size once decoded is known before
they are decoded. Every value becomes the text the contract reads."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from assets.config import contract
from assets.table_files import (
    BATCH_CHARACTERS,
    BATCH_ROWS,
    PackRejected,
    TableFile,
    check_header,
    check_size,
    over_limit,
    pack_limits,
    safe_column_label,
)


def open_parquet(path: Path, table: str) -> TableFile:
    check_size(path, path.name, table)
    try:
        parquet = pq.ParquetFile(path)
    except Exception as error:
        raise PackRejected("unreadable", f"{path.name} could not be read as PARQUET: {type(error).__name__}.",
                           table) from error
    schema = parquet.schema_arrow
    header = check_header(list(schema.names), path.name, table)
    if parquet.metadata.num_rows > pack_limits()["rows_per_table"]:
        raise over_limit(f"{path.name} has", "rows", "rows_per_table", table=table)
    for position, column in enumerate(schema, start=1):
        if text_conversion(column.type) is None:
            raise PackRejected("unreadable", f"{path.name}: {safe_column_label(column.name, position)} is of a type "
                               f"({column.type}) that cannot be read as the contract's text, numbers or dates.",
                               table)

    text_columns = [field.name for field in schema if text_conversion(field.type) == "text"]

    def read_rows(table_file: TableFile) -> Iterator[pa.RecordBatch]:
        try:
            # Text columns are read dictionary-encoded, so that their size once decoded is known (and a
            # value over the length limit refused) before it is decoded, a slice at a time.
            encoded = pq.ParquetFile(path, read_dictionary=text_columns)
            for batch in encoded.iter_batches(batch_size=BATCH_ROWS):
                for piece in slices_within(batch, table_file):
                    yield pa.record_batch([as_text(column) for column in piece.columns], names=table_file.columns)
        except pa.ArrowException as error:
            raise PackRejected("unreadable", f"{path.name} could not be read as PARQUET: {type(error).__name__}.",
                               table) from error

    return TableFile(table, path.name, header, read_rows)


def slices_within(batch: pa.RecordBatch, table_file: TableFile) -> Iterator[pa.RecordBatch]:
    """The batch in slices of at most BATCH_CHARACTERS once decoded; a dictionary value over the
    cell length limit refuses the file before anything is decoded."""
    row_chars = np.zeros(batch.num_rows, dtype=np.int64)
    for position, column in enumerate(batch.columns, start=1):
        if not pa.types.is_dictionary(column.type):
            continue
        lengths = pc.fill_null(pc.utf8_length(column.dictionary), 0)
        if not len(lengths):
            continue  # every value blank
        if pc.max(lengths).as_py() > table_file.field_chars:
            raise PackRejected("over_limit", f"{table_file.source_file}: "
                               f"{safe_column_label(table_file.header[position - 1], position)} holds a value "
                               f"longer than {table_file.field_chars:,} characters (the limit "
                               f"{table_file.limits_section}.field_chars in config/limits.yaml).", table_file.table)
        indices = pc.fill_null(column.indices, 0)
        row_chars += lengths.to_numpy(zero_copy_only=False)[indices.to_numpy(zero_copy_only=False)]
    start, total = 0, 0
    for row, chars in enumerate(row_chars):
        if total + chars > BATCH_CHARACTERS and row > start:
            yield batch.slice(start, row - start)
            start, total = row, 0
        total += chars
    if start < batch.num_rows:
        yield batch.slice(start)


def text_conversion(kind: pa.DataType) -> str | None:
    if pa.types.is_dictionary(kind):
        return text_conversion(kind.value_type)
    if pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_null(kind):
        return "text"
    if pa.types.is_integer(kind) or pa.types.is_boolean(kind) or pa.types.is_decimal(kind):
        return "cast"
    if pa.types.is_floating(kind):
        return "float"
    if pa.types.is_timestamp(kind) or pa.types.is_date(kind):
        return "date"
    if (pa.types.is_list(kind) or pa.types.is_large_list(kind)) and text_conversion(kind.value_type) == "text":
        return "list"  # a list of codes, such as harm_types, joined with the contract's separator
    return None


def as_text(column: pa.Array) -> pa.Array:
    """A Parquet column as the text the contract reads; nulls are blank."""
    if pa.types.is_dictionary(column.type):
        column = column.dictionary_decode()
    how = text_conversion(column.type)
    if how == "date":
        is_timestamp = pa.types.is_timestamp(column.type)
        text = pc.strftime(column, format="%Y-%m-%d") if is_timestamp else column.cast(pa.string())
    elif how == "float":
        whole = pc.and_(pc.is_finite(column), pc.equal(pc.floor(column), column))
        as_int = pc.cast(pc.if_else(whole, column, 0), pa.int64(), safe=False).cast(pa.string())
        text = pc.if_else(whole, as_int, column.cast(pa.string()))
        text = pc.if_else(pc.is_nan(column), pa.scalar(None, pa.string()), text)
    elif how == "list":
        text = pc.binary_join(column, contract()["tables"]["cases"]["columns"]["harm_types"]["separator"])
    elif how == "cast":
        text = column.cast(pa.string())
        if pa.types.is_boolean(column.type):
            text = pc.utf8_capitalize(text)
    else:
        text = column.cast(pa.string())
    return pc.fill_null(text, "")
