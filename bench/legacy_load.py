"""How fast `flask demo create-legacy` loads, on MariaDB/MySQL and on SQLite.

    .venv/bin/python bench/legacy_load.py [--scale 30] [--seed 1]

Creates a scratch database headway_bench_<random> on the server of
BENCH_MYSQL_URL (default mysql+pymysql://root@127.0.0.1/), loads it, drops it;
then does the same in a temporary SQLite file.
"""

import argparse
import sys
import time
from pathlib import Path

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.demo.legacy import LEGACY_TABLES, create_legacy  # noqa: E402
from bench.common import on_each_backend  # noqa: E402


def timed_load(url: str, scale: float, seed: int) -> tuple[dict, float]:
    engine = sa.create_engine(url)
    try:
        started = time.perf_counter()
        counts = create_legacy(engine, scale=scale, seed=seed)
        return counts, time.perf_counter() - started
    finally:
        engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=30)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    results = on_each_backend(
        lambda url: timed_load(url, args.scale, args.seed),
        ("mysql", "sqlite"),
        lambda backend: f"loading {backend} at scale {args.scale:g} ...",
    )

    backends = list(results)
    rows = [("scale", *(f"{args.scale:g}" for _ in backends))]
    for table in LEGACY_TABLES:
        rows.append((table, *(f"{results[b][0][table]:,}" for b in backends)))
    totals = {b: sum(results[b][0].values()) for b in backends}
    rows.append(("total rows", *(f"{totals[b]:,}" for b in backends)))
    rows.append(("seconds", *(f"{results[b][1]:.1f}" for b in backends)))
    rows.append(("rows/s", *(f"{totals[b] / results[b][1]:,.0f}" for b in backends)))

    width = max(len(row[0]) for row in rows)
    print(f"\n{'backend':<{width}}" + "".join(f"  {b:>12}" for b in backends))
    for label, *cells in rows:
        print(f"{label:<{width}}" + "".join(f"  {c:>12}" for c in cells))


if __name__ == "__main__":
    main()
