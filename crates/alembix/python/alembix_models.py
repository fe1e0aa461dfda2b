"""Print the DDL of a project's SQLAlchemy models, for alembix.

alembix carries this file inside its binary and runs it with the project's own Python, with the working
directory set to the project root (where alembix.toml lives):

    PYTHON alembix_models.py --models SPEC --dialect sqlite|postgresql|mysql [--json] [--early]
                             [--project-root DIR]

Only the standard library and SQLAlchemy (1.4 or later) are needed; no database connection is made: the
metadata is compiled for the dialect with a mock engine, through ``MetaData.create_all(checkfirst=False)``,
so the statements come in SQLAlchemy's own dependency order (CREATE TYPE for PostgreSQL enums, CREATE TABLE,
CREATE INDEX, ...).

Import path
    The project root (``--project-root``, default the working directory) is put first on ``sys.path``, then
    its ``src/`` directory when there is one (the src layout). The directory this file sits in is taken off.
    ``--dialect`` may be left out when ``ALEMBIX_DIALECT`` is set.

SPEC (several may be given, separated by commas)
    ``pkg.module:attr``  ``attr`` (a dotted path, e.g. ``Base.metadata``) names a DeclarativeBase subclass,
                         a ``declarative_base()`` result, SQLModel, a ``registry``, a MetaData, anything
                         whose ``.metadata`` is a MetaData (a model class, a Table), or a list of those
                         (Alembic's ``target_metadata = [a, b]``).
    ``pkg.module``       the module is imported and searched for such objects (also those imported into it,
                         and the bases of the model classes found there); there must be exactly one distinct
                         MetaData with tables among them, else the error lists them. None with tables is not
                         an error: the output is empty.

    When the module of a SPEC is a package of the project (it lives under the project root), every module
    below it is imported too, recursively, before the metadata is read. This is deliberate: a model module
    that nothing imports (Alembic's best-known trap) still contributes its tables. Packages outside the
    project (site-packages, e.g. ``sqlmodel:SQLModel``) are not walked, and a module that is not a package
    pulls in nothing else: ``app.db:Base`` sees only the models imported by the time ``app.db`` is loaded,
    while ``app.models`` or ``app.models:Base`` (when ``app/models/`` is a package) sees them all.
    Directories without ``__init__.py`` below the package, ``__main__`` and files whose names are not
    identifiers (e.g. Alembic revision files) are not imported.

    With several SPECs the tables of all of them are printed, metadata by metadata in the order given; a
    table defined by two of them is printed once if both definitions compile to the same DDL, and is an error
    otherwise; a PostgreSQL type that two of them create identically is created once.

Output
    Each statement, ending with ``;`` and followed by a blank line, on stdout, UTF-8: whatever
    ``create_all`` emits (CREATE TYPE, CREATE SEQUENCE, CREATE TABLE, CREATE INDEX, COMMENT ON, and
    ALTER TABLE ... ADD CONSTRAINT for foreign-key cycles). With ``--json``, one JSON object instead::

        {"ddl": "...", "tables": ["users", ...], "metadata": ["app.db:Base"],
         "sources": ["/abs/app/db.py", ...], "directories": ["/abs/app/models", ...],
         "dialect": "postgresql", "sqlalchemy": "2.0.36", "python": "/abs/.venv/bin/python",
         "runtime": ["/usr/bin/python3.12", "/abs/.venv/lib/python3.12/site-packages/sqlalchemy/__init__.py"],
         "warnings": []}

    ``ddl`` is the text printed without --json. ``tables`` lists the tables in the order they are created
    (``schema.name`` when they have a schema). ``metadata`` names each MetaData used: the SPEC as given for
    ``module:attr`` (``module:attr[i]`` for the items of a list), where it was found for a bare module.
    ``sources`` is the absolute path of the file of every imported module that lives under the project root,
    outside virtualenvs and site-packages, sorted; ``directories`` lists the package directories walked
    for submodules (a file added to one changes its mtime). ``runtime`` is the real path of the interpreter
    and of SQLAlchemy's ``__init__.py``. A cache of the DDL keyed by the sizes and mtimes of all three, and
    by ``dialect``, stays valid while none of them changes (unless the models read other files or the
    environment at import time). ``warnings`` are also printed on
    stderr, one ``warning: ...`` line each (today: a SPEC outside the project whose metadata has no tables).

    With ``--early`` (and ``--json``), lines ``{"early": ["CREATE TABLE ...", ...]}`` come first, while the
    models are still being imported: the statements of tables that are already defined (and whose foreign
    keys name only tables printed before), so that alembix can start building them on its scratch database
    in the meantime. They are a guess: a table changed after it was printed differs from the final
    ``ddl``, which is what counts (alembix compares the two and builds again when they differ). Only
    ``CREATE TABLE``, ``CREATE INDEX``, ``COMMENT ON`` and, on PostgreSQL, the ``CREATE TYPE`` of an enum
    (before the first table that uses it) are printed early, compiled without firing any DDL event, only for
    tables defined by the project's own files; anything else (a domain, a foreign key made by ``ALTER``)
    waits for ``ddl``.

    Anything the project prints while it is imported goes to stderr, never into the DDL; the project sees
    ``sys.argv`` without alembix's arguments.

Errors
    Exit code 2, nothing on stdout, and on stderr a one-line summary followed by details and a hint: the
    SPEC's module cannot be found (with the working directory and sys.path), importing a module raised (with
    the project's frames of the traceback, paths relative to the project root), no models, several metadata,
    a missing attribute (with the candidates), a column type the dialect cannot render (with the table and
    the column), a table defined differently by two SPECs, SQLAlchemy missing or older than 1.4.
"""

