"""alembix_alembic: the Python half of ``alembix import alembic``.

alembix carries this file inside its binary, writes it to a temporary file
and runs it with the user's own Python (the one that has their Alembic,
SQLAlchemy and database drivers), the working directory being the project
directory.  Only the standard library, ``alembic`` and ``sqlalchemy`` are
imported, plus the database driver a URL needs.  Python 3.8 or newer.

    PYTHON alembix_alembic.py scan      --config PATH [--name SECTION]
    PYTHON alembix_alembic.py render    --config PATH [--name SECTION]
                                        --dialect sqlite|postgresql|mysql
                                        [--scratch-url URL]
                                        [--mysql-flavor mariadb|mysql]
                                        [--include-scan]
    PYTHON alembix_alembic.py upgrade   --config PATH [--name SECTION]
                                        --url URL [--target head|REV]
    PYTHON alembix_alembic.py downgrade --config PATH [--name SECTION]
                                        --url URL --target REV|base

PATH is ``alembic.ini`` or ``pyproject.toml`` (``[tool.alembic]``, Alembic
1.16+); as with ``alembic -c``, the other one of the two is read from the
working directory as well when it exists.  SECTION defaults to "alembic".

Protocol
--------
On success exactly one JSON object and a newline go to stdout, exit code 0.
Nothing else can reach stdout: file descriptor 1 is pointed at stderr while
the helper runs (print() in revision modules, Alembic's messages, even C
code write to stderr) and the answer is written to a saved duplicate.  On
failure a human-readable message goes to stderr (what failed, which file or
revision, then the last lines of the traceback) and the exit code is 2
(also for bad arguments).  A problem with one revision in ``render`` is not
a failure: it is reported inside the JSON.

scan
    Reads the configuration, the literal keyword arguments of every
    ``*.configure(...)`` call in env.py (through ``ast``; env.py is never
    run; online calls, the ones passing ``connection=``, win over offline
    ones) and loads the revisions with Alembic's ScriptDirectory::

      {"config_file", "script_location", "version_locations",
       "sqlalchemy_url" (null if unset), "version_table",
       "version_table_schema", "transaction_per_migration" (null if env.py
       does not say), "alembic_version", "sqlalchemy_version",
       "env_configure": {literal configure() keyword arguments},
       "warnings": [strings, e.g. a non-literal version_table=],
       "revisions": [{"id", "down_revisions", "branch_labels" (the file's
          own), "depends_on" (full ids), "message", "create_date" (text after
          "Create Date:", or null), "path", "upgrade_source",
          "downgrade_source", "upgrade_kind" (normal|empty; "missing" if
          the file has no upgrade at all), "downgrade_kind"
          (normal|empty|raises|missing), "data_dependent_up",
          "data_dependent_down" (reasons, "line N: ..."), "non_transactional"
          (either function uses autocommit_block()), "non_transactional_up",
          "non_transactional_down"}, ...]}

    Revisions are in topological order: each one after all of its
    down_revisions and depends_on, base first, ties broken by create date
    and then id, so the order is stable.

render
    The SQL of every revision, both directions, for one dialect.  First
    offline: one MigrationContext in as_sql mode with literal_binds (and the
    "named" paramstyle, so "%" is not doubled), each revision's upgrade() /
    downgrade() called under Operations.context with its statements
    captured one by one.  Executing a statement with bound parameters on
    op.get_bind() counts as an offline failure (offline mode would drop the
    values).  Then the revisions whose offline rendering raised are
    replayed on the empty scratch database: every upgrade() in order, then
    every downgrade() in reverse order, each in its own transaction,
    capturing what the driver executes with its parameters rendered as
    literals (the driver's own mogrify() for psycopg2/pymysql/MySQLdb).
    Catalog queries, PRAGMA reads, SHOW/DESCRIBE, transaction control and
    version-table statements are left out, in both modes.  The downgrade
    replay stops at a downgrade that raises.  For sqlite without
    --scratch-url a temporary file is used and deleted.  --mysql-flavor
    (default mariadb) picks MySQL's or MariaDB's dialect variant for
    offline rendering.  Output::

      {"dialect", "flavor", "scratch_url" (password hidden, null for the
       temporary SQLite file), "replayed" (bool), "replay_error" (null, or
       why replay could not run at all),
       "revisions": {"<id>": {
          "up":   {"sql", "statements", "source", "error", "offline_error"},
          "down": {...}}},
       "scan": {...}   (only with --include-scan: the scan object, so that
                        one process can do both)}

    ``sql`` is "stmt;\n\nstmt;\n": every statement ends with ";", one blank
    line between statements, "" when there are none (an empty function is
    source "offline" with sql "").  Statements are kept whole (a PL/pgSQL
    $$ body with semicolons and blank lines is one statement);
    ``statements`` is the same list, so nobody needs to split ``sql``.
    ``source`` is "offline", "replay" or "none"; ``error`` (null unless
    source is "none") says why there is no SQL; ``offline_error`` is the
    short reason offline rendering failed, or null.

upgrade / downgrade
    Alembic's own migrations against --url, through a MigrationContext built
    here rather than env.py, with the version table name and schema and the
    transaction_per_migration flag found by scan.  A URL without a driver
    gets the first importable one (psycopg2, psycopg, pg8000 / pymysql,
    MySQLdb, mysqlconnector); if only an async driver is installed
    (asyncpg, aiomysql, asyncmy, aiosqlite) create_async_engine + run_sync
    is used; the same goes for --scratch-url.  Output: {"current": [heads]}.
"""

import argparse
import ast
import asyncio
import datetime
import decimal
import heapq
import importlib
import importlib.util
import inspect as pyinspect
import io
import json
import os
import re
import sys
import tempfile
import traceback
import uuid

REAL_STDOUT = sys.stdout


class HelperError(Exception):
    """A failure of the whole command (exit code 2)."""

    def __init__(self, message, exc=None):
        Exception.__init__(self, message)
        self.message = message
        self.exc = exc


# ---------------------------------------------------------------------------
# small utilities


def _traceback_tail(exc, lines=12):
    text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    tail = text.rstrip("\n").splitlines()[-lines:]
    return "\n".join(tail)


def _exc_summary(exc, limit=600):
    """One line naming the exception; SQLAlchemy's multi-line messages are
    cut at the first line that carries the SQL or the background link."""
    msg = str(exc).strip()
    keep = []
    for line in msg.splitlines():
        if line.startswith("[SQL:") or line.startswith("(Background on"):
            break
        keep.append(line.strip())
    msg = " ".join(x for x in keep if x)
    if len(msg) > limit:
        msg = msg[: limit - 3] + "..."
    name = type(exc).__name__
    return "%s: %s" % (name, msg) if msg else name


def _exc_location(exc, path):
    """'line N' of the deepest traceback frame inside ``path``, or None."""
    if not path:
        return None
    want = os.path.realpath(path)
    line = None
    for frame in traceback.extract_tb(exc.__traceback__):
        try:
            if os.path.realpath(frame.filename) == want:
                line = frame.lineno
        except (OSError, ValueError):
            continue
    return line


def _describe_exc(exc, path=None, limit=600):
    summary = _exc_summary(exc, limit)
    line = _exc_location(exc, path)
    if line is not None:
        summary += " (%s, line %d)" % (os.path.basename(path), line)
    return summary


def _short_reason(exc, path):
    """The first sentence of the exception message, with its location."""
    summary = _exc_summary(exc, 2000)
    m = re.search(r"(?<=[.!?])\s+(?=[A-Z])", summary[40:])
    if m:
        summary = summary[: 40 + m.start()]
    if len(summary) > 300:
        summary = summary[:297] + "..."
    line = _exc_location(exc, path)
    if line is not None:
        summary += " (%s, line %d)" % (os.path.basename(path), line)
    return summary


def _alembic_version():
    try:
        import alembic

        return alembic.__version__
    except Exception:
        return "?"


def _module_available(name):
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


# ---------------------------------------------------------------------------
# configuration


