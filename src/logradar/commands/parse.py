"""``logradar parse`` and ``logradar patterns``: template mining on a log file.

Both read the file block by block (bounded memory, invalid UTF-8 replaced). ``parse`` makes
two passes: the first learns the templates, the second writes every line with its *final*
template, so lines of one statement share one id even if the template generalized later.
"""

from __future__ import annotations

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
    help="Header format, e.g. '<Date> <Time> <Level> <Component>: <Content>', 'json[:field]' "
    "or 'syslog'; default: the whole line is the message.",
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


def _batches(file: Path, fmt: LogFormat, label: str) -> Iterator[pa.Table]:
    import pyarrow.compute as pc

    from logradar.parse.reader import iter_line_batches

    with _progress(file, label) as advance:
        for lines in iter_line_batches(file):
            yield fmt.split(lines)
            advance((pc.sum(pc.binary_length(lines)).as_py() or 0) + len(lines))


def _learn(file: Path, fmt: LogFormat, max_templates: int) -> TemplateMiner:
    from logradar.parse.templates import TemplateMiner

    miner = TemplateMiner(max_templates=max_templates)
    for table in _batches(file, fmt, "learning"):
        miner.parse(table["message"])
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
def parse_command(file: Path, log_format: str | None, output: Path, max_templates: int) -> None:
    """Parse FILE: one output row per line with LineId, EventId and EventTemplate."""
    import pyarrow as pa
    import pyarrow.compute as pc

    fmt = _compile(log_format)
    miner = _learn(file, fmt, max_templates)
    writer = None
    line_id = 1
    try:
        for table in _batches(file, fmt, "writing"):
            message = table["message"]
            ids = miner.match(message)
            unknown = pc.is_null(ids)
            if pc.any(unknown).as_py():  # only after a cache eviction
                ids = pc.replace_with_mask(ids, unknown, miner.parse(message.filter(unknown)))
            unique = pc.unique(ids)
            texts = pa.array([miner.template(i) for i in unique.to_pylist()], pa.string())
            out = pa.table(
                {
                    "LineId": pa.array(range(line_id, line_id + len(ids)), pa.int64()),
                    "EventId": ids,
                    "EventTemplate": texts.take(pc.index_in(ids, value_set=unique)),
                    **{name: table[name] for name in table.column_names},
                }
            )
            line_id += len(ids)
            if writer is None:
                writer = _writer(output, out.schema)
            writer.write_table(out)
        if writer is None:  # no lines: the header alone, with the columns lines would have
            fields = fmt.split(pa.array([], pa.string())).schema
            ids_type = miner.match(pa.array([], pa.string())).type
            head = [("LineId", pa.int64()), ("EventId", ids_type), ("EventTemplate", pa.string())]
            writer = _writer(output, pa.schema([*head, *fields]))
    finally:
        if writer is not None:
            writer.close()
    active = sum(t.replaced_by is None for t in miner.templates())
    click.echo(f"{line_id - 1} lines, {active} templates -> {output}", err=True)


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
