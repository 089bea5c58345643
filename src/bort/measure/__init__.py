"""Measuring on the user's own device: latency protocols and the device record, shared by the search and the bench."""
