"""The FPTAS for optimal subarchitecture extraction (Bort paper §3): W-coefficient ranking and Pareto front."""
