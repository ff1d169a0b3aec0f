"""Quality evidence: published and measured results, on one metric registry, compared only like with like.

registry   data/metrics.yaml: canonical metric names, aliases, direction, scale (no heavy imports)
benchmarks which evidence rows a task's benchmark (catalog.yaml `benchmarks:`) accepts
query      Core-only reads for the recommend path (no ORM)
store      writes one source's rows in one transaction (replacing that source's earlier import)
importers  one module per upstream format, each a stream of typed records
"""
