"""What every training loop shares: AdamW and the learning-rate schedules, and training state
(weights, optimizer, scheduler, RNG) saved so that a run resumes exactly."""
