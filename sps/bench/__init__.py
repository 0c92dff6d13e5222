"""Benchmarks: `python -m sps.bench {data,models,search,train,pipeline}` print a table."""
