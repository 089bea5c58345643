"""Extraction: a ⟨D,A,H,I⟩ student cut out of its teacher with the teacher's own weights (§4b).

``importance`` scores layers, heads, attention dimensions, FFN neurons and hidden channels on
calibration batches; ``selection`` turns the scores into the kept sets for one architecture;
``slicing`` cuts the teacher's state dict down to them; ``extractor`` runs it all and writes a
Hugging Face directory.
"""