class Project(object):
    """Configuration, script directory and revisions, loaded once."""

    def __init__(self, config_path, section):
        self.config_path = os.path.abspath(config_path)
        self.section = section or "alembic"
        self.warnings = []
        self.cfg = None
        self.script = None
        self.script_location = None
        self.version_locations = []
        self.sqlalchemy_url = None
        self.env_info = None
        self.scripts = []  # Alembic Script objects, topological order
        self.by_id = {}
        self.infos = {}  # id -> dict (scan record + private keys)

    # -- config -----------------------------------------------------------

    def load_config(self):
        from alembic.config import Config

        if not os.path.isfile(self.config_path):
            raise HelperError("config file not found: %s" % self.config_path)

        is_toml = os.path.basename(self.config_path).endswith(".toml")
        params = pyinspect.signature(Config.__init__).parameters
        kwargs = {"ini_section": self.section, "stdout": sys.stderr}
        if "stdout" not in params:
            kwargs.pop("stdout")
        if is_toml:
            if "toml_file" not in params:
                import alembic

                raise HelperError(
                    "%s is a pyproject.toml file, but the installed Alembic %s "
                    "only reads .ini files (pyproject.toml needs Alembic 1.16+)"
                    % (self.config_path, alembic.__version__)
                )
            kwargs["toml_file"] = self.config_path
            # like `alembic -c pyproject.toml`: alembic.ini from the
            # working directory is read too when it exists
            ini = os.path.abspath("alembic.ini")
            if os.path.isfile(ini):
                kwargs["file_"] = ini
        else:
            kwargs["file_"] = self.config_path
            # like `alembic -c alembic.ini`: pyproject.toml from the
            # working directory is read too when it exists
            if "toml_file" in params:
                toml = os.path.abspath("pyproject.toml")
                if os.path.isfile(toml):
                    kwargs["toml_file"] = toml
        try:
            cfg = Config(**kwargs)
            if is_toml:
                data = cfg.toml_alembic_config
                if not data:
                    raise HelperError(
                        "%s has no [tool.alembic] table" % self.config_path
                    )
            elif not cfg.file_config.has_section(self.section):
                if not self._toml_has(cfg, "script_location"):
                    raise HelperError(
                        "%s has no [%s] section" % (self.config_path, self.section)
                    )
        except HelperError:
            raise
        except Exception as exc:
            raise HelperError(
                "cannot read %s: %s" % (self.config_path, _exc_summary(exc)), exc
            )
        self.cfg = cfg

    @staticmethod
    def _toml_has(cfg, name):
        try:
            return name in (cfg.toml_alembic_config or {})
        except Exception:
            return False

    def option(self, name, default=None):
        cfg = self.cfg
        if hasattr(cfg, "get_alembic_option"):
            try:
                value = cfg.get_alembic_option(name, default)
            except Exception:
                value = default
        else:
            if cfg.file_config.has_section(cfg.config_ini_section):
                value = cfg.get_main_option(name, default)
            else:
                value = default
        return value

    def bool_option(self, name):
        cfg = self.cfg
        if hasattr(cfg, "get_alembic_boolean_option"):
            try:
                return bool(cfg.get_alembic_boolean_option(name))
            except Exception:
                return False
        value = self.option(name)
        return str(value).strip().lower() == "true"

    def _legacy_split(self, raw, name):
        """Splitting rules of Alembic releases without path_separator."""
        sep_name = self.option("version_path_separator")
        seps = {"space": " ", "os": os.pathsep, ":": ":", ";": ";", "newline": "\n"}
        if sep_name is not None and name == "version_locations":
            if sep_name not in seps:
                raise HelperError(
                    "invalid version_path_separator %r in %s"
                    % (sep_name, self.config_path)
                )
            return [x.strip() for x in raw.split(seps[sep_name]) if x.strip()]
        if name == "version_locations":
            return [x for x in re.split(r", *| +", raw) if x]
        return [x for x in re.split(r", *| +|:", raw) if x]

    def _paths_option(self, name):
        cfg = self.cfg
        getter = {
            "version_locations": "get_version_locations_list",
            "prepend_sys_path": "get_prepend_sys_paths_list",
        }[name]
        if hasattr(cfg, getter):
            try:
                value = getattr(cfg, getter)()
            except ValueError as exc:
                raise HelperError("%s: %s" % (self.config_path, exc))
            return [x for x in (value or []) if x]
        raw = self.option(name)
        if not raw:
            return []
        if isinstance(raw, list):
            return raw
        return self._legacy_split(raw, name)

    def _resolve_location(self, raw, what):
        """A path from the config: package:dir resource, absolute, or
        relative (to the working directory, as Alembic does, else to the
        directory of the config file)."""
        from alembic import util as alembic_util

        if not os.path.isabs(raw) and ":" in raw and not re.match(r"^[A-Za-z]:[\\/]", raw):
            try:
                path = str(alembic_util.coerce_resource_to_filename(raw))
            except Exception as exc:
                raise HelperError(
                    "cannot resolve %s %r (package:directory form): %s"
                    % (what, raw, _exc_summary(exc)),
                    exc,
                )
            return os.path.abspath(path)
        if os.path.isabs(raw):
            return os.path.normpath(raw)
        from_cwd = os.path.abspath(raw)
        from_cfg = os.path.normpath(os.path.join(os.path.dirname(self.config_path), raw))
        if os.path.exists(from_cwd):
            return from_cwd
        if os.path.exists(from_cfg):
            return from_cfg
        return from_cfg

    def resolve(self):
        raw = self.option("script_location")
        if not raw:
            raise HelperError("no script_location in %s" % self.config_path)
        self.script_location = self._resolve_location(str(raw).strip(), "script_location")
        if not os.path.isdir(self.script_location):
            raise HelperError(
                "script_location %r of %s is not a directory (resolved to %s)"
                % (raw, self.config_path, self.script_location)
            )
        locations = self._paths_option("version_locations")
        if locations:
            self.version_locations = [
                self._resolve_location(loc.strip(), "version_locations entry")
                for loc in locations
                if loc.strip()
            ]
        else:
            self.version_locations = [os.path.join(self.script_location, "versions")]

        url = self.option("sqlalchemy.url")
        self.sqlalchemy_url = url if isinstance(url, str) and url.strip() else None

        for entry in reversed(self._paths_option("prepend_sys_path")):
            path = os.path.abspath(entry)
            if path not in sys.path:
                sys.path.insert(0, path)

        self.env_info = scan_env_py(os.path.join(self.script_location, "env.py"))
        self.warnings.extend(self.env_info["warnings"])

    # -- revisions --------------------------------------------------------

    def load_revisions(self):
        from alembic.script import ScriptDirectory

        _distrust_stale_bytecode([self.script_location] + list(self.version_locations))

        params = pyinspect.signature(ScriptDirectory.__init__).parameters
        kwargs = {"version_locations": list(self.version_locations)}
        if "sourceless" in params:
            kwargs["sourceless"] = self.bool_option("sourceless")
        if "recursive_version_locations" in params:
            kwargs["recursive_version_locations"] = self.bool_option(
                "recursive_version_locations"
            )
        try:
            script = ScriptDirectory(self.script_location, **kwargs)
        except Exception as exc:
            raise HelperError(
                "cannot open the script directory %s: %s"
                % (self.script_location, _exc_summary(exc)),
                exc,
            )
        try:
            scripts = list(script.walk_revisions("base", "heads"))
        except Exception as exc:
            where = self._failing_revision_file(exc)
            frames = [f.name for f in traceback.extract_tb(exc.__traceback__)]
            if isinstance(exc, KeyError) and "_add_depends_on" in frames:
                raise HelperError(
                    "a depends_on entry names no known revision or branch label: %s "
                    "(Alembic %s resolves depends_on through full revision ids and "
                    "branch labels only)" % (exc, _alembic_version()),
                    exc,
                )
            if where:
                msg = "cannot load revision file %s: %s" % (where, _describe_exc(exc, where))
            else:
                msg = "cannot load the revisions in %s: %s" % (
                    ", ".join(self.version_locations),
                    _exc_summary(exc),
                )
            raise HelperError(msg, exc)
        self.script = script
        by_id = {}
        for sc in scripts:
            by_id[sc.revision] = sc
        self.by_id = by_id
        for sc in scripts:
            try:
                self.infos[sc.revision] = analyze_revision(self, sc)
            except HelperError:
                raise
            except Exception as exc:  # an AST the analysis does not expect
                self.warnings.append(
                    "revision %s (%s): source analysis failed (%s); its kinds and "
                    "data-dependence flags are guesses" % (sc.revision, sc.path, _exc_summary(exc))
                )
                self.infos[sc.revision] = _fallback_info(self, sc)
        self.scripts = self._toposort(scripts)

    def _failing_revision_file(self, exc):
        filename = getattr(exc, "filename", None)
        candidates = []
        if isinstance(filename, str):
            candidates.append(filename)
        for frame in traceback.extract_tb(exc.__traceback__):
            candidates.append(frame.filename)
        found = None
        for cand in candidates:
            real = os.path.realpath(cand)
            for loc in self.version_locations:
                if real.startswith(os.path.realpath(loc) + os.sep):
                    found = cand
        return found

    def resolve_dependency(self, sc, dep):
        """One depends_on entry (id, prefix or branch label) as a full id."""
        try:
            rev = self.script.revision_map.get_revision(dep)
        except Exception as exc:
            raise HelperError(
                "revision %s (%s): cannot resolve depends_on %r: %s"
                % (sc.revision, sc.path, dep, _exc_summary(exc)),
                exc,
            )
        return rev.revision if rev is not None else None

    def dependencies_of(self, sc):
        deps = _to_tuple(sc.dependencies)
        if not deps:
            return []
        resolved = getattr(sc, "_resolved_dependencies", None)
        if resolved is not None and len(resolved) == len(deps):
            return list(resolved)
        out = []
        for dep in deps:
            rid = self.resolve_dependency(sc, dep)
            if rid is not None and rid not in out:
                out.append(rid)
        return out

    def _toposort(self, scripts):
        preds = {}
        succs = {sc.revision: [] for sc in scripts}
        for sc in scripts:
            info = self.infos[sc.revision]
            parents = []
            for p in info["down_revisions"] + info["depends_on"]:
                if p in succs and p not in parents:
                    parents.append(p)
            preds[sc.revision] = set(parents)
            for p in parents:
                succs[p].append(sc.revision)

        def key(rid):
            return (self.infos[rid]["create_date"] or "", rid)

        ready = [key(r) for r, ps in preds.items() if not ps]
        heapq.heapify(ready)
        order = []
        while ready:
            _, rid = heapq.heappop(ready)
            order.append(rid)
            for child in succs[rid]:
                preds[child].discard(rid)
                if not preds[child]:
                    heapq.heappush(ready, key(child))
        if len(order) != len(scripts):
            stuck = sorted(r for r, ps in preds.items() if ps)
            raise HelperError(
                "the revisions form a cycle through down_revision/depends_on: %s"
                % ", ".join(stuck)
            )
        return [self.by_id[r] for r in order]

    @property
    def version_table(self):
        return self.env_info["values"].get("version_table") or "alembic_version"

    @property
    def version_table_schema(self):
        return self.env_info["values"].get("version_table_schema")

    @property
    def transaction_per_migration(self):
        return self.env_info["values"].get("transaction_per_migration")

    def configure_extras(self):
        """Other literal env.py configure() options that change how the
        migrations run."""
        extras = {}
        for name in ("transactional_ddl", "version_table_pk"):
            if name in self.env_info["values"]:
                extras[name] = self.env_info["values"][name]
        return extras


