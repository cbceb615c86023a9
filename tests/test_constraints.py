"""constraints.txt pins everything the Makefile's installs resolve, so a clean clone installs what CI tested."""

from __future__ import annotations

import re
import tomllib
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

REPO = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
TEST_EXTRAS = re.search(r"^TEST_EXTRAS := (.+)$", (REPO / "Makefile").read_text(), re.MULTILINE)


def pins() -> dict[str, str]:
    """constraints.txt as {canonical name: version}."""
    found: dict[str, str] = {}
    for line in (REPO / "constraints.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, _, pinned = line.partition("==")
            assert pinned and ";" not in pinned, f"constraints.txt: {line!r} is not `name==version`"
            found[canonicalize_name(name)] = pinned
    return found


def test_every_dependency_the_installs_name_is_pinned_within_its_range() -> None:
    assert TEST_EXTRAS, "Makefile: TEST_EXTRAS names the extras `make install-dev` and `make lock` use"
    extras = TEST_EXTRAS.group(1).split(",")
    requirements = [Requirement(r) for r in PYPROJECT["dependencies"]]
    requirements += [Requirement(r) for extra in extras for r in PYPROJECT["optional-dependencies"][extra]]
    locked = pins()
    for req in requirements:
        if req.marker is not None and not req.marker.evaluate():
            continue
        name = canonicalize_name(req.name)
        assert name in locked, f"{req.name} is not in constraints.txt: run `make lock`"
        assert req.specifier.contains(locked[name], prereleases=True), (
            f"constraints.txt pins {req.name}=={locked[name]}, outside pyproject's {req.specifier}: run `make lock`"
        )


def test_the_environment_is_the_locked_one() -> None:
    """What `make install-dev` installed is what constraints.txt pins (a local build label such as +cpu aside)."""
    drifted = []
    for name, pinned in pins().items():
        try:
            installed = version(name)
        except PackageNotFoundError:
            continue  # constraints only bound what an install pulls in
        if installed.split("+", 1)[0] != pinned:
            drifted.append(f"{name} {installed} (pinned {pinned})")
    assert not drifted, f"reinstall with `make install-dev`: {', '.join(drifted)}"


def test_the_cpu_image_installs_with_the_same_pins() -> None:
    dockerfile = (REPO / "docker" / "Dockerfile").read_text()
    assert re.search(r"^COPY [^\n]*\bconstraints\.txt\b", dockerfile, re.MULTILINE)
    assert re.search(r"pip install [^\n&]*--constraint constraints\.txt", dockerfile)
