"""Distillation's shared pieces, below every stage that distils: the logit losses, the intermediate terms (hidden
states, attention relations), the hooks that capture a layer's queries, keys and values, and the map from student
layers to teacher layers with the projection between their widths."""
