"""actlab's benchmarks: ratios measured side by side in one run (`python -m benchmarks`).

Each benchmark is one small module with `NAME`, `TITLE` and `run(options) -> Result`;
`__main__` runs them, prints a readable report and writes `bench-results/latest.json`.
"""
