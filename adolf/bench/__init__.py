"""Benchmarks that print figures (`adolf bench ...`; needs the `bench` extra: pip install -e '.[bench]')."""