def _to_tuple(value):
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    return tuple(value)


# ---------------------------------------------------------------------------
# env.py


ENV_KEYS = ("version_table", "version_table_schema", "transaction_per_migration")


def scan_env_py(path):
    """Literal keyword arguments of the configure() calls in env.py."""
    result = {"values": {}, "literals": {}, "warnings": []}
    if not os.path.isfile(path):
        result["warnings"].append("no env.py in %s" % os.path.dirname(path))
        return result
    try:
        with open(path, "rb") as fh:
            source = fh.read()
        tree = ast.parse(source, filename=path)
    except (SyntaxError, ValueError, OSError) as exc:
        result["warnings"].append("cannot parse %s: %s" % (path, _exc_summary(exc)))
        return result

    constants = {}
    for node in tree.body:
        targets = []
        value = None
        if isinstance(node, ast.Assign):
            targets = [t for t in node.targets if isinstance(t, ast.Name)]
            value = node.value
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            targets = [node.target]
            value = node.value
        if value is None:
            continue
        ok, lit = _literal(value, {})
        for t in targets:
            if ok:
                constants[t.id] = lit
            else:
                constants.pop(t.id, None)

    calls = []
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "configure"
        ):
            calls.append(node)

    per_call = []
    for call in calls:
        found = {}
        online = any(kw.arg == "connection" for kw in call.keywords)
        for kw in call.keywords:
            if kw.arg is None:
                result["warnings"].append(
                    "env.py line %d: configure(**...) cannot be read without "
                    "running env.py" % call.lineno
                )
                continue
            ok, lit = _literal(kw.value, constants)
            if ok:
                found[kw.arg] = lit
            elif kw.arg in ENV_KEYS:
                result["warnings"].append(
                    "env.py line %d: %s= is not a literal; assuming Alembic's "
                    "default" % (call.lineno, kw.arg)
                )
        per_call.append((online, call.lineno, found))

    # online configure() calls win over offline ones
    per_call.sort(key=lambda item: (not item[0], item[1]))
    merged = {}
    for online, lineno, found in per_call:
        for name, value in found.items():
            if name not in merged:
                merged[name] = value
            elif merged[name] != value and name in ENV_KEYS:
                result["warnings"].append(
                    "env.py line %d: %s=%r differs from the value of an earlier "
                    "configure() call (%r); using %r"
                    % (lineno, name, value, merged[name], merged[name])
                )
    result["literals"] = {k: v for k, v in merged.items() if _jsonable(v)}
    values = {}
    for name in ENV_KEYS + ("transactional_ddl", "version_table_pk"):
        if name in merged:
            values[name] = merged[name]
    if "transaction_per_migration" in values and not isinstance(
        values["transaction_per_migration"], bool
    ):
        values["transaction_per_migration"] = bool(values["transaction_per_migration"])
    result["values"] = values
    return result


def _literal(node, constants):
    if isinstance(node, ast.Name) and node.id in constants:
        return True, constants[node.id]
    try:
        return True, ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return False, None


def _jsonable(value):
    try:
        json.dumps(value)
        return True
    except (TypeError, ValueError):
        return False


# ---------------------------------------------------------------------------
# revision analysis (AST)

ORM_CALLABLES = {"Session", "sessionmaker", "scoped_session", "AsyncSession"}
EXEC_METHODS = {"execute", "exec_driver_sql"}
VALUE_METHODS = {"scalar", "scalars"}
NONE_RETURNING_RECEIVERS = {"op", "context"}
PANDAS_READERS = {"read_sql", "read_sql_query", "read_sql_table"}
CATALOG_RE = re.compile(
    r"\b(information_schema|pg_catalog|sqlite_master|sqlite_schema|"
    r"sqlite_temp_master|pg_class|pg_namespace|pg_attribute|pg_type|pg_index|"
    r"pg_indexes|pg_tables|pg_views|pg_constraint|pg_proc|pg_enum|pg_trigger|"
    r"pg_extension|pg_settings|pg_sequences?|pg_roles|pg_database)\b",
    re.I,
)
# a function whose text contains none of these cannot trigger any check
FACT_NEEDLES = (
    "execute", "scalar", "query", "read_sql", "autocommit_block", "orm",
    "Session", "sessionmaker", "scoped_session",
)
CREATE_DATE_RE = re.compile(r"^\s*Create Date:\s*(.+?)\s*$", re.M)


def analyze_revision(project, sc):
    path = sc.path
    source = None
    tree = None
    if path.endswith(".py") and os.path.isfile(path):
        try:
            with open(path, "rb") as fh:
                raw = fh.read()
            source = raw.decode("utf-8", "replace")
            tree = ast.parse(raw, filename=path)
        except (SyntaxError, ValueError, OSError):
            tree = None
    lines = source.splitlines() if source is not None else []

    longdoc = ""
    try:
        longdoc = sc.longdoc or ""
    except Exception:
        longdoc = (getattr(sc.module, "__doc__", None) or "").strip()
    try:
        message = sc.doc
    except Exception:
        message = longdoc.split("\n\n")[0]
    m = CREATE_DATE_RE.search(longdoc)
    create_date = m.group(1) if m else None

    funcs = {}
    module_funcs = {}
    orm_names = set()
    orm_modules = set()
    if tree is not None:
        for node in tree.body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                module_funcs[node.name] = node
                if node.name in ("upgrade", "downgrade"):
                    funcs[node.name] = node
        for node in (ast.walk(tree) if "orm" in source else ()):
            if isinstance(node, ast.ImportFrom) and node.module:
                if node.module == "sqlalchemy.orm" or node.module.startswith("sqlalchemy.orm."):
                    for alias in node.names:
                        orm_names.add(alias.asname or alias.name)
                elif node.module == "sqlalchemy":
                    for alias in node.names:
                        if alias.name == "orm":
                            orm_modules.add(alias.asname or "orm")
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name == "sqlalchemy.orm" and alias.asname:
                        orm_modules.add(alias.asname)

    def source_of(func):
        end = getattr(func, "end_lineno", None)
        if end is None or not lines:
            return None
        return "\n".join(lines[func.lineno - 1 : end])

    needles = set(FACT_NEEDLES)
    needles.update(orm_names)
    needles.update(orm_modules)
    needles.update(n for n in module_funcs if n not in ("upgrade", "downgrade"))
    ctx = {
        "module_funcs": module_funcs,
        "orm_names": orm_names,
        "orm_modules": orm_modules,
        "constants": _module_string_constants(tree) if tree is not None else {},
        "source_of": source_of,
        "needles": needles,
    }

    result = {
        "id": sc.revision,
        "down_revisions": list(_to_tuple(sc.down_revision)),
        # the module's own labels: Revision.branch_labels also carries the
        # labels inherited from ancestors
        "branch_labels": list(_to_tuple(getattr(sc.module, "branch_labels", None))),
        "depends_on": project.dependencies_of(sc),
        "message": message,
        "create_date": create_date,
        "path": os.path.abspath(path),
    }
    for name in ("upgrade", "downgrade"):
        node = funcs.get(name)
        short = "up" if name == "upgrade" else "down"
        if node is not None:
            start = node.lineno
            if getattr(node, "decorator_list", None):
                start = min([start] + [d.lineno for d in node.decorator_list])
            end = getattr(node, "end_lineno", None) or len(lines)
            result[name + "_source"] = "\n".join(lines[start - 1 : end])
            result[name + "_kind"] = _body_kind(node)
            facts = _FunctionFacts(ctx)
            facts.visit_function(node)
            result["data_dependent_" + short] = facts.finish()
            result["non_transactional_" + short] = facts.non_transactional
        else:
            result[name + "_source"] = ""
            exists = callable(getattr(sc.module, name, None))
            result[name + "_kind"] = "normal" if exists else "missing"
            result["data_dependent_" + short] = []
            result["non_transactional_" + short] = False
    result["non_transactional"] = bool(
        result["non_transactional_up"] or result["non_transactional_down"]
    )
    return result


