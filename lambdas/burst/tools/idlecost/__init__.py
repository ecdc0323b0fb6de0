"""What fpga-burst costs at rest (README, "What it costs at rest"): prices.py the dated list
prices with their sources, measure.py what an idle invocation publishes, logs and calls,
model.py the rows from a synthesized template, table.py the README's block.
`benchmarks/cpu/idle_cost.py` prints it."""
