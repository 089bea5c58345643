"""Importance of every prunable unit of a BERT/RoBERTa teacher, from calibration batches.

Activation scores (Minitron, Muralidharan et al. 2024), each the mean over real tokens of what the
unit adds to the residual stream:

- head h of a layer: ‖W_O[:, h] · ctx_h‖₂, the norm of the head's contribution to the attention output;
- FFN neuron n: |a_n| · ‖W_2[:, n]‖₂, its activation times the norm of its output weights;
- hidden channel c: Σ over every LayerNorm (embeddings and each layer's two) of |LN(x)_c|;
- attention dimension d (used to trim or regroup heads): mean|q_d|·mean|k_d| and mean|v_d|·‖W_O[:, d]‖₂,
  each normalised to sum to 1 over the layer, added.

Taylor scores (``method="taylor"``, Molchanov et al. 2019) estimate the change of L, the teacher's masked-LM
loss on masked calibration batches (the teacher needs its MLM head) or, for a fine-tuned classifier, the
task's loss on the task's own labelled inputs (task-aware extraction), when a unit is removed, from first
order terms a · ∂L/∂a already in the loss's units (no weight norms): a head, |Σ_d ctx_d · g_d| over its
dimensions; a neuron, |a · g|; a channel, Σ over LayerNorms of |x_c · g_c|; an attention dimension,
|q·g_q| + |k·g_k| and |v·g_v|, each normalised over the layer.

Layer importance is the same for both: 1 − cos(h, h₋ₗ) averaged over real tokens, h the teacher's last
hidden states and h₋ₗ those with layer l skipped — the layers whose removal changes the output least
matter least.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import torch

from bort.errors import BortError

METHODS = ("activation", "taylor")


@dataclass
class Importance:
    """Scores of one teacher; every tensor is float64 on the CPU.

    layers (D_T,), heads (D_T, A_T), attention_dims (D_T, H_T), neurons (D_T, I_T), channels (H_T,).
    """

    layers: torch.Tensor
    heads: torch.Tensor
    attention_dims: torch.Tensor
    neurons: torch.Tensor
    channels: torch.Tensor
    method: str
    calibration_tokens: int

    def to_dict(self) -> dict:
        return {"method": self.method, "calibration_tokens": self.calibration_tokens,
                **{name: getattr(self, name).tolist()
                   for name in ("layers", "heads", "attention_dims", "neurons", "channels")}}

    @classmethod
    def from_dict(cls, data: dict) -> "Importance":
        tensors = {name: torch.tensor(data[name], dtype=torch.float64)
                   for name in ("layers", "heads", "attention_dims", "neurons", "channels")}
        return cls(**tensors, method=data["method"], calibration_tokens=data["calibration_tokens"])


class _Recorder:
    """Forward hooks on every layer's Q, K, V, attention-output input, FFN-output input and LayerNorms.

    Each hook keeps its tensor (B, S, ·) for the current batch; with ``grads`` the tensors keep their
    gradients for the Taylor scores.
    """

    def __init__(self, base_model, grads: bool):
        self.grads = grads
        self.active = True  # off while layers are skipped for the layer scores
        self.tensors: dict[str, torch.Tensor] = {}
        self.handles = []
        layers = base_model.encoder.layer
        self._hook(base_model.embeddings.LayerNorm, "ln.emb", output=True)
        for i, layer in enumerate(layers):
            for name in ("query", "key", "value"):
                self._hook(getattr(layer.attention.self, name), f"{name}.{i}", output=True)
            self._hook(layer.attention.output.dense, f"ctx.{i}", output=False)
            self._hook(layer.output.dense, f"act.{i}", output=False)
            self._hook(layer.attention.output.LayerNorm, f"ln.attn.{i}", output=True)
            self._hook(layer.output.LayerNorm, f"ln.out.{i}", output=True)

    def _hook(self, module, key: str, output: bool) -> None:
        def keep(tensor: torch.Tensor) -> None:
            if not self.active:
                return
            if self.grads:
                tensor.retain_grad()
            self.tensors[key] = tensor

        if output:
            self.handles.append(module.register_forward_hook(lambda m, args, out: keep(out)))
        else:
            self.handles.append(module.register_forward_pre_hook(lambda m, args: keep(args[0])))

    def value(self, key: str) -> torch.Tensor:
        """The recorded activation, or |activation × gradient| for Taylor scores: (B, S, ·)."""
        tensor = self.tensors[key]
        if self.grads:
            return (tensor * tensor.grad).detach()
        return tensor.detach()

    def remove(self) -> None:
        for handle in self.handles:
            handle.remove()


def _token_mean(values: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
    """Mean over the real tokens of (B, S, n) values: (n,), float64."""
    return values[real].double().mean(0)


def _unit_scores(recorder: _Recorder, base_model, real: torch.Tensor, taylor: bool) -> dict[str, torch.Tensor]:
    """One batch's scores (see the module docstring), before averaging over batches."""
    config = base_model.config
    n_heads, head_size = config.num_attention_heads, config.hidden_size // config.num_attention_heads
    heads, dims, neurons = [], [], []
    channels = torch.zeros(config.hidden_size, dtype=torch.float64)
    for i, layer in enumerate(base_model.encoder.layer):
        w_out = layer.attention.output.dense.weight.detach().double()  # (H, H_attn)
        ctx = recorder.value(f"ctx.{i}")[real].double()  # (n, H_attn)
        by_head = ctx.view(len(ctx), n_heads, head_size)
        if taylor:  # first-order change of the loss when the head is removed: |Σ_d a_d g_d| per token
            heads.append(by_head.sum(-1).abs().mean(0))
        else:  # ‖W_h c_h‖ = √(c_hᵀ (W_hᵀ W_h) c_h): a (d, d) Gram matrix per head, not an (n, A, H) product
            w_by_head = w_out.view(w_out.shape[0], n_heads, head_size)  # (H, A, d)
            gram = torch.einsum("had,hae->ade", w_by_head, w_by_head)  # (A, d, d)
            squared = torch.einsum("nad,ade,nae->na", by_head, gram, by_head)
            heads.append(squared.clamp_min(0).sqrt().mean(0))
        q, k, v = (recorder.value(f"{name}.{i}")[real].double().abs().mean(0) for name in ("query", "key", "value"))
        qk = q * k if not taylor else q + k
        vo = v * w_out.norm(dim=0) if not taylor else v
        dims.append(qk / qk.sum().clamp_min(1e-30) + vo / vo.sum().clamp_min(1e-30))
        act = recorder.value(f"act.{i}")[real].double().abs().mean(0)  # (I,)
        neurons.append(act if taylor else act * layer.output.dense.weight.detach().double().norm(dim=0))
        for key in (f"ln.attn.{i}", f"ln.out.{i}"):
            channels += _token_mean(recorder.value(key).abs(), real)
    channels += _token_mean(recorder.value("ln.emb").abs(), real)
    return {"heads": torch.stack(heads), "attention_dims": torch.stack(dims), "neurons": torch.stack(neurons),
            "channels": channels}


