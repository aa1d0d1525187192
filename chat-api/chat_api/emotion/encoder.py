"""The sentence encoder half of the emotion model: a small transformer run by ONNX Runtime.

The graph (built by scripts/models/sentence_encoder.py) is the first layers of
all-MiniLM-L6-v2, int8: three frozen layers, whose pooled states are one output, and the
fine-tuned layer above them with its pooling and linear head, whose seven logits are the other.
`run` gives the first output (the logits; at training time, the lower layers' pooled states) and
`run_all` every output, so the self-harm risk head reads the pooled states from the same pass.
Only the first `max_tokens` WordPieces are read: that bounds the cost of a long message, and the
TF-IDF half still sees all of it.
"""

from __future__ import annotations

import numpy as np
import onnxruntime
from tokenizers import Tokenizer


class SentenceEncoder:
    def __init__(self, model: bytes, tokenizer_json: str, max_tokens: int) -> None:
        options = onnxruntime.SessionOptions()
        # One thread a call: the chat API serves many requests at once, and a single short
        # message gains nothing from more.
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        self._session = onnxruntime.InferenceSession(
            model, options, providers=["CPUExecutionProvider"]
        )
        self._tokenizer = Tokenizer.from_str(tokenizer_json)
        self._tokenizer.no_padding()
        self._tokenizer.enable_truncation(max_tokens)

    def run(self, text: str) -> np.ndarray:
        """The graph's first output for one text, as a 1-D float32 array."""
        return self.run_all(text)[0]

    def run_all(self, text: str) -> list[np.ndarray]:
        """Every output of the graph for one text (served graph: logits, pooled states)."""
        encoding = self._tokenizer.encode(text)
        feeds = {
            "input_ids": np.array([encoding.ids], dtype=np.int64),
            "attention_mask": np.array([encoding.attention_mask], dtype=np.int64),
        }
        return [output[0] for output in self._session.run(None, feeds)]
