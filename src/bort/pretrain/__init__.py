"""Pre-training: knowledge distillation from a teacher, or plain masked-LM, on real text."""