def _fallback_info(project, sc):
    info = {
        "id": sc.revision,
        "down_revisions": list(_to_tuple(sc.down_revision)),
        "branch_labels": list(_to_tuple(getattr(sc.module, "branch_labels", None))),
        "depends_on": project.dependencies_of(sc),
        "message": "",
        "create_date": None,
        "path": os.path.abspath(sc.path),
    }
    for name, short in (("upgrade", "up"), ("downgrade", "down")):
        info[name + "_source"] = ""
        info[name + "_kind"] = "normal" if callable(getattr(sc.module, name, None)) else "missing"
        info["data_dependent_" + short] = []
        info["non_transactional_" + short] = False
    info["non_transactional"] = False
    return info


def _module_string_constants(tree):
    out = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target = node.targets[0]
            if isinstance(target, ast.Name):
                value = _const_str(node.value)
                if value is not None:
                    out[target.id] = value
    return out


def _const_str(node):
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    return None


def _is_noop(stmt):
    if isinstance(stmt, ast.Pass):
        return True
    if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant):
        return isinstance(stmt.value.value, str) or stmt.value.value is Ellipsis
    return False


def _body_kind(func):
    body = [s for s in func.body if not _is_noop(s)]
    if not body:
        return "empty"
    if len(body) == 1 and isinstance(body[0], ast.Raise):
        return "raises"
    return "normal"


def _expr_str(node, depth=0):
    if depth > 6:
        return "..."
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return "%s.%s" % (_expr_str(node.value, depth + 1), node.attr)
    if isinstance(node, ast.Call):
        return "%s()" % _expr_str(node.func, depth + 1)
    if isinstance(node, ast.Subscript):
        return "%s[...]" % _expr_str(node.value, depth + 1)
    return "<expression>"


def _call_name(func):
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return None


class _FunctionFacts(object):
    """Walks one function (and the module-level helpers it calls) looking
    for reads of data and for autocommit blocks."""

    def __init__(self, ctx):
        self.ctx = ctx
        self.reasons = []
        self._entries = []
        self.non_transactional = False
        self._visited = set()

    def _add(self, where, text, weak=False):
        """Record a reason; ``where`` is (helper prefix, line).  A weak
        reason (a bare reference to an ORM name) is dropped when a stronger
        one names the same line."""
        entry = (where, text, weak)
        if entry not in self._entries:
            self._entries.append(entry)

    def finish(self):
        strong = set(w for w, _, weak in self._entries if not weak)
        order = []
        for where, text, weak in self._entries:
            if weak and where in strong:
                continue
            prefix, line = where
            order.append((prefix != "", line, "%sline %d: %s" % (prefix, line, text)))
        order.sort(key=lambda item: (item[0], item[1]))
        self.reasons = []
        for _, _, label in order:
            if label not in self.reasons:
                self.reasons.append(label)
        return self.reasons

    def visit_function(self, func, via=None):
        if func.name in self._visited:
            return
        self._visited.add(func.name)
        source = self.ctx["source_of"](func)
        if source is not None and not any(n in source for n in self.ctx["needles"]):
            return  # none of the names the checks below look for
        parents = {}
        for node in ast.walk(func):
            for child in ast.iter_child_nodes(node):
                parents[child] = node
        prefix = "in %s(), " % func.name if via else ""
        orm_names = self.ctx["orm_names"]
        orm_modules = self.ctx["orm_modules"]
        for node in ast.walk(func):
            line = getattr(node, "lineno", 0)
            where = (prefix, line)
            if isinstance(node, ast.Name) and node.id in orm_names:
                if isinstance(node.ctx, ast.Load):
                    self._add(where, "uses sqlalchemy.orm (%s)" % node.id, weak=True)
                continue
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and node.value.id in orm_modules
            ):
                self._add(where, "uses sqlalchemy.orm (%s.%s)" % (node.value.id, node.attr), weak=True)
                continue
            if (
                isinstance(node, ast.Attribute)
                and node.attr == "orm"
                and isinstance(node.value, ast.Name)
                and node.value.id in ("sa", "sqlalchemy")
            ):
                self._add(where, "uses sqlalchemy.orm", weak=True)
                continue
            if not isinstance(node, ast.Call):
                continue
            name = _call_name(node.func)
            if name is None:
                continue
            if name == "autocommit_block":
                self.non_transactional = True
            if name in ORM_CALLABLES:
                self._add(where, "opens an ORM session (%s)" % name)
                continue
            if name in PANDAS_READERS:
                self._add(where, "reads rows with %s()" % name)
                continue
            receiver = node.func.value if isinstance(node.func, ast.Attribute) else None
            if receiver is not None and name == "query" and node.args:
                self._add(where, "runs an ORM query (%s.query(...))" % _expr_str(receiver))
                continue
            if receiver is not None and (name in EXEC_METHODS or name in VALUE_METHODS):
                if isinstance(receiver, ast.Name) and receiver.id in NONE_RETURNING_RECEIVERS:
                    continue
                if name in VALUE_METHODS and not node.args:
                    continue  # Result.scalar() — the execute() call is judged
                sql = self._literal_sql(node.args[0]) if node.args else None
                if sql is not None and _is_catalog_sql(sql):
                    continue  # reading the catalog is schema inspection
                call_text = "%s.%s(...)" % (_expr_str(receiver), name)
                if name in VALUE_METHODS:
                    self._add(where, "reads a value with %s" % call_text)
                    continue
                use = _describe_use(node, parents)
                if use:
                    self._add(where, "the result of %s %s" % (call_text, use))
                elif node.args and self._is_select(node.args[0]):
                    self._add(where, "%s runs a SELECT" % call_text)
                continue
            if isinstance(node.func, ast.Name) and name in self.ctx["module_funcs"]:
                helper = self.ctx["module_funcs"][name]
                if helper is not func and name not in ("upgrade", "downgrade"):
                    self.visit_function(helper, via=func.name)

    def _literal_sql(self, node):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return node.value
        if isinstance(node, ast.JoinedStr):
            return "".join(
                v.value for v in node.values
                if isinstance(v, ast.Constant) and isinstance(v.value, str)
            )
        if isinstance(node, ast.Name):
            return self.ctx["constants"].get(node.id)
        if isinstance(node, ast.Call) and _call_name(node.func) in ("text", "literal_column"):
            if node.args:
                return self._literal_sql(node.args[0])
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            # text("...").bindparams(...), text("...").columns(...)
            if node.func.attr in ("bindparams", "columns", "execution_options"):
                return self._literal_sql(node.func.value)
        return None

    def _is_select(self, node):
        sql = self._literal_sql(node)
        if sql is not None:
            head = sql.lstrip().lstrip("(").lstrip()[:6].upper()
            return head.startswith("SELECT") or head.startswith("WITH")
        current = node
        for _ in range(20):
            if not isinstance(current, ast.Call):
                break
            name = _call_name(current.func)
            if name in ("select", "union", "union_all", "exists"):
                return True
            if isinstance(current.func, ast.Attribute):
                current = current.func.value
            else:
                break
        return False


def _describe_use(call, parents):
    node = call
    parent = parents.get(node)
    while isinstance(parent, ast.Await):
        node = parent
        parent = parents.get(node)
    if parent is None:
        return None
    if isinstance(parent, ast.Attribute) and parent.value is node:
        return "is read with .%s" % parent.attr
    if isinstance(parent, (ast.Assign, ast.AnnAssign, ast.AugAssign)) and parent.value is node:
        return "is assigned to a variable"
    if type(parent).__name__ == "NamedExpr":
        return "is assigned to a variable"
    if isinstance(parent, ast.withitem) and parent.context_expr is node:
        return "is bound by a with statement" if parent.optional_vars is not None else None
    if isinstance(parent, (ast.For, ast.AsyncFor)) and parent.iter is node:
        return "is iterated over"
    if isinstance(parent, ast.comprehension) and parent.iter is node:
        return "is iterated over"
    if isinstance(parent, ast.Subscript) and parent.value is node:
        return "is indexed"
    if isinstance(parent, ast.keyword):
        outer = parents.get(parent)
        if isinstance(outer, ast.Call):
            return "is passed to %s" % _expr_str(outer.func)
        return "is passed on"
    if isinstance(parent, ast.Call) and node in parent.args:
        return "is passed to %s" % _expr_str(parent.func)
    if isinstance(parent, ast.Starred):
        return "is unpacked"
    if isinstance(parent, (ast.Return, ast.Yield, ast.YieldFrom)):
        return "is returned"
    if isinstance(parent, (ast.If, ast.While, ast.IfExp, ast.Assert)):
        return "is tested"
    if isinstance(parent, (ast.Compare, ast.BoolOp, ast.UnaryOp, ast.BinOp)):
        return "is used in an expression"
    if isinstance(parent, (ast.List, ast.Tuple, ast.Set, ast.Dict)):
        return "is stored"
    return None


