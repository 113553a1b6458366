"""Benchmark suite: synthetic transactions (`bench.generate`) and timed stages (`bench.run`)."""
