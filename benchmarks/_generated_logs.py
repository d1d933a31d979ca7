"""Labelled log data with exact ground truth, generated from real software on this machine.

Each *system* is one Python package (site-packages of the venv, the standard library under
/usr/lib/python3.11): its ``logger.<level>("... %s ...", ...)`` calls (``%``-style, or
``{}``-style in the few libraries that use it) are found with :mod:`ast`, each distinct format
string is one logging statement, and its ground-truth template is the format string with every
placeholder replaced by ``<*>``. Lines are rendered with realistic values (ids, IPs, paths,
numbers, durations, host and user names, quoted names) and prefixed by a header of one of
several common shapes (ISO-8601, log4j, syslog, Go, nginx, Apache, epoch, glog, Python logging),
one shape per system; the header's loghub-style format is returned too.

Some placeholders become *state* positions: the statement is split into 2-4 statements that
differ only in a word drawn from a small vocabulary (lifecycle states, HTTP methods, protocol
names, verbs), which stays a constant in their templates, as real code writes ``"Connection
started"`` and ``"Connection paused"`` as separate statements. Some duration/size values get an
optional unit or parenthesised size, as a parameter (``<*>``), which must not split a statement.

Everything is derived from a fixed seed and the sorted list of statements, so the data is
reproducible on a machine with the same packages installed; nothing is committed.
"""

from __future__ import annotations

import ast
import json
import random
import re
from dataclasses import dataclass
from pathlib import Path

SITE = Path("/work/main/.venv/lib/python3.11/site-packages")
STDLIB = Path("/usr/lib/python3.11")
LOG_METHODS = {"debug", "info", "warning", "warn", "error", "critical", "exception", "log"}
PLACEHOLDER = re.compile(r"%(?:\([A-Za-z_]\w*\))?[-#0 +]*\d*(?:\.\d+)?[sdrifgexXoc]|\{[^{}]*\}")
WILDCARD = "<*>"
CACHE = Path.home() / ".cache/logradar-bench/generated_statements.json"
MIN_STATEMENTS = 12
MAX_STATEMENTS = 120

STATES = [
    ["started", "stopped", "paused", "resumed"],
    ["GET", "POST", "PUT", "DELETE"],
    ["tcp", "udp", "http", "https"],
    ["opened", "closed", "reset"],
    ["created", "updated", "deleted"],
    ["accepted", "rejected"],
    ["read", "write"],
]
WORDS = ["alice", "bob", "carol", "dave", "erin", "mallory", "trent", "peggy", "victor"]
HOSTS = ["db-replica", "web", "cache-node", "worker", "api-gw", "kafka-broker"]
DIRS = ["/var/lib/app", "/tmp", "/srv/data", "/home/user/.cache", "/etc/app", "/opt/tool"]
EXTS = [".json", ".log", ".db", ".yaml", ".tar.gz", ""]
NAMES = ["config", "index", "session", "main", "backup", "snapshot", "cert", "queue"]


@dataclass
class GeneratedSystem:
    system: str
    log_format: str
    lines: list[str]
    contents: list[str]
    event_ids: list[str]
    templates: list[str]


# Extraction ---------------------------------------------------------------------------------
def _logger_name(node: ast.expr) -> bool:
    name = ""
    if isinstance(node, ast.Name):
        name = node.id
    elif isinstance(node, ast.Attribute):
        name = node.attr
    elif isinstance(node, ast.Call):
        f = node.func
        name = f.attr if isinstance(f, ast.Attribute) else getattr(f, "id", "")
    return "log" in name.lower()


def _format_strings(source: str) -> list[str]:
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return []
    out = []
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        if node.func.attr not in LOG_METHODS or not _logger_name(node.func.value):
            continue
        args = node.args[1:] if node.func.attr == "log" else node.args
        if not args or not isinstance(args[0], ast.Constant) or not isinstance(args[0].value, str):
            continue
        out.append(args[0].value)
    return out


def _usable(fmt: str) -> bool:
    """One line, some constant words, no pure-placeholder statement, no %% escapes."""
    if "\n" in fmt or "%%" in fmt or "{{" in fmt or len(fmt) > 200:
        return False
    constant = PLACEHOLDER.sub(" ", fmt)
    words = re.findall(r"[A-Za-z]{2,}", constant)
    return len(words) >= 2


def extract(root: Path, package: str) -> list[str]:
    """Distinct usable logging format strings of one package, sorted."""
    found: set[str] = set()
    base = root / package
    files = sorted(base.rglob("*.py")) if base.is_dir() else [base]
    for path in files:
        if "test" in path.parts[-1] or any(p in ("tests", "test") for p in path.parts):
            continue
        try:
            source = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        found.update(f.strip() for f in _format_strings(source) if _usable(f.strip()))
    return sorted(found)