import os
import sys

EXIT_ERROR = 2
VENV_DIRS = frozenset(
    (".venv", "venv", "site-packages", "dist-packages", ".tox", ".nox", "__pypackages__", "node_modules")
)
DIALECTS = ("sqlite", "postgresql", "mysql")
DIALECT_ALIASES = {"postgres": "postgresql", "pg": "postgresql"}
INTERPRETER_HINT = (
    "set `python` in the config to the project's interpreter "
    '(e.g. "uv run python" or ".venv/bin/python")'
)
WHAT = "DeclarativeBase subclass, declarative_base(), MetaData or SQLModel"
TRACEBACK_FRAMES = 5

USAGE = (
    "usage: alembix_models.py --models SPEC[,SPEC...] --dialect sqlite|postgresql|mysql "
    "[--json] [--early] [--project-root DIR]"
)


class Failure(Exception):
    """An error for the person: the lines to print on stderr (the first is the summary)."""

    def __init__(self, *lines):
        Exception.__init__(self, lines[0] if lines else "")
        self.lines = [line for line in lines if line is not None]


class HelpRequested(Exception):
    pass


# ---------------------------------------------------------------------------------------------------
# Command line and import path


def parse_args(argv):
    opts = {"models": None, "dialect": None, "json": False, "early": False, "root": None}
    names = {"--models": "models", "--dialect": "dialect", "--project-root": "root"}
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg in ("-h", "--help"):
            raise HelpRequested()
        if arg == "--json":
            opts["json"] = True
        elif arg == "--early":
            opts["early"] = True
        elif arg in names:
            if i + 1 >= len(argv):
                raise Failure("option %s needs a value" % arg, USAGE)
            i += 1
            opts[names[arg]] = argv[i]
        elif arg.split("=", 1)[0] in names and "=" in arg:
            key, value = arg.split("=", 1)
            opts[names[key]] = value
        else:
            raise Failure("unknown argument %r" % arg, USAGE)
        i += 1
    if not opts["models"] or not opts["models"].strip(" ,"):
        raise Failure("--models is required: the module (or module:attribute) that holds the models", USAGE)
    dialect = opts["dialect"] or os.environ.get("ALEMBIX_DIALECT")
    if not dialect:
        raise Failure("--dialect is required (sqlite, postgresql or mysql)", USAGE)
    dialect = DIALECT_ALIASES.get(dialect.lower(), dialect.lower())
    if dialect not in DIALECTS:
        raise Failure("unknown dialect %r: expected sqlite, postgresql or mysql" % dialect, USAGE)
    opts["dialect"] = dialect
    opts["root"] = os.path.abspath(opts["root"] or os.getcwd())
    return opts


def distrust_stale_bytecode(project):
    """Python uses a module's .pyc when it records the source's size and its mtime in whole seconds, so an
    edit that keeps the size and lands in the second the .pyc was written (a formatter, a checkout, a
    script's `sed`) is not seen: the old models would be printed, and cached as the new file's. For the
    project's own files, a .pyc that was not written after its source is not used; the module is compiled
    from its source (and nothing is written)."""
    from importlib import machinery, util

    sys.dont_write_bytecode = True
    loader = machinery.SourceFileLoader
    original = loader.path_stats
    root, real_root = project.root, project.real_root

    def path_stats(self, path):
        if not (project._under(path, root) or project._under(path, real_root)):
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


def setup_path(root):
    """Project root (and its src/) first on sys.path; this script's own directory off it."""
    here = None
    main_file = getattr(sys.modules.get("__main__"), "__file__", None)
    if main_file and os.path.abspath(main_file) == os.path.abspath(__file__):
        here = os.path.realpath(os.path.dirname(os.path.abspath(__file__)))
    front = [root]
    src = os.path.join(root, "src")
    if os.path.isdir(src):
        front.append(src)
    real_front = set(os.path.realpath(p) for p in front)
    rest = []
    for entry in sys.path:
        real = os.path.realpath(entry or os.getcwd())
        if real in real_front or (here is not None and real == here):
            continue
        rest.append(entry)
    sys.path[:] = front + rest


