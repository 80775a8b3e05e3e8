"""Scout's numeric analysis (SPEC section 5): pure functions on a niche's weekly trend series, run in a process pool.

`analysis.analyze` is the entry point; `forecasting`, `metrics` and `scoring` are its parts.
"""