def systems(min_statements: int = MIN_STATEMENTS) -> dict[str, list[str]]:
    """Every package (site-packages and the standard library) with enough statements.

    The extraction (a minute or two of ``ast`` parsing) is cached in :data:`CACHE`, keyed by
    the package directories and their modification times.
    """
    key = [
        [str(e), e.stat().st_mtime]
        for r in (SITE, STDLIB)
        if r.is_dir()
        for e in sorted(r.iterdir())
    ]
    if CACHE.exists():
        cached = json.loads(CACHE.read_text())
        if cached.get("key") == key and cached.get("min") == min_statements:
            return cached["systems"]
    out: dict[str, list[str]] = {}
    for root, prefix in ((SITE, ""), (STDLIB, "stdlib.")):
        if not root.is_dir():
            continue
        for entry in sorted(root.iterdir()):
            name = entry.name.removesuffix(".py")
            if not (entry.is_dir() or entry.suffix == ".py") or "." in name or name == "logradar":
                continue
            if name.startswith("_") or name in ("site-packages", "test", "idlelib"):
                continue
            fmts = extract(root, entry.name)
            if len(fmts) >= min_statements:
                out[prefix + name] = fmts
    CACHE.parent.mkdir(parents=True, exist_ok=True)
    CACHE.write_text(json.dumps({"key": key, "min": min_statements, "systems": out}))
    return out


# Values -------------------------------------------------------------------------------------
def _value(kind: str, rng: random.Random) -> str:
    if kind == "int":
        return str(rng.choice([rng.randint(0, 9), rng.randint(10, 999), rng.randint(1000, 10**7)]))
    if kind == "float":
        return f"{rng.uniform(0, 1000):.{rng.choice([1, 2, 3])}f}"
    if kind == "ip":
        ip = ".".join(str(rng.randint(1, 254)) for _ in range(4))
        return ip + (f":{rng.randint(1024, 65535)}" if rng.random() < 0.4 else "")
    if kind == "path":
        return f"{rng.choice(DIRS)}/{rng.choice(NAMES)}{rng.randint(0, 99)}{rng.choice(EXTS)}"
    if kind == "host":
        return f"{rng.choice(HOSTS)}-{rng.randint(1, 40)}"
    if kind == "user":
        return rng.choice(WORDS)
    if kind == "uuid":
        a, b, c, d, e = (rng.getrandbits(b) for b in (32, 16, 16, 16, 48))
        return f"{a:08x}-{b:04x}-{c:04x}-{d:04x}-{e:012x}"
    if kind == "hex":
        return f"0x{rng.getrandbits(32):08x}"
    if kind == "duration":
        unit = rng.choice(["ms", "s", " ms", " seconds"])
        return f"{rng.uniform(0, 500):.{rng.choice([0, 1, 3])}f}{unit}"
    if kind == "size":
        size = f"{rng.randint(1, 4096)} {rng.choice(['KB', 'MB', 'bytes'])}"
        return size if rng.random() < 0.5 else f"{rng.randint(1, 99)} ({size})"
    if kind == "quoted":  # the quotes of a %r are syntax: the template keeps them
        return rng.choice(NAMES + WORDS) + rng.choice(["", "_v2", "-old"])
    if kind == "id":
        return f"{rng.choice(['job', 'req', 'task', 'blk'])}_{rng.randint(1, 10**6)}"
    raise ValueError(kind)


_KINDS = ["int", "float", "ip", "path", "host", "user", "uuid", "hex", "duration", "size", "id"]


def _slot_kind(conversion: str, rng: random.Random) -> str:
    if conversion.endswith(("d", "i")):
        return "int"
    if conversion.endswith(("f", "g", "e")):
        return "float"
    if conversion.endswith("x"):
        return "hex"
    if conversion.endswith("r"):
        return rng.choice(["quoted", "quoted", "int", "path"])
    return rng.choice(_KINDS)