def _is_catalog_sql(sql):
    head = sql.strip().lower()
    if head.startswith(("show ", "describe ", "desc ", "pragma ", "explain ")):
        return True
    return bool(CATALOG_RE.search(sql))


# ---------------------------------------------------------------------------
# SQL text helpers


def _last_line_has_comment(sql):
    """True when the last line of ``sql`` ends inside a ``--`` comment."""
    i = 0
    n = len(sql)
    in_comment = False
    quote = None
    while i < n:
        ch = sql[i]
        if in_comment:
            if ch == "\n":
                in_comment = False
        elif quote:
            if ch == quote:
                quote = None
        elif ch in ("'", '"', "`"):
            quote = ch
        elif ch == "-" and sql.startswith("--", i):
            in_comment = True
            i += 1
        elif ch == "$":
            m = re.match(r"\$([A-Za-z_][A-Za-z0-9_]*)?\$", sql[i:])
            if m:
                end = sql.find(m.group(0), i + len(m.group(0)))
                if end < 0:
                    return False
                i = end + len(m.group(0))
                continue
        i += 1
    return in_comment


def _finish_statement(sql):
    """Strip, and make the statement end with exactly one ';'."""
    text = sql.strip()
    while text.endswith(";;"):
        text = text[:-1].rstrip()
    if not text or text == ";":
        return None
    if text.endswith(";"):
        body = text[:-1].rstrip()
        if not _last_line_has_comment(body):
            return text
        text = body
    if _last_line_has_comment(text):
        return text + "\n;"
    return text + ";"


_TXN_RE = re.compile(
    r"^\s*(BEGIN|BEGIN\s+TRANSACTION|START\s+TRANSACTION|COMMIT|ROLLBACK|END)\s*;?\s*$",
    re.I,
)


class StatementFilter(object):
    """Drops what is not the revision's own SQL: transaction control,
    Alembic's comments and version-table bookkeeping, introspection."""

    def __init__(self, version_table, version_table_schema):
        name = re.escape(version_table)
        schema = r"(?:[`\"\[]?%s[`\"\]]?\.)?" % re.escape(version_table_schema) if version_table_schema else r"(?:[`\"\[]?\w+[`\"\]]?\.)?"
        self.version_re = re.compile(
            r"^\s*(CREATE\s+TABLE|INSERT\s+INTO|UPDATE|DELETE\s+FROM|DROP\s+TABLE)\s+"
            r"(IF\s+(NOT\s+)?EXISTS\s+)?%s[`\"\[]?%s[`\"\]]?(\s|\(|$)" % (schema, name),
            re.I,
        )

    def strip_comments(self, sql):
        lines = sql.splitlines()
        kept = [l for l in lines if not re.match(r"^\s*-- Running (up|down)grade\b", l)]
        return "\n".join(kept)

    def keep(self, sql, introspection_too=False):
        text = sql.strip()
        if not text:
            return False
        if _TXN_RE.match(text):
            return False
        if self.version_re.match(text):
            return False
        if introspection_too and _is_introspection(text):
            return False
        return True


_SESSION_INFO_RE = re.compile(
    r"^\s*select\s+(pg_catalog\.)?(current_schema|current_database|current_user|"
    r"session_user|version|database|schema|user|connection_id|"
    r"current_setting)\s*\(|^\s*select\s+@@",
    re.I,
)


def _is_introspection(sql):
    text = sql.lstrip()
    while text.startswith("/*") or text.startswith("--"):
        if text.startswith("--"):
            nl = text.find("\n")
            text = text[nl + 1 :].lstrip() if nl >= 0 else ""
        else:
            end = text.find("*/")
            text = text[end + 2 :].lstrip() if end >= 0 else ""
    low = text.lower()
    if low.startswith(("show ", "describe ", "desc ", "explain ")):
        return True
    if low.startswith("pragma"):
        # PRAGMA x = y changes something; PRAGMA x / PRAGMA x(y) reads
        return "=" not in low
    if _SESSION_INFO_RE.match(text):
        return True
    if low.startswith(("select", "with", "(select")):
        return bool(CATALOG_RE.search(text))
    return False


_DDL_HEAD_RE = re.compile(r"^\s*(CREATE|ALTER)\s", re.I)


def _untab_ddl(sql):
    """SQLAlchemy indents DDL with tabs; offline output (Alembic) uses four
    spaces.  Only the indentation of DDL statements is touched."""
    if "\t" not in sql or not _DDL_HEAD_RE.match(sql):
        return sql
    return re.sub(r"(?m)^\t+", lambda m: "    " * len(m.group(0)), sql)


def _join_statements(statements):
    if not statements:
        return ""
    return "\n\n".join(statements) + "\n"


# ---------------------------------------------------------------------------
# parameter rendering for replay


class RenderError(Exception):
    pass


def _quote_string(value, backend, backslash_escapes):
    if "\x00" in value and backend != "mysql":
        raise RenderError("a string parameter contains a NUL character")
    if backend == "mysql":
        if backslash_escapes:
            out = []
            for ch in value:
                if ch == "\\":
                    out.append("\\\\")
                elif ch == "'":
                    out.append("\\'")
                elif ch == "\x00":
                    out.append("\\0")
                elif ch == "\n":
                    out.append("\\n")
                elif ch == "\r":
                    out.append("\\r")
                elif ch == "\x1a":
                    out.append("\\Z")
                else:
                    out.append(ch)
            return "'" + "".join(out) + "'"
        if "\x00" in value:
            raise RenderError("a string parameter contains a NUL character")
        return "'" + value.replace("'", "''") + "'"
    if backend == "postgresql" and backslash_escapes and "\\" in value:
        return "E'" + value.replace("\\", "\\\\").replace("'", "''") + "'"
    return "'" + value.replace("'", "''") + "'"


