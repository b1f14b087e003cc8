"""Loa benchmarks: every figure is printed beside an anchor measured in the same run."""