# Headers ------------------------------------------------------------------------------------
def _header(shape: str, t: float, rng: random.Random, component: str) -> tuple[str, str]:
    """(header text, loghub-style format of header + ``<Content>``) for one line."""
    import datetime as dt

    d = dt.datetime(2024, 1, 1, tzinfo=dt.UTC) + dt.timedelta(seconds=t)
    level = rng.choice(["INFO", "INFO", "INFO", "WARN", "ERROR", "DEBUG"])
    ms = d.microsecond // 1000
    if shape == "iso":
        head = f"{d:%Y-%m-%dT%H:%M:%S}.{ms:03d}Z {level} [{component}] "
        return head, r"<Time> <Level> \[<Component>\] <Content>"
    if shape == "log4j":
        head = f"{d:%Y-%m-%d %H:%M:%S},{ms:03d} {level:<5} {component}: "
        return head, "<Date> <Time> <Level> <Component>: <Content>"
    if shape == "syslog":
        host, pid = f"host{rng.randint(1, 3)}", rng.randint(100, 9999)
        head = f"{d:%b} {d.day:>2} {d:%H:%M:%S} {host} {component}[{pid}]: "
        return head, r"<Month> <Day> <Time> <Host> <Component>\[<Pid>\]: <Content>"
    if shape == "go":
        head = f"{d:%Y/%m/%d %H:%M:%S} "
        return head, "<Date> <Time> <Content>"
    if shape == "nginx":
        head = f"{d:%Y/%m/%d %H:%M:%S} [{level.lower()}] {rng.randint(1, 99)}#0: "
        return head, r"<Date> <Time> \[<Level>\] <Pid>#<Tid>: <Content>"
    if shape == "apache":
        when = f"{d:%a %b %d %H:%M:%S}.{d.microsecond:06d} {d:%Y}"
        head = f"[{when}] [{component}:{level.lower()}] [pid {rng.randint(100, 9999)}] "
        return head, r"\[<Time>\] \[<Component>:<Level>\] \[pid <Pid>\] <Content>"
    if shape == "epoch":
        head = f"{1704067200 + t:.3f} {level} "
        return head, "<Time> <Level> <Content>"
    if shape == "glog":
        pid, where = rng.randint(1, 9999), f"{component}.go:{rng.randint(10, 999)}"
        head = f"{level[0]}{d:%m%d %H:%M:%S}.{d.microsecond:06d} {pid:>5} {where}] "
        return head, r"<Header> <Time> <Pid> <File>\] <Content>"
    if shape == "clock":
        head = f"{d:%H:%M:%S}.{ms:03d} {level} "
        return head, "<Time> <Level> <Content>"
    if shape == "python":
        head = f"{level}:{component}:"
        return head, "<Level>:<Component>:<Content>"
    raise ValueError(shape)


SHAPES = ["iso", "log4j", "syslog", "go", "nginx", "apache", "epoch", "glog", "clock", "python"]


# Rendering ----------------------------------------------------------------------------------
@dataclass
class _Statement:
    event: str
    parts: list[str]
    """Constant text between slots (``len(kinds) + 1`` pieces)."""
    kinds: list[str]

    @property
    def template(self) -> str:
        return WILDCARD.join(self.parts)


def _statements(system: str, fmts: list[str], rng: random.Random) -> list[_Statement]:
    out: list[_Statement] = []
    for k, fmt in enumerate(
        fmts[:MAX_STATEMENTS]
        if len(fmts) <= MAX_STATEMENTS
        else sorted(rng.sample(fmts, MAX_STATEMENTS))
    ):
        convs = PLACEHOLDER.findall(fmt)
        kinds = [_slot_kind(c, rng) for c in convs]
        pieces = PLACEHOLDER.split(fmt)
        for i, kind in enumerate(kinds):
            if kind == "quoted":
                pieces[i], pieces[i + 1] = pieces[i] + "'", "'" + pieces[i + 1]
        state_slot = None
        if convs and rng.random() < 0.25:
            # a %s surrounded by spaces (a word position) becomes 2-4 constant states
            options = [
                i
                for i, c in enumerate(convs)
                if c.endswith("s") or c == "{}"
                if (pieces[i] == "" or pieces[i].endswith(" "))
                and (pieces[i + 1] == "" or pieces[i + 1].startswith((" ", ":", ",")))
            ]
            if options:
                state_slot = rng.choice(options)
        if state_slot is None:
            out.append(_Statement(f"{system}:E{k}", pieces, kinds))
            continue
        vocab = rng.choice(STATES)
        for word in rng.sample(vocab, rng.randint(2, len(vocab))):
            parts = [*pieces[:state_slot], pieces[state_slot] + word + pieces[state_slot + 1]]
            parts += pieces[state_slot + 2 :]
            kept = kinds[:state_slot] + kinds[state_slot + 1 :]
            out.append(_Statement(f"{system}:E{k}:{word}", parts, kept))
    # statements whose templates are equal are one event (indistinguishable by text)
    first: dict[str, str] = {}
    for s in out:
        s.event = first.setdefault(s.template, s.event)
    return out


def generate(system: str, fmts: list[str], n_lines: int = 2000, seed: int = 18) -> GeneratedSystem:
    """``n_lines`` labelled lines of ``system`` (deterministic for a seed)."""
    rng = random.Random(f"{seed}:{system}")
    stmts = _statements(system, fmts, rng)
    weights = [1 / (r + 1) ** 0.8 for r in range(len(stmts))]
    rng.shuffle(weights)
    shape = SHAPES[sum(map(ord, system)) % len(SHAPES)]
    components = [system.split(".")[-1], f"{system.split('.')[-1]}.core", "worker"]
    lines, contents, events, templates = [], [], [], []
    t = rng.uniform(0, 3e7)
    log_format = ""
    for s in rng.choices(stmts, weights, k=n_lines):
        text = s.parts[0]
        for kind, part in zip(s.kinds, s.parts[1:], strict=True):
            text += _value(kind, rng) + part
        text = text.strip()
        t += rng.expovariate(5.0)
        head, log_format = _header(shape, t, rng, rng.choice(components))
        lines.append(head + text)
        contents.append(text)
        events.append(s.event)
        templates.append(s.template.strip())
    return GeneratedSystem(system, log_format, lines, contents, events, templates)
