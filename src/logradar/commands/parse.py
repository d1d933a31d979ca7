"""``logradar parse`` and ``logradar patterns``: template mining on a log file.

Both read the file block by block (bounded memory, invalid UTF-8 replaced). ``parse`` splits,
masks and mines every line once, spools the rows to a temporary Arrow file and then writes
every line with its *final* template, so lines of one statement share one id even if the
template generalized later.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:  # imported where used: `logradar --help` must stay fast
    import pyarrow as pa
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    from logradar.parse.formats import LogFormat
    from logradar.parse.templates import TemplateMiner

#: Files smaller than this get no progress bar.
PROGRESS_BYTES = 16 * 1024 * 1024
#: Output formats of ``parse -o``, by file extension (compared case-insensitively).
OUTPUT_FORMATS = (".csv", ".parquet")

FILE = click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
LOG_FORMAT = click.option(
    "--log-format",
    "log_format",
    default=None,
    help="Header format, e.g. '<Date> <Time> <Level> <Component>: <Content>', 'json[:field]', "
    "'syslog' or 'line' (the whole line is the message); default: detected from the lines.",
)
MAX_TEMPLATES = click.option(
    "--max-templates", default=50_000, show_default=True, type=click.IntRange(min=1)
)


def _compile(log_format: str | None) -> LogFormat:
    from logradar.parse.formats import LogFormat

    try:
        return LogFormat.compile(log_format)
    except ValueError as e:
        raise click.BadParameter(str(e), param_hint="--log-format") from None


@contextmanager
def _progress(file: Path, label: str) -> Iterator[Callable[[int], None]]:
    """Yield ``advance(nbytes)``; shows a rich progress bar on stderr for large files."""
    from rich.console import Console
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn

    size = file.stat().st_size
    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        transient=True,
        disable=size < PROGRESS_BYTES,
    )
    with progress:
        task = progress.add_task(label, total=size)
        yield lambda n: progress.advance(task, n)


def _batches(file: Path, fmt: LogFormat, label: str) -> Iterator[tuple[pa.Table, pa.Array]]:
    """Split tables (level read from the message where the header has none) with their
    masked forms: each line is split and masked once."""
    import pyarrow.compute as pc

    from logradar.parse.levels import detect_level
    from logradar.parse.masking import mask_forms
    from logradar.parse.reader import iter_line_batches

    with _progress(file, label) as advance:
        for lines in iter_line_batches(file):
            table = fmt.split(lines, detect_levels=False)
            masked = mask_forms(table["message"])
            level = pc.coalesce(table["level"], detect_level(table["message"], masked))
            yield table.set_column(table.schema.get_field_index("level"), "level", level), masked
            advance((pc.sum(pc.binary_length(lines)).as_py() or 0) + len(lines))


def _learn(file: Path, fmt: LogFormat, max_templates: int) -> TemplateMiner:
    from logradar.parse.templates import TemplateMiner

    miner = TemplateMiner(max_templates=max_templates)
    for _, masked in _batches(file, fmt, "learning"):
        miner.parse(masked)
    return miner


def _output_format(ctx: click.Context, param: click.Parameter, output: Path) -> Path:
    """Refuse an extension we cannot write, before any work."""
    if output.suffix.lower() not in OUTPUT_FORMATS:
        raise click.BadParameter(
            f"cannot write {output.suffix or 'a file without extension'!r}: "
            f"name it with one of {', '.join(OUTPUT_FORMATS)}"
        )
    return output


@click.command("parse")
@FILE
@LOG_FORMAT
@click.option(
    "--output",
    "-o",
    required=True,
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    callback=_output_format,
    help="Output file, .csv or .parquet (the same columns in both).",
)
@MAX_TEMPLATES
@click.option(
    "--params",
    is_flag=True,
    help="Add ParameterList: the values of each line's <*> (a JSON list in CSV).",
)
def parse_command(
    file: Path, log_format: str | None, output: Path, max_templates: int, params: bool
) -> None:
    """Parse FILE: one output row per line with LineId, EventId and EventTemplate.

    One pass splits, masks and mines each line once and spools the rows with their
    provisional template ids to a temporary Arrow file; the second pass maps every id to the
    template it finally became (so lines of one statement share one id) and writes.
    """
    import pyarrow as pa

    from logradar.parse.templates import TemplateMiner

    fmt = _compile(log_format)
    miner = TemplateMiner(max_templates=max_templates)
    writer = None
    lines = 0
    with tempfile.TemporaryDirectory(prefix="logradar-parse-") as tmp:
        spool_path = Path(tmp) / "spool.arrow"
        spool = None
        for table, masked in _batches(file, fmt, "parsing"):
            table = table.append_column("EventId", miner.parse(masked))
            if spool is None:
                spool = pa.ipc.new_file(spool_path, table.schema)
            spool.write_table(table)
        if spool is not None:
            spool.close()
            with pa.memory_map(str(spool_path)) as source:
                reader = pa.ipc.open_file(source)
                for k in range(reader.num_record_batches):
                    out = _final(miner, reader.get_batch(k), lines + 1, params)
                    lines += out.num_rows
                    if writer is None:
                        writer = _writer(output, out.schema)
                    writer.write_table(out)
    try:
        if writer is None:  # no lines: the header alone, with the columns lines would have
            split = fmt.split(pa.array([], pa.string()), detect_levels=False)
            head = [("LineId", pa.int64()), ("EventId", pa.int64()), ("EventTemplate", pa.string())]
            if params:
                head.append(("ParameterList", pa.string()))
            writer = _writer(output, pa.schema([*head, *split.schema]))
    finally:
        if writer is not None:
            writer.close()
    active = sum(t.replaced_by is None for t in miner.templates())
    click.echo(f"{lines} lines, {active} templates -> {output}", err=True)


def _final(miner: TemplateMiner, batch: pa.RecordBatch, first: int, params: bool) -> pa.Table:
    """Output rows of a spooled batch: final ids, template texts, optional parameters."""
    import pyarrow as pa
    import pyarrow.compute as pc

    table = pa.Table.from_batches([batch])
    message = table["message"]
    ids = miner.resolve_ids(table["EventId"])
    unknown = pc.is_null(ids)
    if pc.any(unknown).as_py():  # evicted templates: mine those lines again
        ids = pc.replace_with_mask(ids, unknown, miner.parse(message.filter(unknown)))
    unique = pc.unique(ids)
    texts = pa.array([miner.template(i) for i in unique.to_pylist()], pa.string())
    columns = {
        "LineId": pa.array(range(first, first + len(ids)), pa.int64()),
        "EventId": ids,
        "EventTemplate": texts.take(pc.index_in(ids, value_set=unique)),
    }
    if params:
        values = miner.params(message, ids)
        columns["ParameterList"] = pa.array(
            [json.dumps(v, ensure_ascii=False) for v in values.to_pylist()], pa.string()
        )
    rest = {name: table[name] for name in table.column_names if name != "EventId"}
    return pa.table({**columns, **rest})


def _writer(output: Path, schema: pa.Schema) -> pq.ParquetWriter | pacsv.CSVWriter:
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    try:
        if output.suffix.lower() == ".parquet":
            return pq.ParquetWriter(output, schema, compression="zstd")
        return pacsv.CSVWriter(output, schema)
    except OSError as e:
        raise click.FileError(str(output), hint=str(e)) from None


@click.command("patterns")
@FILE
@LOG_FORMAT
@click.option("--top", default=50, show_default=True, type=click.IntRange(min=1))
@MAX_TEMPLATES
def patterns_command(file: Path, log_format: str | None, top: int, max_templates: int) -> None:
    """Print the templates of FILE with their line counts, most frequent first."""
    miner = _learn(file, _compile(log_format), max_templates)
    active = [t for t in miner.templates() if t.replaced_by is None]
    active.sort(key=lambda t: (-t.count, t.id))
    click.echo(f"{'count':>10}  {'id':>6}  template")
    for t in active[:top]:
        click.echo(f"{t.count:>10}  {t.id:>6}  {t.text}")
    if len(active) > top:
        click.echo(f"... {len(active) - top} more templates", err=True)
