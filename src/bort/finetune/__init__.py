"""Fine-tuning on GLUE, SuperGLUE and RACE: plain (and, later, Agora)."""