def render_literal(value, backend, backslash_escapes):
    """A Python value as SQL literal text for the backend, or RenderError."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        if backend == "postgresql":
            return "true" if value else "false"
        return "1" if value else "0"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise RenderError("a float parameter is NaN or infinite")
        return repr(value)
    if isinstance(value, decimal.Decimal):
        if not value.is_finite():
            raise RenderError("a Decimal parameter is not finite")
        return str(value)
    if isinstance(value, str):
        return _quote_string(value, backend, backslash_escapes)
    if isinstance(value, (bytes, bytearray, memoryview)):
        data = bytes(value)
        if backend == "postgresql":
            return "'\\x%s'::bytea" % data.hex() if not backslash_escapes else "E'\\\\x%s'::bytea" % data.hex()
        return "X'%s'" % data.hex()
    if isinstance(value, datetime.datetime):
        text = value.isoformat(" ")
        if backend == "postgresql":
            return "'%s'::%s" % (text, "timestamptz" if value.tzinfo else "timestamp")
        if value.tzinfo is not None and backend == "mysql":
            raise RenderError("a timezone-aware datetime parameter for MySQL")
        return "'%s'" % text
    if isinstance(value, datetime.date):
        return "'%s'::date" % value.isoformat() if backend == "postgresql" else "'%s'" % value.isoformat()
    if isinstance(value, datetime.time):
        return "'%s'::time" % value.isoformat() if backend == "postgresql" else "'%s'" % value.isoformat()
    if isinstance(value, datetime.timedelta) and backend == "postgresql":
        return "'%d days %d seconds %d microseconds'::interval" % (
            value.days,
            value.seconds,
            value.microseconds,
        )
    if isinstance(value, uuid.UUID):
        if backend == "postgresql":
            return "'%s'::uuid" % value
        raise RenderError("a UUID parameter for %s" % backend)
    raise RenderError("a parameter of type %s" % type(value).__name__)


_PERCENT_RE = re.compile(r"%(?:\(([^)]*)\))?([sd%])")


def _spaced(before, literal):
    """Keep "x -" followed by "-5" from turning into a "--" comment."""
    if literal.startswith("-") and before.endswith("-"):
        return " " + literal
    return literal


def _substitute_percent(statement, params, backend, bs):
    """format / pyformat: Python %-formatting over the whole string, as the
    drivers do it."""
    positional = isinstance(params, (list, tuple))
    index = [0]

    def repl(m):
        if m.group(2) == "%":
            return "%"
        name = m.group(1)
        if name is not None:
            if positional or name not in params:
                raise RenderError("no value for placeholder %%(%s)s" % name)
            text = render_literal(params[name], backend, bs)
        else:
            if not positional:
                raise RenderError("positional placeholder with named parameters")
            if index[0] >= len(params):
                raise RenderError("more placeholders than parameters")
            text = render_literal(params[index[0]], backend, bs)
            index[0] += 1
        return _spaced(m.string[: m.start()], text)

    out = _PERCENT_RE.sub(repl, statement)
    if positional and index[0] != len(params):
        raise RenderError("more parameters than placeholders")
    return out


def _substitute_sql_aware(statement, params, style, backend, bs):
    """qmark / numeric / named / numeric_dollar: placeholders outside of
    quotes and comments only, as the database would parse them."""
    out = []
    i = 0
    n = len(statement)
    pos = [0]
    positional = isinstance(params, (list, tuple))

    def value_for(key):
        if isinstance(key, int):
            if not positional or key >= len(params):
                raise RenderError("no value for placeholder number %d" % (key + 1))
            text = render_literal(params[key], backend, bs)
        else:
            if positional or key not in params:
                raise RenderError("no value for placeholder %s" % key)
            text = render_literal(params[key], backend, bs)
        return _spaced(out[-1] if out else "", text)

    while i < n:
        ch = statement[i]
        if ch in ("'", '"', "`"):
            end = i + 1
            while end < n:
                if statement[end] == ch:
                    if end + 1 < n and statement[end + 1] == ch:
                        end += 2
                        continue
                    break
                if statement[end] == "\\" and backend == "mysql" and ch != "`":
                    end += 2
                    continue
                end += 1
            out.append(statement[i : end + 1])
            i = end + 1
            continue
        if ch == "-" and statement.startswith("--", i):
            end = statement.find("\n", i)
            end = n if end < 0 else end
            out.append(statement[i:end])
            i = end
            continue
        if ch == "/" and statement.startswith("/*", i):
            end = statement.find("*/", i + 2)
            end = n if end < 0 else end + 2
            out.append(statement[i:end])
            i = end
            continue
        if ch == "$" and backend == "postgresql":
            m = re.match(r"\$([A-Za-z_][A-Za-z0-9_]*)?\$", statement[i:])
            if m:
                tag = m.group(0)
                end = statement.find(tag, i + len(tag))
                end = n if end < 0 else end + len(tag)
                out.append(statement[i:end])
                i = end
                continue
            if style == "numeric_dollar":
                m = re.match(r"\$(\d+)", statement[i:])
                if m:
                    out.append(value_for(int(m.group(1)) - 1))
                    i += len(m.group(0))
                    continue
        if style == "qmark" and ch == "?":
            out.append(value_for(pos[0]))
            pos[0] += 1
            i += 1
            continue
        if style in ("numeric", "named") and ch == ":":
            if statement.startswith("::", i):
                out.append("::")
                i += 2
                continue
            if style == "numeric":
                m = re.match(r":(\d+)", statement[i:])
                if m:
                    out.append(value_for(int(m.group(1)) - 1))
                    i += len(m.group(0))
                    continue
            else:
                m = re.match(r":([A-Za-z_][A-Za-z0-9_]*)", statement[i:])
                if m and not (i > 0 and (statement[i - 1].isalnum() or statement[i - 1] == "_")):
                    out.append(value_for(m.group(1)))
                    i += len(m.group(0))
                    continue
        if style == "named" and ch in ("@", "$") and backend == "sqlite":
            m = re.match(r"[@$]([A-Za-z_][A-Za-z0-9_]*)", statement[i:])
            if m:
                out.append(value_for(m.group(1)))
                i += len(m.group(0))
                continue
        out.append(ch)
        i += 1
    if style == "qmark" and positional and pos[0] != len(params):
        raise RenderError("%d placeholders but %d parameters" % (pos[0], len(params)))
    return "".join(out)


def _has_params(params):
    return params is not None and not (isinstance(params, (list, tuple, dict)) and len(params) == 0)


def _param_sets(parameters, executemany):
    """The parameter sets of one cursor call.  SQLAlchemy reports its
    "insertmanyvalues" batches as executemany with one parameter set."""
    if not executemany:
        return [parameters]
    if isinstance(parameters, dict) or hasattr(parameters, "keys"):
        return [parameters]
    if isinstance(parameters, (list, tuple)):
        if all(isinstance(p, (list, tuple, dict)) or hasattr(p, "keys") for p in parameters):
            return list(parameters)
    return [parameters]


def _driver_codec(cursor, driver):
    """The Python codec of the bytes a driver's mogrify() returns."""
    import codecs

    name = getattr(getattr(cursor, "connection", None), "encoding", None) or "utf-8"
    if driver == "psycopg2":
        try:
            from psycopg2.extensions import encodings as pg_encodings

            name = pg_encodings.get(name, name)
        except ImportError:
            pass
    if str(name).lower().startswith("utf8"):
        name = "utf-8"
    try:
        codecs.lookup(name)
    except LookupError:
        name = "utf-8"
    return name


class StatementCapture(object):
    """before_cursor_execute listener that turns what the driver runs into
    literal SQL for the revision currently being replayed."""

    def __init__(self, backend, stmt_filter):
        self.backend = backend
        self.filter = stmt_filter
        self.active = False
        self.statements = []
        self.error = None

    def start(self):
        self.active = True
        self.statements = []
        self.error = None

    def stop(self):
        self.active = False
        return self.statements, self.error

    def hook(self, conn, cursor, statement, parameters, context, executemany):
        if not self.active or self.error is not None:
            return
        try:
            if _is_introspection(statement):
                return
            dialect = conn.dialect
            param_sets = _param_sets(parameters, executemany)
            for params in param_sets:
                text = self._render(cursor, dialect, statement, params)
                if not self.filter.keep(text, introspection_too=True):
                    continue
                finished = _finish_statement(_untab_ddl(text))
                if finished:
                    self.statements.append(finished)
        except RenderError as exc:
            self.error = "cannot render a statement's parameters safely (%s): %s" % (
                exc,
                " ".join(statement.split())[:300],
            )
        except Exception as exc:  # never break the migration itself
            self.error = "cannot capture a statement: %s" % _exc_summary(exc)

    def _render(self, cursor, dialect, statement, params):
        bs = bool(getattr(dialect, "_backslash_escapes", False))
        style = getattr(dialect, "paramstyle", None) or "qmark"
        mogrify = getattr(cursor, "mogrify", None)
        driver = getattr(dialect, "driver", "")
        if mogrify is not None and driver in ("psycopg2", "pymysql", "mysqldb"):
            # the driver's own client-side interpolation: exactly what it sends
            rendered = mogrify(statement, params)
            if isinstance(rendered, bytes):
                rendered = rendered.decode(_driver_codec(cursor, driver))
            return rendered
        if style in ("format", "pyformat"):
            if params is None:
                return statement
            return _substitute_percent(statement, params, self.backend, bs)
        if not _has_params(params):
            return statement
        return _substitute_sql_aware(statement, params, style, self.backend, bs)


# ---------------------------------------------------------------------------
# engines and drivers

SYNC_DRIVERS = {
    "postgresql": (("psycopg2", "psycopg2"), ("psycopg", "psycopg"), ("pg8000", "pg8000")),
    "mysql": (("pymysql", "pymysql"), ("mysqldb", "MySQLdb"), ("mysqlconnector", "mysql.connector")),
    "mariadb": (("pymysql", "pymysql"), ("mysqldb", "MySQLdb"), ("mysqlconnector", "mysql.connector")),
    "sqlite": (("pysqlite", "sqlite3"),),
}
ASYNC_DRIVERS = {
    "postgresql": (("asyncpg", "asyncpg"), ("psycopg_async", "psycopg")),
    "mysql": (("aiomysql", "aiomysql"), ("asyncmy", "asyncmy")),
    "mariadb": (("aiomysql", "aiomysql"), ("asyncmy", "asyncmy")),
    "sqlite": (("aiosqlite", "aiosqlite"),),
}


def resolve_url(url_text):
    """(URL object, is_async): a driver is picked when the URL names none."""
    from sqlalchemy.engine import make_url

    try:
        url = make_url(url_text)
    except Exception as exc:
        raise HelperError("invalid database URL: %s" % _exc_summary(exc), exc)
    backend, _, driver = url.drivername.partition("+")
    if backend == "postgres":
        backend = "postgresql"
        url = url.set(drivername="postgresql" + ("+" + driver if driver else ""))
    if driver:
        try:
            is_async = bool(getattr(url.get_dialect(), "is_async", False))
        except Exception as exc:
            raise HelperError("unknown database driver in URL %s: %s" % (url_text, _exc_summary(exc)), exc)
        return url, is_async
    for name, module in SYNC_DRIVERS.get(backend, ()):
        if _module_available(module):
            return url.set(drivername="%s+%s" % (backend, name)), False
    for name, module in ASYNC_DRIVERS.get(backend, ()):
        if _module_available(module):
            return url.set(drivername="%s+%s" % (backend, name)), True
    if backend in SYNC_DRIVERS:
        raise HelperError(
            "no database driver for %s is installed in this Python (%s); tried %s"
            % (
                backend,
                sys.executable,
                ", ".join(m for _, m in SYNC_DRIVERS[backend] + ASYNC_DRIVERS.get(backend, ())),
            )
        )
    return url, False


def _sqlite_scratch_pragmas(dbapi_conn, record):
    """A scratch SQLite file needs no durability: without fsyncs the replay
    of a long history of batch migrations is several times faster."""
    cursor = dbapi_conn.cursor()
    try:
        cursor.execute("PRAGMA synchronous = OFF")
        cursor.execute("PRAGMA journal_mode = MEMORY")
    finally:
        cursor.close()