class Project(object):
    """Answers "is this file part of the project?" (under the root, outside virtualenvs)."""

    def __init__(self, root):
        self.root = root
        self.real_root = os.path.realpath(root)
        prefixes = set()
        for p in (sys.prefix, sys.exec_prefix, getattr(sys, "base_prefix", sys.prefix)):
            if p:
                prefixes.add(os.path.realpath(p))
        # An interpreter that lives inside the project (a venv with any name) owns what is under it.
        # (A venv made in the root itself is left to the site-packages test below.)
        self.prefixes = [p for p in prefixes if self._under(p, self.real_root) and p != self.real_root]
        self._venv_cache = {}

    @staticmethod
    def _under(path, top):
        return path == top or path.startswith(top.rstrip(os.sep) + os.sep)

    def _is_venv_dir(self, directory):
        hit = self._venv_cache.get(directory)
        if hit is None:
            hit = os.path.isfile(os.path.join(directory, "pyvenv.cfg"))
            self._venv_cache[directory] = hit
        return hit

    def owns(self, path):
        if not path or not os.path.isabs(path):  # "<frozen importlib._bootstrap>", "<string>"
            return False
        # Cheap test first (sys.modules holds hundreds of site-packages files): a file of the project is
        # reached through the root as it was put on sys.path. (One linked in from elsewhere is not seen.)
        if not (self._under(path, self.root) or self._under(path, self.real_root)):
            return False
        real = os.path.realpath(path)
        if not self._under(real, self.real_root) or real == self.real_root:
            return False
        for p in self.prefixes:
            if self._under(real, p):
                return False
        parts = os.path.relpath(real, self.real_root).split(os.sep)
        directory = self.real_root
        for part in parts[:-1]:
            if part in VENV_DIRS:
                return False
            directory = os.path.join(directory, part)
            if self._is_venv_dir(directory):
                return False
        return True

    def rel(self, path):
        real = os.path.realpath(path)
        if self._under(real, self.real_root):
            return os.path.relpath(real, self.real_root)
        return path


# ---------------------------------------------------------------------------------------------------
# Importing the project


def import_failure(project, name, exc):
    """The Failure for an exception raised while importing module `name`."""
    import traceback

    frames = traceback.extract_tb(exc.__traceback__)
    own = [f for f in frames if project.owns(f.filename)]
    if isinstance(exc, ModuleNotFoundError):
        missing = getattr(exc, "name", None) or ""
        # The SPEC's module itself (or a package above it) is missing: a path or interpreter problem.
        if missing and (name == missing or name.startswith(missing + ".")):
            shown = ", ".join(repr(p) for p in sys.path[:5])
            more = ", ..." if len(sys.path) > 5 else ""
            return Failure(
                "cannot import %r: %s" % (name, exc),
                "working directory: %s" % os.getcwd(),
                "project root: %s" % project.root if os.path.realpath(os.getcwd()) != project.real_root else None,
                "sys.path: [%s%s]" % (shown, more),
                "python: %s (%s)" % (sys.executable, sys.version.split()[0]),
                "hint: run alembix from the project root (the directory that holds the %r package), or %s"
                % (missing.split(".")[0], INTERPRETER_HINT),
            )
    culprit = name
    if isinstance(exc, SyntaxError) and exc.filename and project.owns(exc.filename):
        culprit = module_name_for_file(exc.filename) or name
    else:
        tb = exc.__traceback__
        while tb is not None:
            code = tb.tb_frame.f_code
            if code.co_name == "<module>" and project.owns(code.co_filename):
                culprit = tb.tb_frame.f_globals.get("__name__") or culprit
            tb = tb.tb_next
    kind = type(exc).__name__
    message = str(exc) if not isinstance(exc, SyntaxError) else (exc.msg or str(exc))
    if isinstance(exc, SystemExit):
        message = "exit status %r" % (exc.code,)
    first, _, rest = message.partition("\n")
    lines = ["importing %r raised %s: %s" % (culprit, kind, first) if first else
             "importing %r raised %s" % (culprit, kind)]
    if rest:
        lines.extend(rest.rstrip("\n").split("\n"))
    if own:
        shown = own
    elif isinstance(exc, SyntaxError):
        shown = []
    else:  # raised outside the project's files: its last frames, without the import machinery
        shown = [f for f in frames if not f.filename.startswith("<frozen")][-2:]
    if shown:
        lines.append("traceback (%smost recent call last):" % ("project frames, " if own else ""))
        if len(shown) > TRACEBACK_FRAMES:
            lines.append("  ...")
            shown = shown[-TRACEBACK_FRAMES:]
        for f in shown:
            lines.append('  File "%s", line %s, in %s' % (project.rel(f.filename), f.lineno, f.name))
            if f.line:
                lines.append("    " + f.line.strip())
    if isinstance(exc, SyntaxError) and exc.filename:
        lines.append('  File "%s", line %s' % (project.rel(exc.filename), exc.lineno))
        if exc.text:
            lines.append("    " + exc.text.strip())
    if isinstance(exc, ModuleNotFoundError):
        lines.append("hint: is %r installed in this Python (%s)? If not, %s"
                     % (getattr(exc, "name", None) or "it", sys.executable, INTERPRETER_HINT))
    return Failure(*lines)


def module_name_for_file(path):
    real = os.path.realpath(path)
    for entry in sys.path:
        top = os.path.realpath(entry or os.getcwd())
        if real.startswith(top.rstrip(os.sep) + os.sep):
            rel = os.path.splitext(os.path.relpath(real, top))[0].split(os.sep)
            if rel and rel[-1] == "__init__":
                rel = rel[:-1]
            if rel and all(p.isidentifier() for p in rel):
                return ".".join(rel)
    return None


def import_module(project, name):
    import importlib

    try:
        return importlib.import_module(name)
    except BaseException as exc:  # noqa: B902 - SystemExit and KeyboardInterrupt in a model too
        if isinstance(exc, KeyboardInterrupt):
            raise
        raise import_failure(project, name, exc)


