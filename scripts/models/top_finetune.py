"""Fine-tunes the encoder layers above the served frozen ones, on cached token states.

The emotion training (emotion_train.py) runs the served int8 lower layers once per text and
caches their last token states (float16, one row per WordPiece) in a .npy file; each call of
`train_top` reads that file and trains the next pretrained layer(s) of all-MiniLM-L6-v2 with
mean+max pooling and a linear head (sentence_encoder.top_model), by soft cross-entropy against
the gold labels (a row with k gold labels puts 1/k on each). It runs in its own process on one
torch thread, seeded, with deterministic algorithms, so the same inputs give the same weights.

Several calls run side by side (one per cross-validation fold and seed), each returning the
logits of its evaluation rows after every epoch, so the number of epochs can be chosen on the
out-of-fold logits afterwards; the fit on the whole of train then stops at the chosen epoch of
the same schedule and returns its weights.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

TRAIN_BATCH = 32
EVAL_BATCH = 256
WARMUP = 0.06
WEIGHT_DECAY = 0.01
# The texts are encoded in this many runs across the pool (each text alone, so the states are
# the same however they are split).
CACHE_PARTS = 8


@dataclass(frozen=True)
class Cache:
    """Token states of every text: rows offsets[i]:offsets[i + 1] of states.npy are text i's."""

    folder: Path

    def load(self) -> tuple[np.ndarray, np.ndarray]:
        states = np.load(self.folder / "states.npy", mmap_mode="r")
        offsets = np.load(self.folder / "offsets.npy")
        return states, offsets


@dataclass(frozen=True)
class Job:
    cache: Cache
    train_rows: np.ndarray
    targets: np.ndarray  # rows x labels, each row summing to 1 (all cached texts)
    eval_rows: np.ndarray
    top_layers: int
    epochs: int
    learning_rate: float
    seed: int
    # One weight per label multiplying its term of the cross-entropy (None: all 1).
    label_weights: tuple[float, ...] | None = None
    # Stop after this many epochs of the `epochs`-long schedule (None: run all of it); the
    # weights are those the full run has after that epoch.
    stop_after: int | None = None


def _pack(torch, states, offsets, batch):
    lengths = offsets[batch + 1] - offsets[batch]
    width = int(lengths.max())
    hidden = np.zeros((len(batch), width, states.shape[1]), dtype=np.float32)
    mask = np.zeros((len(batch), width), dtype=np.int64)
    for position, (row, length) in enumerate(zip(batch, lengths, strict=True)):
        hidden[position, :length] = states[offsets[row] : offsets[row + 1]]
        mask[position, :length] = 1
    return torch.from_numpy(hidden), torch.from_numpy(mask)


def _by_length(rows: np.ndarray, offsets: np.ndarray, size: int) -> list[np.ndarray]:
    lengths = offsets[rows + 1] - offsets[rows]
    ordered = rows[np.argsort(lengths, kind="stable")]
    return [ordered[i : i + size] for i in range(0, len(ordered), size)]


def _shuffled_batches(rng, rows, offsets) -> list[np.ndarray]:
    """Shuffled batches of similar lengths (less padding): shuffle, sort by length inside
    chunks of 50 batches, then shuffle the batches."""
    rows = rows.copy()
    rng.shuffle(rows)
    chunk = TRAIN_BATCH * 50
    batches = []
    for start in range(0, len(rows), chunk):
        batches.extend(_by_length(rows[start : start + chunk], offsets, TRAIN_BATCH))
    order = rng.permutation(len(batches))
    return [batches[i] for i in order]


def train_top(job: Job) -> dict:
    """Returns {"eval_logits": [epochs x (eval rows x labels)], "weights": the state dict after
    the last epoch run}."""
    import sentence_encoder
    import torch

    torch.set_num_threads(1)
    torch.manual_seed(job.seed)
    torch.use_deterministic_algorithms(True)
    states, offsets = job.cache.load()
    model = sentence_encoder.top_model(job.top_layers, job.targets.shape[1]).train()
    optimiser = torch.optim.AdamW(
        model.parameters(), lr=job.learning_rate, weight_decay=WEIGHT_DECAY
    )
    steps = job.epochs * -(-len(job.train_rows) // TRAIN_BATCH)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimiser, lambda step: min(1.0, step / (WARMUP * steps)) * max(0.0, 1 - step / steps)
    )
    targets = torch.tensor(job.targets, dtype=torch.float32)
    if job.label_weights is not None:
        targets = targets * torch.tensor(job.label_weights, dtype=torch.float32)
    rng = np.random.RandomState(job.seed)
    eval_logits = []
    for _ in range(job.stop_after or job.epochs):
        model.train()
        for batch in _shuffled_batches(rng, job.train_rows, offsets):
            hidden, mask = _pack(torch, states, offsets, batch)
            log_p = torch.log_softmax(model(hidden, mask), 1)
            loss = -(targets[batch] * log_p).sum(1).mean()
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            schedule.step()
        eval_logits.append(logits(model, states, offsets, job.eval_rows))
    return {"eval_logits": eval_logits, "weights": model.state_dict()}


def logits(model, states, offsets, rows: np.ndarray) -> np.ndarray:
    import torch

    model.eval()
    out = np.zeros((len(rows), model.labels), dtype=np.float64)
    position = {row: i for i, row in enumerate(rows.tolist())}
    with torch.no_grad():
        for batch in _by_length(rows, offsets, EVAL_BATCH):
            hidden, mask = _pack(torch, states, offsets, batch)
            out[[position[row] for row in batch.tolist()]] = model(hidden, mask).double().numpy()
    return out


def _lower_states(model: bytes, tokenizer_json: str, max_tokens: int, texts: list[str]):
    from emotion.encoder import SentenceEncoder

    encoder = SentenceEncoder(model, tokenizer_json, max_tokens)
    return [encoder.run_all(text)[1].astype(np.float16) for text in texts]


def write_cache(
    pool, model: bytes, tokenizer_json: str, max_tokens: int, texts: list[str], folder: Path
) -> Cache:
    """Runs the served lower layers (int8 ONNX, one text at a time, as the chat API does) on
    every text, in the pool's processes, and stores their last token states as float16."""
    bounds = np.linspace(0, len(texts), CACHE_PARTS + 1).astype(int)
    parts = [
        pool.submit(_lower_states, model, tokenizer_json, max_tokens, texts[start:end])
        for start, end in zip(bounds[:-1], bounds[1:], strict=True)
    ]
    chunks = [chunk for part in parts for chunk in part.result()]
    offsets = np.zeros(len(chunks) + 1, dtype=np.int64)
    np.cumsum([len(chunk) for chunk in chunks], out=offsets[1:])
    np.save(folder / "states.npy", np.concatenate(chunks))
    np.save(folder / "offsets.npy", offsets)
    return Cache(folder)
