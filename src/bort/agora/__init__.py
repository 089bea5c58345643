"""Agora: fine-tuning by Socrates-labelled augmentation of a student's mistakes, with hyperparameter pruning."""