def import_tree(project, module, walked_dirs):
    """`module`, then every module below it when it is a package of the project (depth first, by name)."""
    import pkgutil

    found = [module]
    path = getattr(module, "__path__", None)
    if path is None:
        return found
    dirs = [d for d in list(path) if project.owns(os.path.join(d, "__init__.py"))]
    if not dirs:
        return found
    walked_dirs.update(os.path.abspath(d) for d in dirs)
    for info in pkgutil.iter_modules(dirs):
        sub = info.name
        if sub == "__main__" or not sub.isidentifier():
            continue
        child = import_module(project, module.__name__ + "." + sub)
        found.extend(import_tree(project, child, walked_dirs))
    return found


# ---------------------------------------------------------------------------------------------------
# Finding the metadata


class Finder(object):
    """Classifies the objects of a module namespace; remembers where each MetaData was seen."""

    def __init__(self, sa, project):
        self.MetaData = sa.MetaData
        self.Table = sa.Table
        try:
            from sqlalchemy.orm import registry
        except ImportError:  # pragma: no cover - SQLAlchemy < 1.4
            registry = ()
        self.registry = registry
        self.project = project
        self.seen = {}  # id(metadata) -> [metadata, [(rank, order, label)]]
        self.order = []  # ids in the order first seen
        self.count = 0
        self._defined = {}
        import sqlalchemy.orm as orm

        self.base_makers = [m for m in (getattr(orm, "declarative_base", None), orm, registry) if m]
        ext = sys.modules.get("sqlalchemy.ext.declarative")
        if ext is not None and getattr(ext, "declarative_base", None) is not None:
            self.base_makers.append(ext.declarative_base)

    def base_of(self, cls):
        """The class in cls's MRO that holds the MetaData in its own __dict__, or None."""
        try:
            mro = cls.__mro__
        except Exception:
            return None
        for klass in mro:
            value = klass.__dict__.get("metadata") if hasattr(klass, "__dict__") else None
            if isinstance(value, self.MetaData):
                return klass
        return None

    def holder(self, obj):
        """The MetaData `obj` stands for (itself, or its .metadata), or None."""
        if isinstance(obj, self.MetaData):
            return obj
        if isinstance(obj, type):
            base = self.base_of(obj)
            return base.__dict__["metadata"] if base is not None else None
        if isinstance(obj, self.Table) or (self.registry and isinstance(obj, self.registry)):
            return obj.metadata
        try:
            value = getattr(obj, "metadata", None)
        except Exception:
            return None
        return value if isinstance(value, self.MetaData) else None

    def _add(self, md, rank, label):
        key = id(md)
        if key not in self.seen:
            self.seen[key] = [md, []]
            self.order.append(key)
        self.count += 1
        self.seen[key][1].append((rank, self.count, label))

    def definition_label(self, cls):
        """`pkg:Name` where the base class is defined (the shortest module path that exposes it under its own
        name), with that module; (None, None) when unknown."""
        key = id(cls)
        if key not in self._defined:
            self._defined[key] = self._find_definition(cls)
        return self._defined[key]

    def _find_definition(self, cls):
        modname = getattr(cls, "__module__", None) or ""
        name = getattr(cls, "__name__", None)
        parts = modname.split(".")
        for i in range(1, len(parts) + 1):
            mod = sys.modules.get(".".join(parts[:i]))
            if mod is not None and getattr(mod, name, None) is cls:
                return "%s:%s" % (".".join(parts[:i]), name), mod
        # declarative_base() makes classes whose __module__ is SQLAlchemy's: take the project module that
        # binds the class and also has declarative_base (or the orm module, or a registry) at hand.
        makers = self.base_makers
        for modname, mod in sorted(list(sys.modules.items())):
            if mod is None or not self.project.owns(getattr(mod, "__file__", None)):
                continue
            try:
                items = list(vars(mod).items())
            except TypeError:
                continue
            bound = [n for n, v in items if v is cls and not n.startswith("_")]
            if bound and any(v is m for _, v in items for m in makers):
                return "%s:%s" % (modname, name if name in bound else bound[0]), mod
        return None, None

    def scan(self, module, found):
        """Remember every metadata reachable from the module's namespace; append new ones to `found`."""
        modname = module.__name__
        try:
            items = list(vars(module).items())
        except TypeError:
            return
        before = self.count
        for name, obj in items:
            if name.startswith("__"):
                continue
            label = "%s:%s" % (modname, name)
            if isinstance(obj, self.MetaData):
                self._add(obj, 2, label)
            elif isinstance(obj, type):
                base = self.base_of(obj)
                if base is None:
                    continue
                md = base.__dict__["metadata"]
                if base is obj:
                    # A base defined here ranks first; a base imported here, second.
                    self._add(md, 0 if getattr(obj, "__module__", None) == modname else 1, label)
                else:
                    self._add(md, 4, label)  # a mapped class: Model.metadata is the base's
                where, mod = self.definition_label(base)
                if where is not None:
                    self._add(md, 0 if self.project.owns(getattr(mod, "__file__", None)) else 5, where)
            elif isinstance(obj, self.Table) or (self.registry and isinstance(obj, self.registry)):
                self._add(obj.metadata, 3, label)
        if self.count != before:
            for key in self.order:
                md = self.seen[key][0]
                if all(md is not f for f in found) and any(c > before for _, c, _ in self.seen[key][1]):
                    found.append(md)

    def label(self, md):
        return min(self.seen[id(md)][1])[2]


