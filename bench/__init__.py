"""On-demand benchmarks of the running platform (`make bench`)."""
