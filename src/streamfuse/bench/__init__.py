"""The bench: train and compare fusion methods on real or generated multi-stream data."""

from .report import aggregate, format_table, write_results
from .runner import BenchConfig, method_list, parse_methods, run_bench, run_one

__all__ = ["BenchConfig", "aggregate", "format_table", "method_list", "parse_methods", "run_bench", "run_one", "write_results"]
