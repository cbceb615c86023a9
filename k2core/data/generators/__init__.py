"""Seeded generators whose answers are known by construction; named ``gen:<name>`` as datasets."""

from __future__ import annotations

from k2core.data.generators import arith, countdown, knights, logic, ordering, programs, tabular
from k2core.data.generators.base import Generated, Generator, build_config

GENERATORS: dict[str, Generator] = {
    g.name: g
    for g in (
        Generator("arith", "math", arith.ArithConfig, arith.make),
        Generator("logic", "logic", logic.LogicConfig, logic.make),
        Generator("knights", "logic", knights.KnightsConfig, knights.make),
        Generator("ordering", "logic", ordering.OrderingConfig, ordering.make),
        Generator("countdown", "simulation", countdown.CountdownConfig, countdown.make),
        Generator("simulation", "simulation", programs.ProgramConfig, programs.make),
        Generator("tabular", "tabular", tabular.TabularConfig, tabular.make),
    )
}

__all__ = ["GENERATORS", "Generated", "Generator", "build_config"]
