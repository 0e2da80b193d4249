"""Benchmarks: run by `make bench`, never by `make test`. Results go to BENCHMARKS.md."""
