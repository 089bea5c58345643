"""The FPTAS for optimal subarchitecture extraction (SPEC §3): W-coefficient ranking and Pareto front."""
