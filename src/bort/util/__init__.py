"""Small helpers shared by every stage: atomic writes, text tables."""
