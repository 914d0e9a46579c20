"""``safety-rlhf cache``: show or empty the on-disk cache (:mod:`safety_rlhf.data.disk_cache`)."""

from __future__ import annotations

import argparse

from safety_rlhf.data.disk_cache import cache_dir, cache_enabled, cache_size, clear_cache
from safety_rlhf.experiments.cli_errors import reported

__all__ = ["add_cache_parser"]


def add_cache_parser(sub: argparse._SubParsersAction) -> None:
    """Add ``cache info`` and ``cache clear`` to ``sub``."""
    p = sub.add_parser(
        "cache",
        help="show or empty the on-disk cache of embeddings and env tables",
        description="The cache holds text embeddings and env tables, keyed by everything "
        "they depend on; it is only a speed-up, so emptying it is always safe. Its folder "
        "is $SAFETY_RLHF_CACHE or ~/.cache/safety_rlhf; SAFETY_RLHF_CACHE=off turns it off; "
        "$SAFETY_RLHF_CACHE_MAX_MB bounds its size (default 2048).",
    )
    cache_sub = p.add_subparsers(dest="cache_command", required=True, metavar="SUBCOMMAND")
    cache_sub.add_parser("info", help="print the cache folder, its files and size")
    cache_sub.add_parser("clear", help="delete every cache entry")
    p.set_defaults(func=_run_cache)


@reported(lambda args: f"cache {args.cache_command}")
def _run_cache(args: argparse.Namespace) -> int:
    folder = cache_dir()
    if args.cache_command == "clear":
        files, freed = clear_cache()
        print(f"{folder}: deleted {files:,} files ({freed / 2**20:.1f} MiB)")
    else:
        files, size = cache_size()
        state = "on" if cache_enabled() else "off (SAFETY_RLHF_CACHE=off)"
        print(f"{folder}: {files:,} files, {size / 2**20:.1f} MiB; cache {state}")
    return 0