def table_summary(md):
    names = sorted(md.tables)
    shown = ", ".join(names[:5]) + (", ..." if len(names) > 5 else "")
    return "%d table%s%s" % (len(names), "" if len(names) == 1 else "s", (": " + shown) if names else "")


def namespace_candidates(finder, obj):
    """Public names in obj's namespace (a module or a class) bound to a base, a MetaData or a registry."""
    try:
        items = list(vars(obj).items())
    except TypeError:
        return []
    out = []
    for name, value in items:
        if name.startswith("_"):
            continue
        if isinstance(value, finder.MetaData) or (finder.registry and isinstance(value, finder.registry)):
            out.append(name)
        elif isinstance(value, type) and finder.base_of(value) is value:
            out.append(name)
    return out


def resolve(sa, project, finder, spec, walked_dirs):
    """One SPEC: [(metadata, label)] (several for a list of them, as Alembic's target_metadata may be)."""
    modname, sep, attr = spec.partition(":")
    modname, attr = modname.strip(), attr.strip()
    if not modname or (sep and not attr) or not all(p.isidentifier() for p in modname.split(".")) or (
        attr and not all(p.isidentifier() for p in attr.split("."))
    ):
        raise Failure(
            "invalid models spec %r: expected module or module:attribute, e.g. 'app.models' or 'app.db:Base'"
            % spec
        )
    module = import_module(project, modname)
    modules = import_tree(project, module, walked_dirs)
    found = []
    for m in modules:
        finder.scan(m, found)
    if attr:
        obj, path = module, modname
        for part in attr.split("."):
            try:
                nxt = getattr(obj, part)
            except AttributeError:
                lines = ["%r has no attribute %r" % (path, part)]
                names = namespace_candidates(finder, obj)
                prefix = path + ("." if ":" in path else ":")
                if names:
                    lines.append("candidates in %r: %s" % (path, ", ".join(names)))
                    import difflib

                    close = difflib.get_close_matches(part, names, n=1, cutoff=0.5)
                    if close:
                        lines.append("hint: did you mean %r?" % (prefix + close[0]))
                elif obj is module:
                    shown = [md for md in found if md.tables] or found
                    if shown:
                        where = " or its submodules" if hasattr(module, "__path__") else ""
                        lines.append("models found in it%s: %s" % (where, ", ".join(
                            "%s (%s)" % (finder.label(md), table_summary(md)) for md in shown)))
                        lines.append("hint: use %r, or just %r to let alembix find them"
                                     % (finder.label(shown[0]), modname))
                    else:
                        lines.append("no %s was found in %r" % (WHAT, modname))
                raise Failure(*lines)
            except Exception as exc:
                raise Failure("reading %s.%s raised %s: %s" % (path, part, type(exc).__name__, exc))
            obj = nxt
            path = path + ("." if ":" in path else ":") + part
        items = list(obj) if isinstance(obj, (list, tuple)) else [obj]  # Alembic's target_metadata = [a, b]
        out = []
        for i, item in enumerate(items):
            md = finder.holder(item)
            if md is None:
                where = path if item is obj else "%s[%d]" % (path, i)
                raise Failure(
                    "%r is %s, not a %s" % (where, describe(item), WHAT),
                    "hint: name the declarative base or the MetaData that holds the tables, e.g. 'app.db:Base'",
                )
            out.append((md, path if item is obj else "%s[%d]" % (path, i)))
        if not out:
            raise Failure("%r is an empty %s" % (path, type(obj).__name__))
        return out
    if not found:
        where = "in it or its submodules" if hasattr(module, "__path__") else "in it"
        raise Failure(
            "%r defines no SQLAlchemy models: no %s was found %s" % (modname, WHAT, where),
            "hint: name the module and the object that hold the models as module:attribute, e.g. 'app.db:Base'",
        )
    with_tables = [md for md in found if md.tables]
    if len(with_tables) > 1:
        labels = [finder.label(md) for md in with_tables]
        lines = ["%r holds %d SQLAlchemy metadata objects with tables; name the one to use as module:attribute"
                 % (modname, len(with_tables))]
        for md, label in zip(with_tables, labels):
            lines.append("  %s (%s)" % (label, table_summary(md)))
        lines.append("hint: use one of them, e.g. %r, or several separated by commas: %r"
                     % (labels[0], ",".join(labels)))
        raise Failure(*lines)
    md = with_tables[0] if with_tables else found[0]
    return [(md, finder.label(md))]


def describe(obj):
    kind = type(obj)
    name = "%s.%s" % (kind.__module__, kind.__qualname__) if kind.__module__ != "builtins" else kind.__name__
    article = "an" if name[:1].lower() in "aeiou" else "a"
    return "%s %s" % (article, name)


# ---------------------------------------------------------------------------------------------------
# Rendering


class RenderFailure(Exception):
    def __init__(self, element, exc):
        Exception.__init__(self, str(exc))
        self.element = element
        self.exc = exc