@contextlib.contextmanager
def _layers_skipped(base_model, skipped: int):
    """The encoder without layer ``skipped`` (its ModuleList shortened), restored afterwards."""
    layers = base_model.encoder.layer
    base_model.encoder.layer = torch.nn.ModuleList(m for i, m in enumerate(layers) if i != skipped)
    try:
        yield
    finally:
        base_model.encoder.layer = layers


def layer_removal_scores(base_model, batch: dict[str, torch.Tensor], full: torch.Tensor | None = None) -> torch.Tensor:
    """Per layer, 1 − cos(h, h₋ₗ) summed over the batch's real tokens: (D_T,), float64. ``full``: the teacher's
    last hidden states on ``batch`` (B, S, H), when a forward pass already computed them."""
    real = batch["attention_mask"] > 0
    with torch.inference_mode():
        full = (base_model(**batch).last_hidden_state if full is None else full)[real]
        scores = []
        for layer in range(len(base_model.encoder.layer)):
            with _layers_skipped(base_model, layer):
                skipped = base_model(**batch).last_hidden_state[real]
            scores.append((1 - torch.nn.functional.cosine_similarity(full, skipped, dim=-1)).double().sum())
    return torch.stack(scores)


def measure_importance(teacher, batches: list[dict[str, torch.Tensor]], method: str = "activation",
                       masked_batches: list[tuple[torch.Tensor, torch.Tensor]] | None = None,
                       progress=None) -> Importance:
    """Scores of ``teacher`` (an HF BERT/RoBERTa, bare or with a head) on calibration ``batches``
    (input_ids, attention_mask and, for BERT's pairs, token_type_ids: (B, S)). ``method="taylor"`` needs a
    head with a loss and ``masked_batches``, the same batches' (input_ids, labels): a masked LM's masked ids and
    token labels (B, S), or a sequence classifier's unchanged ids and the task's labels (B,)."""
    if method not in METHODS:
        raise BortError(f"importance method must be one of {METHODS}, got {method!r}")
    taylor = method == "taylor"
    classifier = type(teacher).__name__.endswith("ForSequenceClassification")
    if taylor and (masked_batches is None or not classifier and (not hasattr(teacher, "get_output_embeddings")
                                                                 or teacher.get_output_embeddings() is None)):
        raise BortError("Taylor importance needs a masked-LM teacher (its gradients come from the MLM loss) or a "
                        "fine-tuned classifier with the task's labels")
    base = teacher.base_model
    was_training = teacher.training
    teacher.eval()  # no dropout: the scores must not depend on the RNG
    grad_flags = [p.requires_grad for p in teacher.parameters()]
    teacher.requires_grad_(False)  # no weight gradients: Taylor scores need the activations' alone
    recorder = _Recorder(base, grads=taylor)
    if taylor:  # the word embeddings' output becomes a leaf that requires grad, so every later activation carries one
        recorder.handles.insert(0, base.embeddings.word_embeddings.register_forward_hook(
            lambda m, args, out: out.requires_grad_()))
    totals: dict[str, torch.Tensor] = {}
    layer_scores = torch.zeros(len(base.encoder.layer), dtype=torch.float64)
    tokens = 0
    try:
        for k, batch in enumerate(batches):
            real = batch["attention_mask"] > 0
            full = None  # the unmasked batch's last hidden states, reused by the layer scores
            if taylor:
                ids, labels = masked_batches[k]
                teacher.zero_grad(set_to_none=True)
                loss = teacher(**{**batch, "input_ids": ids}, labels=labels).loss
                loss.backward()
            else:
                with torch.no_grad():
                    full = base(**batch).last_hidden_state
            n = int(real.sum())
            for name, value in _unit_scores(recorder, base, real, taylor).items():
                totals[name] = totals.get(name, 0) + value * n
            tokens += n
            recorder.tensors.clear()
            recorder.active = False
            layer_scores += layer_removal_scores(base, batch, full)
            recorder.active = True
            if progress:
                progress(k + 1, len(batches))
    finally:
        recorder.remove()
        teacher.zero_grad(set_to_none=True)
        for parameter, flag in zip(teacher.parameters(), grad_flags):
            parameter.requires_grad_(flag)
        teacher.train(was_training)
    if tokens == 0:
        raise BortError("the calibration batches hold no real token")
    return Importance(layers=layer_scores / tokens, **{name: value / tokens for name, value in totals.items()},
                      method=method, calibration_tokens=tokens)