def run_with_connection(url_text, work, listeners=(), scratch=False):
    """Call work(sync_connection) on a connection to URL, sync or async."""
    from sqlalchemy import event
    from sqlalchemy.pool import NullPool

    url, is_async = resolve_url(url_text)
    listeners = list(listeners)
    if scratch and url.get_backend_name() == "sqlite":
        listeners.append(("connect", _sqlite_scratch_pragmas))
    if not is_async:
        from sqlalchemy import create_engine

        engine = create_engine(url, poolclass=NullPool)
        for name, fn in listeners:
            event.listen(engine, name, fn)
        try:
            with engine.connect() as conn:
                return work(conn)
        finally:
            engine.dispose()
    try:
        from sqlalchemy.ext.asyncio import create_async_engine
    except ImportError as exc:
        raise HelperError("the async driver in %s needs sqlalchemy.ext.asyncio: %s" % (url, exc), exc)
    holder = {}

    async def main():
        engine = create_async_engine(url, poolclass=NullPool)
        for name, fn in listeners:
            event.listen(engine.sync_engine, name, fn)
        try:
            async with engine.connect() as conn:
                holder["result"] = await conn.run_sync(work)
        finally:
            await engine.dispose()

    asyncio.run(main())
    return holder.get("result")


def _safe_url(url_text):
    try:
        from sqlalchemy.engine import make_url

        return make_url(url_text).render_as_string(hide_password=True)
    except Exception:
        return url_text


# ---------------------------------------------------------------------------
# commands


def _new_env(project, **opts):
    from alembic.runtime.environment import EnvironmentContext

    return EnvironmentContext(project.cfg, project.script, **opts)


def _call(module, name):
    fn = getattr(module, name, None)
    if fn is None:
        raise AttributeError("revision has no %s() function" % name)
    fn()


def cmd_scan(project):
    import alembic
    import sqlalchemy

    revisions = []
    for sc in project.scripts:
        info = project.infos[sc.revision]
        revisions.append(dict(info))
    return {
        "config_file": project.config_path,
        "script_location": project.script_location,
        "version_locations": project.version_locations,
        "sqlalchemy_url": project.sqlalchemy_url,
        "version_table": project.version_table,
        "version_table_schema": project.version_table_schema,
        "transaction_per_migration": project.transaction_per_migration,
        "alembic_version": alembic.__version__,
        "sqlalchemy_version": sqlalchemy.__version__,
        "env_configure": project.env_info["literals"],
        "warnings": project.warnings,
        "revisions": revisions,
    }


def _offline_dialect(dialect, flavor):
    # "named" keeps SQLAlchemy from doubling "%" in the rendered text, as
    # it would for the pyformat/format drivers of PostgreSQL and MySQL
    opts = {"paramstyle": "named"}
    if dialect == "mysql" and flavor != "mysql":
        opts["is_mariadb"] = True
    return dialect, opts


class OfflineLimit(Exception):
    """Something a revision does that has no faithful offline rendering."""


def _has_any_params(multiparams, params):
    if params:
        return True
    for item in multiparams:
        if item is None:
            continue
        if isinstance(item, (list, tuple, dict)) and len(item) == 0:
            continue
        return True
    return False


def _guard_offline_connection(ctx):
    """Alembic's offline "connection" renders whatever is executed on it and
    drops bound parameters on the floor (bind.execute(stmt, {...}) would be
    rendered with placeholders or NULLs).  Refuse those instead, so that
    the revision is replayed."""
    mock_class = type(ctx.connection)

    def execute(construct, *multiparams, **params):
        if _has_any_params(multiparams, params):
            raise OfflineLimit(
                "executes a statement with bound parameters on the connection; "
                "offline mode cannot render their values"
            )
        ctx.impl._exec(construct)

    try:
        guarded = mock_class(ctx.dialect, execute)
    except TypeError:
        return
    ctx.connection = guarded
    ctx.impl.connection = guarded


def render_offline(project, dialect, flavor):
    from alembic.operations import Operations

    name, dialect_opts = _offline_dialect(dialect, flavor)
    stmt_filter = StatementFilter(project.version_table, project.version_table_schema)
    results = {}
    env = _new_env(project, as_sql=True)
    with env:
        configure = dict(
            dialect_name=name,
            output_buffer=io.StringIO(),
            literal_binds=True,
            version_table=project.version_table,
            version_table_schema=project.version_table_schema,
            transaction_per_migration=bool(project.transaction_per_migration),
        )
        configure.update(project.configure_extras())
        if dialect_opts:
            configure["dialect_opts"] = dialect_opts
        try:
            env.configure(**configure)
        except TypeError:
            # an SQLAlchemy whose MySQL dialect has no is_mariadb argument
            dialect_opts.pop("is_mariadb", None)
            env.configure(**configure)
        ctx = env.get_context()
        _guard_offline_connection(ctx)
        chunks = []
        ctx.impl.static_output = chunks.append  # one call per statement
        with Operations.context(ctx):
            for sc in project.scripts:
                info = project.infos[sc.revision]
                entry = {}
                for direction, fname in (("up", "upgrade"), ("down", "downgrade")):
                    del chunks[:]
                    kind = info[fname + "_kind"]
                    if kind == "missing":
                        entry[direction] = {"offline_error": "the revision has no %s() function" % fname}
                        continue
                    try:
                        _call(sc.module, fname)
                    except Exception as exc:
                        entry[direction] = {"offline_error": _short_reason(exc, sc.path), "kind": kind}
                        continue
                    statements = []
                    for chunk in chunks:
                        text = stmt_filter.strip_comments(chunk)
                        if not stmt_filter.keep(text):
                            continue
                        finished = _finish_statement(text)
                        if finished:
                            statements.append(finished)
                    entry[direction] = {"statements": statements}
                results[sc.revision] = entry
    return results


def replay(project, url_text, need_up, need_down):
    """Upgrade everything on an empty database, then downgrade, capturing
    the SQL of the revisions in need_up / need_down."""
    from alembic.operations import Operations

    backend = resolve_url(url_text)[0].get_backend_name()
    if backend == "mariadb":
        backend = "mysql"
    stmt_filter = StatementFilter(project.version_table, project.version_table_schema)
    capture = StatementCapture(backend, stmt_filter)
    order = [sc.revision for sc in project.scripts]
    up_results = {}
    down_results = {}
    last_up_needed = max([order.index(r) for r in need_up] + [-1])
    up_to = len(order) - 1 if need_down else last_up_needed
    first_down_needed = min([order.index(r) for r in need_down] + [len(order)])

    def step(ctx, sc, fname):
        capture.start()
        try:
            with ctx.begin_transaction(_per_migration=True):
                _call(sc.module, fname)
        finally:
            statements, error = capture.stop()
        return statements, error

    def work(conn):
        env = _new_env(project, as_sql=False)
        with env:
            configure = dict(
                connection=conn,
                version_table=project.version_table,
                version_table_schema=project.version_table_schema,
                transaction_per_migration=True,
            )
            configure.update(project.configure_extras())
            env.configure(**configure)
            ctx = env.get_context()
            with Operations.context(ctx):
                failed = None
                for idx in range(up_to + 1):
                    sc = project.scripts[idx]
                    rid = sc.revision
                    if failed is not None:
                        up_results[rid] = {"error": failed}
                        continue
                    try:
                        statements, error = step(ctx, sc, "upgrade")
                    except Exception as exc:
                        up_results[rid] = {"error": "upgrade failed on the scratch database: %s" % _describe_exc(exc, sc.path)}
                        failed = "not replayed: the upgrade of %s failed on the scratch database before it" % rid
                        continue
                    up_results[rid] = {"statements": statements, "error": error}
                if failed is not None or not need_down:
                    for rid in need_down:
                        down_results[rid] = {"error": failed or "not replayed"}
                    return
                stopped = None
                for idx in range(len(order) - 1, first_down_needed - 1, -1):
                    sc = project.scripts[idx]
                    rid = sc.revision
                    if stopped is not None:
                        down_results[rid] = {"error": stopped}
                        continue
                    try:
                        statements, error = step(ctx, sc, "downgrade")
                    except Exception as exc:
                        down_results[rid] = {"error": "downgrade failed on the scratch database: %s" % _describe_exc(exc, sc.path)}
                        stopped = "not replayed: the downgrade of %s raised before it could run (%s)" % (rid, _exc_summary(exc))
                        continue
                    down_results[rid] = {"statements": statements, "error": error}

    run_with_connection(
        url_text, work, listeners=[("before_cursor_execute", capture.hook)], scratch=True
    )
    return up_results, down_results