def sa_message(exc):
    text = str(exc)
    cut = text.find(" (Background on this error at:")
    return (text[:cut] if cut >= 0 else text).strip()


def type_name(dialect, col_type):
    """The class name of the column's type as the dialect sees it (its variant for the dialect, if any)."""
    mapping = getattr(col_type, "_variant_mapping", None) or {}
    resolved = mapping.get(dialect.name, col_type)
    if type(resolved).__name__ == "Variant":  # SQLAlchemy 1.4
        resolved = resolved.mapping.get(dialect.name, resolved.impl)
    return type(resolved).__name__


def column_failure(sa, dialect, table, exc):
    """Name the column whose type `dialect` cannot render, when that is what failed."""
    compiler = getattr(dialect, "type_compiler_instance", None) or dialect.type_compiler
    for col in table.columns:
        try:
            compiler.process(col.type, type_expression=col)
        except (sa.exc.UnsupportedCompilationError, sa.exc.CompileError) as e:
            tname = type_name(dialect, col.type)
            lines = ["table %r column %r: type %s cannot be rendered for %s" % (table.name, col.name, tname,
                                                                                 dialect.name)]
            if not isinstance(e, sa.exc.UnsupportedCompilationError):
                lines.append(sa_message(e))
            if "requires a length" in str(e):
                lines.append("hint: give it a length, e.g. String(255)")
            else:
                example = "ARRAY(...)" if tname == "ARRAY" else tname + "()"
                other = "JSON()" if tname in ("ARRAY", "JSONB", "HSTORE") else "<a type %s has>" % dialect.name
                lines.append('hint: give the type a variant for %s: %s.with_variant(%s, "%s")'
                             % (dialect.name, example, other, dialect.name))
            return Failure(*lines)
    return None


def render(sa, dialect_name, chosen):
    """(statements, table names) for the chosen [(metadata, label)], in create_all order."""
    statements, tables = [], []
    seen_types = set()

    def executor(sql, *multiparams, **params):
        try:
            text = str(sql.compile(dialect=engine.dialect)).strip()
        except Exception as exc:
            raise RenderFailure(sql, exc)
        kind = type(sql).__name__
        if kind.startswith("Create") and kind.endswith("Type"):  # a PostgreSQL ENUM/DOMAIN shared by two specs
            if text in seen_types:
                return
            seen_types.add(text)
        if kind == "CreateTable":
            tables.append(sql.element.fullname)
        if text:
            statements.append(text)

    engine = sa.create_mock_engine(dialect_name + "://", executor)
    dialect = engine.dialect
    defined = {}  # table key -> (label, ddl)
    for md, label in chosen:
        subset = None
        if len(chosen) > 1:
            subset = []
            for key, table in md.tables.items():
                ddl = table_ddl(sa, dialect, table)
                if key in defined:
                    if defined[key][1] != ddl:
                        raise Failure(
                            "table %r is defined differently by %r and %r" % (key, defined[key][0], label),
                            "hint: name each table in one place only, or drop one of the specs",
                        )
                    continue
                defined[key] = (label, ddl)
                subset.append(table)
            if not subset:
                continue
        try:
            md.create_all(engine, checkfirst=False, tables=subset)
        except RenderFailure as rf:
            raise render_failure(sa, dialect, rf.element, rf.exc)
        except sa.exc.SQLAlchemyError as exc:
            raise Failure("cannot render the DDL of %r for %s: %s" % (label, dialect.name, sa_message(exc)),
                          missing_table_hint(sa, exc))
    return statements, tables


def table_ddl(sa, dialect, table):
    try:
        text = [str(sa.schema.CreateTable(table).compile(dialect=dialect))]
        text.extend(str(sa.schema.CreateIndex(ix).compile(dialect=dialect))
                    for ix in sorted(table.indexes, key=lambda ix: ix.name or ""))
    except Exception as exc:
        raise render_failure(sa, dialect, sa.schema.CreateTable(table), exc)
    return "\n".join(text)


def missing_table_hint(sa, exc):
    if isinstance(exc, sa.exc.NoReferencedTableError):
        return ("hint: no model defines table %r: import the module that defines it (or move it into the "
                "package named by `models`), or fix the name" % exc.table_name)
    return None


def render_failure(sa, dialect, element, exc):
    target = getattr(element, "element", None)
    table = target if isinstance(target, sa.Table) else getattr(target, "table", None)
    if isinstance(table, sa.Table):
        found = column_failure(sa, dialect, table, exc)
        if found is not None:
            return found
        return Failure("table %r cannot be rendered for %s: %s" % (table.name, dialect.name, sa_message(exc)),
                       missing_table_hint(sa, exc))
    return Failure("cannot render %s for %s: %s" % (type(element).__name__, dialect.name, sa_message(exc)))


# ---------------------------------------------------------------------------------------------------


