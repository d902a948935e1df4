"""`sanzheng bench` (SPEC §6): every figure from one run on one machine.

One module per stage: `raw` (consume → validate → COPY, the machine's limit), `naive` (one
message, one transaction), `services` (each domain service alone over pre-filled topics),
`end_to_end`, `latency`. `environment` gives each stage its own database and topic prefix
and counts SQL statements; `workload` streams the synthetic province; `report` prints the
table and writes the JSON file and the chart; `run` puts them in order.
"""
