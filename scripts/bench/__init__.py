"""The chat API benchmark (`make bench`, `python -m bench`); see __main__.py and
docs/benchmarks.md."""
