"""Run every benchmark; each prints its figures as ratios against a baseline measured in the same
run (the machines are shared and noisy: absolute times drift, ratios much less)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import bench_agents  # noqa: E402
import bench_async_list  # noqa: E402
import bench_changes  # noqa: E402
import bench_diff  # noqa: E402
import bench_generate  # noqa: E402
import bench_hooks  # noqa: E402
import bench_import  # noqa: E402
import bench_intake  # noqa: E402
import bench_overhead  # noqa: E402
import bench_parse  # noqa: E402
import bench_quota  # noqa: E402
import bench_real_pages  # noqa: E402
import bench_real_publication  # noqa: E402
import bench_send_path  # noqa: E402
import bench_sync  # noqa: E402

if __name__ == "__main__":
    for bench in (
        bench_import,
        bench_parse,
        bench_real_pages,
        bench_overhead,
        bench_send_path,
        bench_hooks,
        bench_async_list,
        bench_changes,
        bench_diff,
        bench_intake,
        bench_generate,
        bench_real_publication,
        bench_agents,
        bench_quota,
        bench_sync,
    ):
        print(f"== {bench.__name__}: {(bench.__doc__ or '').strip().splitlines()[0]}")
        bench.main()
