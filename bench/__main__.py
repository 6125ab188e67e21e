"""Every benchmark, one after another, then one table: `.venv/bin/python -m bench`.

Each benchmark starts Tandem's real core (in this process, or the real `tandem run`) against
local fake upstreams with a set latency, and prints its own figures as it finishes; the table
at the end gathers them, each a median over repeated runs with the runs' min-max, against its
target. Nothing is asserted: the exit status is 0 whatever the figures. Takes about twenty-five
minutes.

  .venv/bin/python -m bench                      everything
  .venv/bin/python -m bench --only voice_load    some of them (comma-separated module names)
  .venv/bin/python -m bench --quick              fewer rounds and 1,000 messages, to try it out

Each module also runs alone: .venv/bin/python -m bench.overhead, and so on.
"""

from __future__ import annotations

import argparse
import importlib
import time

from bench.common import Figure, figures_table, load_average, machine

BENCHMARKS = (
    "overhead",
    "concurrency",
    "critical_path",
    "voice_load",
    "model_use",
    "memory",
    "understanding_cost",
    "claude_reading",
    "time_libraries",
    "big_calendar",
    "listen",
    "lightness",
    "several",
)
QUICK = {  # module -> constants to lower for --quick
    "overhead": {"ROUNDS": 3, "MESSAGES": 100},
    "concurrency": {"ROUNDS": 2, "SINGLES": 3},
    "critical_path": {"RUNS": 3},
    "voice_load": {"ROUNDS": 2, "NOTES": 5},
    "memory": {"MESSAGES": 1_000},
    "understanding_cost": {"ROUNDS": 1, "ASKS": 1},
    "time_libraries": {"REPEATS": 1},
    "big_calendar": {"ROUNDS": 1},
    "listen": {"ROUNDS": 1, "NOTES": 3},
    "lightness": {"ROUNDS": 2, "MESSAGES": 20},
    "several": {"ROUNDS": 1},
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", help="comma-separated benchmarks: " + ", ".join(BENCHMARKS))
    parser.add_argument("--quick", action="store_true", help="fewer rounds, for trying it out")
    arguments = parser.parse_args()
    chosen = arguments.only.split(",") if arguments.only else list(BENCHMARKS)
    print(f"Machine: {machine()}; load average before: {load_average()}\n")
    figures: list[Figure] = []
    started = time.monotonic()
    for name in chosen:
        module = importlib.import_module(f"bench.{name}")
        if arguments.quick:
            for constant, value in QUICK.get(name, {}).items():
                setattr(module, constant, value)
        began = time.monotonic()
        print(f"== {name}: {module.__doc__.splitlines()[0]}", flush=True)
        if name == "memory":
            found, detail = module.measure(module.MESSAGES)
        else:
            found, detail = module.measure()
        print(figures_table(found))
        if detail:
            print(detail)
        print(f"({time.monotonic() - began:.0f} s)\n", flush=True)
        figures += found
    minutes = (time.monotonic() - started) / 60
    print(f"== All figures ({minutes:.1f} min; load average after: {load_average()})")
    print(f"Machine: {machine()}")
    print(figures_table(figures))
    met = sum(figure.met is True for figure in figures)
    judged = sum(figure.met is not None for figure in figures)
    print(f"{met} of {judged} targets met.")


if __name__ == "__main__":
    main()
