"""The package's surface: no client imported eagerly, a complete __all__, typed, clear extras."""

from __future__ import annotations

import ast
import importlib.metadata
import pathlib
import subprocess
import sys
import textwrap
import types

import pytest

import retrykit

PACKAGE_DIR = pathlib.Path(retrykit.__file__).parent
CLIENT_MODULES = ("httpx", "httpx2", "requests", "urllib3")

# Inserted first on sys.meta_path in a fresh interpreter, it makes the listed top-level
# packages (and their submodules) look uninstalled.
_HIDER = """
import sys

class _Hide:
    def __init__(self, names):
        self.names = frozenset(names)

    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in self.names:
            raise ModuleNotFoundError(f"No module named {name!r} (hidden)", name=name)
        return None

sys.meta_path.insert(0, _Hide(HIDDEN))
"""


def _run(code: str, *, hidden: tuple[str, ...] = ()) -> subprocess.CompletedProcess[str]:
    source = f"HIDDEN = {hidden!r}\n{_HIDER}\n{textwrap.dedent(code)}"
    return subprocess.run(  # noqa: S603 - our own interpreter running our own code
        [sys.executable, "-c", source],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def test_import_pulls_in_no_http_client() -> None:
    """`import retrykit` loads neither httpx, httpx2, requests nor urllib3."""
    result = _run(
        f"""
        import retrykit
        print(sorted(name for name in {CLIENT_MODULES!r} if name in sys.modules))
        """
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_import_works_without_any_client_installed() -> None:
    """retrykit and its core import and run with no HTTP client installed at all."""
    result = _run(
        """
        import retrykit
        policy = retrykit.RetryPolicy()
        print(retrykit.decide(policy, attempt=1, method="GET", status=503).reason)
        """,
        hidden=CLIENT_MODULES,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "retryable_status"


def test_all_is_sorted() -> None:
    """__all__ is in sorted() order, with no name twice."""
    assert retrykit.__all__ == sorted(set(retrykit.__all__))


def test_all_is_complete() -> None:
    """Every public name of the package is in __all__, and every name in __all__ exists."""
    public = {
        name
        for name, value in vars(retrykit).items()
        if not name.startswith("_")
        # Submodules (retrykit.requests, ...) are reached by import, not listed.
        and not isinstance(value, types.ModuleType)
        # `from __future__ import annotations` binds a compiler flag, not an API name.
        and type(value).__module__ != "__future__"
    }
    assert public == set(retrykit.__all__) - {"__version__"}
    for name in retrykit.__all__:
        assert hasattr(retrykit, name), name


def test_version_matches_the_distribution() -> None:
    """retrykit.__version__ is the installed distribution's version."""
    assert retrykit.__version__ == importlib.metadata.version("retrykit-http")


def test_py_typed_marker_ships() -> None:
    """The package carries py.typed, so type checkers use its annotations."""
    assert (PACKAGE_DIR / "py.typed").is_file()


@pytest.mark.parametrize(
    ("module", "hidden", "extra"),
    [
        ("retrykit.requests", ("requests",), "requests"),
        ("retrykit.requests", ("urllib3",), "requests"),
        ("retrykit.httpx", ("httpx",), "httpx"),
        ("retrykit.httpx2", ("httpx2",), "httpx2"),
    ],
)
def test_adapter_without_its_client_names_the_extra(
    module: str, hidden: tuple[str, ...], extra: str
) -> None:
    """Importing an adapter whose client is missing raises ImportError naming the extra."""
    if not (PACKAGE_DIR / f"{module.rpartition('.')[2]}.py").is_file():
        pytest.skip(f"{module} is not written yet")
    result = _run(
        f"""
        try:
            import {module}
        except ImportError as exc:
            print("ImportError:", exc)
        else:
            print("imported")
        """,
        hidden=hidden,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("ImportError:")
    assert f"pip install 'retrykit-http[{extra}]'" in result.stdout


# Clocks, randomness, I/O and clients have no place in the sans-IO core.
_FORBIDDEN_IN_CORE = frozenset(
    {
        "asyncio",
        "httpx",
        "httpx2",
        "logging",
        "os",
        "random",
        "requests",
        "secrets",
        "socket",
        "threading",
        "time",
        "urllib3",
        "uuid",
    }
)


@pytest.mark.parametrize(
    "path", sorted((PACKAGE_DIR / "_core").glob("*.py")), ids=lambda path: path.name
)
def test_core_imports_no_clock_randomness_io_or_client(path: pathlib.Path) -> None:
    """No module of retrykit._core imports a clock, randomness, I/O or an HTTP client."""
    imported: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            imported.update(alias.name.partition(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            imported.add(node.module.partition(".")[0])
    assert imported.isdisjoint(_FORBIDDEN_IN_CORE), imported & _FORBIDDEN_IN_CORE


# The layers, lowest first; a module may import its own layer and the ones below it.
LAYERS = {
    "_core": 0,
    "_clock": 1,
    "_errors": 1,
    "_observe": 2,
    "testing": 2,
    "_state": 3,
    "_fleet": 3,
    "_driver": 4,
    "_adapters": 5,
}


def _module_of(path: pathlib.Path) -> str:
    relative = path.relative_to(PACKAGE_DIR.parent).with_suffix("")
    return ".".join(relative.parts).removesuffix(".__init__")


def _imports(path: pathlib.Path) -> set[str]:
    """Every module a file imports at run time or for type checking, absolute names."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def _layer(module: str) -> int | None:
    parts = module.split(".")
    if parts[0] != "retrykit" or len(parts) < 2:
        return None
    return LAYERS.get(parts[1])


@pytest.mark.parametrize(
    "path",
    sorted(p for p in PACKAGE_DIR.rglob("*.py") if _layer(_module_of(p)) is not None),
    ids=lambda path: str(path.relative_to(PACKAGE_DIR)),
)
def test_no_layer_imports_a_layer_above_it(path: pathlib.Path) -> None:
    """The architecture holds: the core imports nothing of retrykit's, holders never call up."""
    own = _layer(_module_of(path))
    assert own is not None
    for imported in _imports(path):
        layer = _layer(imported)
        assert layer is None or layer <= own, f"{_module_of(path)} imports {imported}"