class Early(object):
    """Prints the statements of tables defined so far while the models are imported (``--early``).

    The statements are compiled directly (``CreateTable``, ``CreateIndex``, the comments), as ``create_all``
    compiles them for a table outside foreign-key cycles, but without ``create_all``: no DDL event of the
    project or of a library fires early (a ``once`` listener would be used up, a listener that changes the
    table would run half). Whatever differs from the final DDL is caught by alembix, which compares.
    """

    CHUNK = 8

    def __init__(self, sa, dialect_name, project, out_fd):
        import json

        self.sa, self.project, self.out_fd, self.json = sa, project, out_fd, json
        # Loading the dialect defines SQLAlchemy's own catalog tables: before the listener is installed.
        self.dialect = sa.create_mock_engine(dialect_name + "://", None).dialect
        self.pending = []  # tables defined by the project, not printed yet (the newest may still change)
        self.printed = set()  # keys of the tables printed
        self.dropped = set()  # keys of tables that cannot be printed early (they wait for the final DDL)
        self.types_printed = set()  # (schema, name) of the PostgreSQL enums whose CREATE TYPE was printed
        self.pg_enum = self.create_enum = None
        if dialect_name == "postgresql":
            from sqlalchemy.dialects.postgresql import base as pg

            self.pg_enum, self.create_enum = pg.ENUM, pg.CreateEnumType
        self._owned = {}
        self.off = False

    def _from_project(self):
        frame = sys._getframe(2)
        for _ in range(60):
            if frame is None:
                return False
            name = frame.f_code.co_filename
            hit = self._owned.get(name)
            if hit is None:
                hit = self._owned[name] = self.project.owns(name)
            if hit:
                return True
            frame = frame.f_back
        return False

    def attached(self, table, parent):
        # Called inside the project's import: whatever goes wrong here must not disturb it (the final DDL
        # is printed as without --early).
        if self.off:
            return
        try:
            if not isinstance(parent, self.sa.MetaData) or not self._from_project():
                return
            if len(self.pending) >= self.CHUNK:
                self.flush()
            self.pending.append(table)
        except Exception:
            self.off = True

    def _named_types(self, table):
        """The types `table` needs created first (PostgreSQL enums), or None when one of its types cannot be
        created early: a schema type other than Boolean and Enum, or an enum ``create_all`` would not
        create. On MySQL and SQLite an enum is part of its column (or a CHECK constraint of the table)."""
        sa, out = self.sa, []
        for col in table.columns:
            for typ in (col.type, getattr(col.type, "impl", None)):
                if not isinstance(typ, sa.types.SchemaType) or isinstance(typ, sa.types.Boolean):
                    continue
                if not isinstance(typ, sa.types.Enum):
                    return None
                if self.dialect.name != "postgresql":
                    continue
                impl = typ.dialect_impl(self.dialect)
                if not (isinstance(impl, self.pg_enum) and impl.name and getattr(impl, "create_type", False)
                        and getattr(impl, "native_enum", True)):
                    return None
                out.append(impl)
        return out

    def _ready(self, table):
        for fkc in table.foreign_key_constraints:
            if getattr(fkc, "use_alter", False):
                return False
        for fk in table.foreign_keys:
            target = fk.target_fullname.rsplit(".", 1)[0]
            if target != table.key and target not in self.printed:
                return False
        return True

    def _statements(self, table, named_types):
        """What create_all prints for `table` (outside a cycle), or None when it cannot be compiled now: the
        CREATE TYPE of each of its `named_types` that no table printed before needed, first."""
        schema, d = self.sa.schema, self.dialect
        try:
            types = {}
            for impl in named_types:
                key = (impl.schema, impl.name)
                if key not in self.types_printed and key not in types:
                    types[key] = str(self.create_enum(impl).compile(dialect=d)).strip()
            out = [schema.CreateTable(table)]
            out.extend(schema.CreateIndex(ix) for ix in table.indexes)
            if d.supports_comments and not d.inline_comments:
                if table.comment is not None:
                    out.append(schema.SetTableComment(table))
                out.extend(schema.SetColumnComment(c) for c in table.columns if c.comment is not None)
            compiled = [t for t in (str(x.compile(dialect=d)).strip() for x in out) if t]
            self.types_printed.update(types)
            return list(types.values()) + compiled
        except Exception:
            return None

    def flush(self):
        """Print the pending tables that are ready, all but the newest (it may still change)."""
        newest = self.pending[-1:]
        statements, waiting = [], []
        for t in self.pending[:-1]:
            if t.key in self.printed or t.key in self.dropped:
                continue
            named_types = self._named_types(t)
            if named_types is None:
                self.dropped.add(t.key)
                continue
            if not self._ready(t):
                waiting.append(t)
                continue
            one = self._statements(t, named_types)
            if one is None:
                self.dropped.add(t.key)
            else:
                self.printed.add(t.key)  # later ones in this round may name it
                statements.extend(one)
        self.pending = waiting + newest
        if statements:
            line = self.json.dumps({"early": statements}) + "\n"
            write_all(self.out_fd, line.encode("utf-8"))


def project_sources(project):
    out = set()
    for name, mod in list(sys.modules.items()):
        if name == "__main__" or mod is None:
            continue
        try:
            path = getattr(mod, "__file__", None)
        except Exception:
            continue
        if isinstance(path, str) and project.owns(path):
            out.add(os.path.abspath(path))
    return sorted(out)


