"""Every package the code imports is declared in pyproject.toml, so a fresh install runs it.

A package that only arrives as another one's dependency can vanish when that one changes: each
import in bot/ and integrations/ must come from a distribution listed in `dependencies` (or, in
integrations/, the optional `listen` extra, which listen.py imports only when used), each
import in tests/ from one listed there or in the `test` extra, and in bench/ also the `bench`
extra. A module name maps to its distribution by importlib.metadata; where several share a
namespace (google.auth, google.oauth2, google.protobuf), by the file the import loads.
"""

from __future__ import annotations

import ast
import importlib.metadata
import importlib.util
import re
import sys
import tomllib
from functools import cache
from pathlib import Path

import pytest

from tests.conftest import ROOT

FIRST_PARTY = {"bot", "integrations", "tests", "bench"}


def canonical(name: str) -> str:
    """A distribution name as PyPI compares them (PEP 503)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def declared(*extras: str) -> set[str]:
    """The distributions the dependencies and `extras` name; an extra may name another one of
    the project's own ("tandem[listen]")."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    requirements = list(project["dependencies"])
    for extra in extras:
        requirements += project["optional-dependencies"][extra]
    names: set[str] = set()
    for requirement in requirements:
        if own := re.fullmatch(rf"{project['name']}\[([\w,-]+)\]", requirement):
            names |= declared(*own[1].split(","))
        elif name := re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", requirement):
            names.add(canonical(name[0]))
    return names


def imported_modules(folder: Path) -> dict[str, str]:
    """Each third-party module imported by the code in `folder`, and one file that imports it."""
    found: dict[str, str] = {}
    for path in sorted(folder.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                # "from opentelemetry import trace": the module may be what is imported.
                names = [f"{node.module}.{alias.name}" for alias in node.names]
            else:
                continue
            for name in names:
                top = name.partition(".")[0]
                if top not in FIRST_PARTY and top not in sys.stdlib_module_names:
                    found.setdefault(name, str(path.relative_to(ROOT)))
    return found


@cache
def top_level_distributions() -> dict[str, list[str]]:
    return importlib.metadata.packages_distributions()


@cache
def distributions_by_file() -> dict[Path, str]:
    owners: dict[Path, str] = {}
    for distribution in importlib.metadata.distributions():
        for file in distribution.files or []:
            if file.suffix == ".py":
                owners[Path(str(file.locate())).resolve()] = canonical(
                    distribution.metadata["Name"]
                )
    return owners


def distribution_of(name: str) -> str | None:
    """The installed distribution whose files hold the module `name` (or, for a name imported
    from a module, that module's), or None if it is not installed."""
    candidates = top_level_distributions().get(name.partition(".")[0], [])
    if len(set(candidates)) == 1:
        return canonical(candidates[0])
    # Several distributions share a namespace ("google"): the file imported tells which.
    parts = name.split(".")
    for length in range(len(parts), 0, -1):
        try:
            spec = importlib.util.find_spec(".".join(parts[:length]))
        except ModuleNotFoundError:  # a name from a module that is no package
            continue
        if spec is not None and spec.origin is not None:  # namespace packages have no origin
            return distributions_by_file().get(Path(spec.origin).resolve())
    return None


@pytest.mark.parametrize(
    ("folder", "extras"),
    [
        ("bot", ()),
        ("integrations", ("listen",)),  # listen.py imports its extra when first used
        ("tests", ("test",)),
        ("bench", ("test", "bench")),
    ],
)
def test_every_imported_package_is_declared(folder: str, extras: tuple[str, ...]) -> None:
    allowed = declared(*extras)
    undeclared: dict[str, str] = {}
    for name, where in imported_modules(ROOT / folder).items():
        distribution = distribution_of(name)
        if distribution is None and canonical(name.partition(".")[0]) in allowed:
            continue  # an extra not installed here (bench's), declared under the module's name
        if distribution not in allowed:
            undeclared.setdefault(distribution or f"nothing installed has {name}", where)
    assert not undeclared, "imported but not declared in pyproject.toml:\n" + "\n".join(
        f"{distribution} (imported in {where})" for distribution, where in undeclared.items()
    )
