"""Pipeline stages: each reads params.yaml, calls the library, writes artifacts atomically.

DVC stage commands and Airflow tasks both call `python -m pipelines.<stage>` / the
stage's `run()` function.
"""
