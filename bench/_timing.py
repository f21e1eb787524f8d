"""Timing helpers for the benchmarks: medians of interleaved runs, printed as ratios.

Machines here are shared and noisy, so every benchmark measures its baseline in the same run,
alternating baseline and subject, and reports the ratio of medians.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from collections.abc import Callable


def median_seconds(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def interleaved(
    subject: Callable[[], object],
    baseline: Callable[[], object],
    repeat: int,
    clock: Callable[[], float] = time.perf_counter,
) -> tuple[float, float]:
    """Median seconds of subject and baseline, run alternately so drift hits both alike.
    ``clock=time.process_time`` for work done in this process alone: it counts this process's
    CPU time, not the time other processes of a busy machine hold the cores."""
    subject_times: list[float] = []
    baseline_times: list[float] = []
    for _ in range(repeat):
        for fn, bucket in ((baseline, baseline_times), (subject, subject_times)):
            start = clock()
            fn()
            bucket.append(clock() - start)
    return statistics.median(subject_times), statistics.median(baseline_times)


def python_code(code: str) -> Callable[[], object]:
    """A fresh interpreter running ``code`` (what a user's script pays at start-up)."""
    return lambda: subprocess.run([sys.executable, "-c", code], check=True)


def report(
    name: str, subject: float, baseline: float, target: float | None, unit: str = "s"
) -> bool:
    """Print one figure; ``target`` None for a figure shown for information only."""
    ratio = subject / baseline
    ok = target is None or ratio <= target
    verdict = (
        "(no target)"
        if target is None
        else f"(target <= {target}x) " + ("ok" if ok else "OVER TARGET")
    )
    print(
        f"{name}: {subject:.4f} {unit} vs baseline {baseline:.4f} {unit} = {ratio:.2f}x {verdict}"
    )
    return ok
