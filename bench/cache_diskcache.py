#!/usr/bin/python3
"""python-diskcache on the workloads of bench/cache_bench.cc.

Prints one JSON object: {"<benchmark>": {"p50_us": ..., "p99_us": ...}}
with the same benchmark names as cache_bench, so bench/cache_compare.sh can
put them side by side. Runs Debian's python3-diskcache (hence
/usr/bin/python3) with its defaults: values under 32 KiB inline in SQLite
(WAL, synchronous=NORMAL), larger ones in files, least-recently-stored
eviction.

Usage: cache_diskcache.py PARENT_DIR   (the cache directories go under it)
"""
import json
import shutil
import sys
import tempfile
import time

import diskcache

SMALL_OPS = 20000
LARGE_OPS = 1000
LARGE_KEYS = 100
SMALL_BYTES = 100
LARGE_BYTES = 256 * 1024


def key(i):
    return b"key-%d" % i


def value_bytes(n):
    return bytes((i * 131 + 7) & 0xFF for i in range(n))


def percentiles(samples):
    samples.sort()
    at = lambda q: samples[int(q * (len(samples) - 1))] / 1000.0
    return {"p50_us": at(0.50), "p99_us": at(0.99)}


def time_each(n, op):
    samples = []
    clock = time.perf_counter_ns
    for i in range(n):
        t0 = clock()
        op(i)
        samples.append(clock() - t0)
    return percentiles(samples)


def scratch_cache(parent):
    directory = tempfile.mkdtemp(prefix="diskcache-bench-", dir=parent)
    return directory, diskcache.Cache(directory)


def run(parent):
    results = {}
    small = value_bytes(SMALL_BYTES)
    large = value_bytes(LARGE_BYTES)
    small_keys = [key(i) for i in range(SMALL_OPS)]
    large_keys = [key(i) for i in range(LARGE_KEYS)]

    def bench(name, fill, op_count, op):
        directory, cache = scratch_cache(parent)
        try:
            fill(cache)
            results[name] = time_each(op_count, lambda i: op(cache, i))
        finally:
            cache.close()
            shutil.rmtree(directory)

    def fill_small(cache):
        for k in small_keys:
            cache.set(k, small)

    def fill_large(cache):
        for k in large_keys:
            cache.set(k, large)

    def get_hit(cache, k):
        if cache.get(k) is None:
            raise SystemExit("diskcache lost a value")

    def get_miss(cache):
        if cache.get(b"absent") is not None:
            raise SystemExit("diskcache found an absent key")

    bench("BM_CacheSetSmall", lambda c: None, SMALL_OPS,
          lambda c, i: c.set(small_keys[i], small))
    bench("BM_CacheGetSmall", fill_small, SMALL_OPS,
          lambda c, i: get_hit(c, small_keys[i]))
    bench("BM_CacheGetMiss", fill_small, SMALL_OPS,
          lambda c, i: get_miss(c))
    bench("BM_CacheSetLarge", lambda c: None, LARGE_OPS,
          lambda c, i: c.set(large_keys[i % LARGE_KEYS], large))
    bench("BM_CacheGetLarge", fill_large, LARGE_OPS,
          lambda c, i: get_hit(c, large_keys[i % LARGE_KEYS]))
    return results


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    print(json.dumps(run(sys.argv[1])))
