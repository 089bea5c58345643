"""The masked-LM layer under the search and pre-training: corpus → tokens → packed blocks → masked
batches, the LM head evaluated at the masked positions only, the MLM / distillation losses and the
held-out evaluation."""