def run(argv, out_fd):
    opts = parse_args(argv)
    sys.argv[1:] = []  # settings that read the command line at import time must not see alembix's
    setup_path(opts["root"])
    project = Project(opts["root"])
    distrust_stale_bytecode(project)
    try:
        import sqlalchemy as sa
        import sqlalchemy.schema  # noqa: F401
    except ImportError as exc:
        raise Failure(
            "cannot import 'sqlalchemy': %s" % exc,
            "python: %s (%s)" % (sys.executable, sys.version.split()[0]),
            "hint: this Python does not have SQLAlchemy; %s" % INTERPRETER_HINT,
        )
    version = tuple(int(p) if p.isdigit() else 0 for p in sa.__version__.split(".")[:2])
    if version < (1, 4):
        raise Failure("SQLAlchemy %s is too old: alembix needs 1.4 or later" % sa.__version__)
    finder = Finder(sa, project)
    walked = set()
    chosen = []
    early = None
    if opts["early"] and opts["json"]:
        early = Early(sa, opts["dialect"], project, out_fd)
        sa.event.listen(sa.Table, "after_parent_attach", early.attached)
    try:
        for spec in [s.strip() for s in opts["models"].split(",") if s.strip()]:
            for md, label in resolve(sa, project, finder, spec, walked):
                if all(md is not m for m, _ in chosen):
                    chosen.append((md, label))
    finally:
        if early is not None:
            sa.event.remove(sa.Table, "after_parent_attach", early.attached)
    statements, tables = render(sa, opts["dialect"], chosen)
    ddl = "".join(s + ";\n\n" for s in statements)
    warnings = []
    for md, label in chosen:
        mod = sys.modules.get(label.split(":", 1)[0])
        if not md.tables and not project.owns(getattr(mod, "__file__", None)):
            warnings.append("%r has no tables: it is outside the project, and nothing imported the project's "
                            "models; name the package that holds them, e.g. 'app.models'" % label)
    for w in warnings:
        sys.stderr.write("warning: %s\n" % w)
    if opts["json"]:
        import json

        payload = {
            "ddl": ddl,
            "tables": tables,
            "metadata": [label for _, label in chosen],
            "sources": project_sources(project),
            "directories": sorted(walked),
            "dialect": opts["dialect"],
            "sqlalchemy": sa.__version__,
            "python": sys.executable,
            "runtime": runtime_files(sa),
            "warnings": warnings,
        }
        data = json.dumps(payload, indent=None) + "\n"
    else:
        data = ddl
    write_all(out_fd, data.encode("utf-8"))


def runtime_files(sa):
    """The interpreter and SQLAlchemy's ``__init__.py``: a new Python or an upgraded SQLAlchemy may print
    other DDL for the same models, and either rewrites its file."""
    out = []
    for path in (sys.executable, getattr(sa, "__file__", None)):
        if isinstance(path, str) and path:
            out.append(os.path.realpath(path))
    return out


def write_all(fd, data):
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        view = view[n:]


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    # A short-lived process that creates hundreds of thousands of objects importing the models: the cycle
    # collector's full passes were a fifth of its time. Collections still run, far less often.
    import gc

    gc.set_threshold(100000, 50, 1000)
    # Whatever the project prints while it is imported goes to stderr: stdout carries only the DDL.
    sys.stdout.flush()
    out_fd = os.dup(1)
    os.dup2(2, 1)
    try:
        run(argv, out_fd)
    except HelpRequested:
        write_all(out_fd, (USAGE + "\n\n" + __doc__.strip() + "\n").encode("utf-8"))
    except Failure as failure:
        emit_error(failure.lines)
        return EXIT_ERROR
    except KeyboardInterrupt:
        emit_error(["interrupted"])
        return EXIT_ERROR
    except Exception as exc:  # a bug here, not in the project: say so, with the whole traceback
        import traceback

        emit_error(["alembix_models.py failed unexpectedly: %s: %s" % (type(exc).__name__, exc),
                    "python %s, SQLAlchemy %s" % (sys.version.split()[0],
                                                  getattr(sys.modules.get("sqlalchemy"), "__version__", "?")),
                    traceback.format_exc().rstrip()])
        return EXIT_ERROR
    finally:
        try:
            sys.stdout.flush()
        except Exception:
            pass
        os.close(out_fd)
    return 0


def emit_error(lines):
    text = "\n".join(lines) + "\n"
    try:
        sys.stdout.flush()
    except Exception:
        pass
    stream = getattr(sys.stderr, "buffer", None)
    if stream is not None:
        stream.write(text.encode("utf-8", "replace"))
        stream.flush()
    else:
        sys.stderr.write(text)
        sys.stderr.flush()


def exit_now(code):
    """End the process without the interpreter's teardown.

    Tearing down an interpreter that holds a few hundred models (every module, SQLAlchemy's registries, and
    a last pass of the cycle collector over all of it) took 0.35-0.45 s after 300 models had been printed:
    a third of the import's own time, and alembix waits for the process to end. Nothing of it is needed.
    What a normal exit does that can matter still happens: the ``atexit`` functions run (``logging``'s
    flush, a project's own clean-up), and the standard streams are flushed.
    """
    try:
        import atexit

        run_exitfuncs = getattr(atexit, "_run_exitfuncs", None)
        if run_exitfuncs is not None:
            run_exitfuncs()
    except BaseException:
        pass
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except BaseException:
            pass
    os._exit(code)


if __name__ == "__main__":
    exit_now(main())
