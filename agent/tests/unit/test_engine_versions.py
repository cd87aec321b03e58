"""The oldest engine versions the agent declares (pyproject.toml) are the ones it checks at install
(each module's MIN_VERSION) and the ones the floor run tests (requirements/floor/)."""
import pathlib
import re
import tomllib

import pytest

from z4j_agent._common import require, version_tuple

AGENT = pathlib.Path(__file__).resolve().parents[2]
ENGINES = ["celery", "rq", "dramatiq", "huey", "arq", "taskiq"]


def three(parts):
    parts = tuple(parts)
    return parts + (0,) * (3 - len(parts))


def declared(engine):
    extras = tomllib.loads((AGENT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    return three(version_tuple(next(r for r in extras[engine] if r.startswith(f"{engine}>=")).split(">=")[1]))


def checked(engine):
    source = (AGENT / "src" / "z4j_agent" / f"{engine}.py").read_text()
    return three(int(p) for p in re.search(r"^MIN_VERSION = \(([\d, ]+)\)", source, re.M).group(1).split(","))


def pinned_for_the_floor_run(engine):
    pins = (AGENT.parent / "requirements" / "floor" / f"{engine}.txt").read_text()
    return three(version_tuple(re.search(rf"^{engine}(\[[^\]]*\])?==(\S+)$", pins, re.M).group(2)))


@pytest.mark.parametrize("engine", ENGINES)
def test_the_oldest_version_declared_is_the_one_checked_and_the_one_tested(engine):
    assert declared(engine) == checked(engine) == pinned_for_the_floor_run(engine)


def test_an_engine_older_than_that_is_refused_saying_what_is_needed():
    with pytest.raises(RuntimeError, match=r"^z4j_agent\.rq needs rq >= 2\.1 \(found 2\.0\.9\)$"):
        require("rq", "2.0.9", (2, 1))
    require("rq", "2.1.0", (2, 1))
    require("rq", "3.0.0", (2, 1))