def cmd_render(project, dialect, scratch_url, flavor):
    offline = render_offline(project, dialect, flavor)
    need_up = []
    need_down = []
    for sc in project.scripts:
        entry = offline[sc.revision]
        info = project.infos[sc.revision]
        if "statements" not in entry["up"] and info["upgrade_kind"] != "missing":
            need_up.append(sc.revision)
        if "statements" not in entry["down"] and info["downgrade_kind"] not in ("missing", "raises"):
            need_down.append(sc.revision)

    up_replay = {}
    down_replay = {}
    replay_error = None
    replayed = False
    temp_path = None
    url_text = scratch_url
    if need_up or need_down:
        if not url_text and dialect == "sqlite":
            fd, temp_path = tempfile.mkstemp(prefix="alembix_replay_", suffix=".db")
            os.close(fd)
            os.unlink(temp_path)
            url_text = "sqlite:///" + temp_path
        if not url_text:
            replay_error = "no --scratch-url was given, so it could not be replayed on a real database"
        else:
            try:
                backend = resolve_url(url_text)[0].get_backend_name()
                want = {"postgresql": ("postgresql",), "mysql": ("mysql", "mariadb"), "sqlite": ("sqlite",)}[dialect]
                if backend not in want:
                    raise HelperError("--scratch-url is a %s URL but --dialect is %s" % (backend, dialect))
                up_replay, down_replay = replay(project, url_text, need_up, need_down)
                replayed = True
            except HelperError as exc:
                replay_error = "replay on the scratch database failed: %s" % exc.message
                if exc.exc is not None:
                    sys.stderr.write(_traceback_tail(exc.exc) + "\n")
            except Exception as exc:
                replay_error = "replay on the scratch database failed: %s" % _exc_summary(exc)
                sys.stderr.write(_traceback_tail(exc) + "\n")
            finally:
                if temp_path:
                    for suffix in ("", "-journal", "-wal", "-shm"):
                        try:
                            os.unlink(temp_path + suffix)
                        except OSError:
                            pass

    revisions = {}
    for sc in project.scripts:
        rid = sc.revision
        info = project.infos[rid]
        entry = {}
        for direction, fname, replayed_map in (("up", "upgrade", up_replay), ("down", "downgrade", down_replay)):
            off = offline[rid][direction]
            out = {"sql": "", "statements": [], "source": "none", "error": None, "offline_error": off.get("offline_error")}
            if "statements" in off:
                out["statements"] = off["statements"]
                out["sql"] = _join_statements(off["statements"])
                out["source"] = "offline"
            elif info[fname + "_kind"] == "missing":
                out["error"] = "the revision has no %s() function" % fname
            elif fname == "downgrade" and info["downgrade_kind"] == "raises":
                out["error"] = "the downgrade raises: %s" % off.get("offline_error")
            elif rid in replayed_map:
                rep = replayed_map[rid]
                if rep.get("error") is None and rep.get("statements") is not None:
                    out["statements"] = rep["statements"]
                    out["sql"] = _join_statements(rep["statements"])
                    out["source"] = "replay"
                else:
                    out["error"] = rep.get("error")
            else:
                out["error"] = replay_error or "not replayed"
            entry[direction] = out
        revisions[rid] = entry
    return {
        "dialect": dialect,
        "flavor": (flavor or "mariadb") if dialect == "mysql" else dialect,
        "scratch_url": _safe_url(url_text) if (url_text and not temp_path) else None,
        "replayed": replayed,
        "replay_error": replay_error,
        "revisions": revisions,
    }


def cmd_migrate(project, direction, url_text, target):
    from alembic.runtime.migration import MigrationContext

    script = project.script

    def fn(rev, context):
        if direction == "upgrade":
            return script._upgrade_revs(target, rev)
        return script._downgrade_revs(target, rev)

    def work(conn):
        env = _new_env(project, as_sql=False, fn=fn, destination_rev=target)
        with env:
            configure = dict(
                connection=conn,
                version_table=project.version_table,
                version_table_schema=project.version_table_schema,
                transaction_per_migration=bool(project.transaction_per_migration),
            )
            configure.update(project.configure_extras())
            env.configure(**configure)
            with env.begin_transaction():
                env.run_migrations()
        # whatever autobegun work is left (the version table of a history
        # with nothing to run) is kept, as a caller expects
        if conn.in_transaction() and hasattr(conn, "commit"):
            conn.commit()
        ctx = MigrationContext.configure(
            connection=conn,
            opts={
                "version_table": project.version_table,
                "version_table_schema": project.version_table_schema,
            },
        )
        heads = list(ctx.get_current_heads())
        if conn.in_transaction() and hasattr(conn, "rollback"):
            conn.rollback()
        return heads

    try:
        heads = run_with_connection(url_text, work)
    except HelperError:
        raise
    except Exception as exc:
        where = None
        for frame in traceback.extract_tb(exc.__traceback__):
            for loc in project.version_locations:
                if os.path.realpath(frame.filename).startswith(os.path.realpath(loc) + os.sep):
                    where = frame.filename
        msg = "%s to %s on %s failed: %s" % (direction, target, _safe_url(url_text), _exc_summary(exc))
        if where:
            line = _exc_location(exc, where)
            msg += " (in %s%s)" % (where, ", line %d" % line if line else "")
        raise HelperError(msg, exc)
    return {"current": sorted(heads)}


# ---------------------------------------------------------------------------
# main


def _parser():
    parser = argparse.ArgumentParser(prog="alembix_alembic.py", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command")

    def common(p):
        p.add_argument("--config", required=True)
        p.add_argument("--name", default="alembic")

    common(sub.add_parser("scan"))
    p = sub.add_parser("render")
    common(p)
    p.add_argument("--dialect", required=True, choices=("sqlite", "postgresql", "mysql"))
    p.add_argument("--scratch-url")
    p.add_argument("--mysql-flavor", choices=("mariadb", "mysql"), default="mariadb")
    p.add_argument("--include-scan", action="store_true")
    p = sub.add_parser("upgrade")
    common(p)
    p.add_argument("--url", required=True)
    p.add_argument("--target", default="head")
    p = sub.add_parser("downgrade")
    common(p)
    p.add_argument("--url", required=True)
    p.add_argument("--target", required=True)
    return parser


def _claim_stdout():
    """Keep file descriptor 1 for the JSON answer only: a duplicate of it
    is kept for the answer, and fd 1 itself is pointed at stderr, so that
    nothing else (print() in a revision, a C extension, a subprocess) can
    write to the real stdout."""
    global REAL_STDOUT
    try:
        sys.stdout.flush()
        fd = os.dup(1)
        os.dup2(2, 1)
        REAL_STDOUT = io.open(fd, "w", encoding="utf-8", errors="replace", closefd=True)
    except (OSError, ValueError, AttributeError):
        REAL_STDOUT = sys.stdout
    sys.stdout = sys.stderr


def _distrust_stale_bytecode(dirs):
    """Python uses a revision's .pyc when it records the source's size and its mtime in whole seconds, so an
    edit that keeps the size and lands in the second the .pyc was written is not seen: the old upgrade()
    would be converted or run. For files under the project's script and version directories, a .pyc that
    was not written after its source is not used; the module is compiled from its source (Python then
    writes a .pyc that the next run replaces with one it can trust)."""
    from importlib import machinery, util

    roots = []
    for d in dirs:
        for r in (os.path.abspath(d), os.path.realpath(d)):
            if r not in roots:
                roots.append(os.path.join(r, ""))
    loader = machinery.SourceFileLoader
    original = loader.path_stats

    def path_stats(self, path):
        if not any(os.path.abspath(path).startswith(r) for r in roots):
            return original(self, path)
        st = os.stat(path)
        mtime = st.st_mtime
        try:
            if os.stat(util.cache_from_source(path)).st_mtime_ns <= st.st_mtime_ns:
                mtime = -1.0  # matches no .pyc's record: compiled from source
        except (OSError, NotImplementedError, ValueError):
            pass
        return {"mtime": mtime, "size": st.st_size}

    loader.path_stats = path_stats


def main(argv=None):
    _claim_stdout()
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return 2 if exc.code else 0
    if not args.command:
        parser.print_usage(sys.stderr)
        return 2
    try:
        try:
            for module in ("alembic", "sqlalchemy"):
                importlib.import_module(module)
        except ImportError as exc:
            raise HelperError(
                "this Python (%s) cannot import alembic/sqlalchemy: %s" % (sys.executable, exc), exc
            )
        project = Project(args.config, args.name)
        project.load_config()
        project.resolve()
        project.load_revisions()
        if args.command == "scan":
            result = cmd_scan(project)
        elif args.command == "render":
            result = cmd_render(project, args.dialect, args.scratch_url, args.mysql_flavor)
            if args.include_scan:
                result["scan"] = cmd_scan(project)
        else:
            result = cmd_migrate(project, args.command, args.url, args.target)
    except HelperError as exc:
        sys.stderr.write("alembix_alembic %s: %s\n" % (args.command, exc.message))
        if exc.exc is not None:
            sys.stderr.write(_traceback_tail(exc.exc) + "\n")
        return 2
    except KeyboardInterrupt:
        sys.stderr.write("alembix_alembic %s: interrupted\n" % args.command)
        return 2
    except BaseException as exc:  # includes SystemExit from revision modules
        sys.stderr.write("alembix_alembic %s: unexpected error: %s\n" % (args.command, _exc_summary(exc)))
        sys.stderr.write(_traceback_tail(exc) + "\n")
        return 2
    REAL_STDOUT.write(json.dumps(result, indent=None, ensure_ascii=False) + "\n")
    REAL_STDOUT.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
