"""Fine-tuning a pair classifier (pair_model.py) from the packaged MiniLM, in torch.

The bottom layers stay frozen, so their output is computed once per pair; only the top layers
and a linear head learn, with each label weighted by the inverse of its share. On a CPU with
native bf16 (AMX, AVX512-BF16) the forward passes run under bf16 autocast with fp32 weights. The number of
epochs is chosen on groups (cards) held out entirely, which is also what the report states;
the shipped weights are then fitted on every group. The helpers below the trainer (the base
model, the frozen states, the tuned layers' tensors and their file) also tune the anchor's
question encoder (zoomqa eval train-works).
"""

from __future__ import annotations

import copy
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from zoomqa.hardware import cpu_has_native_bf16
from zoomqa.index.embedding import resolve_embedder
from zoomqa.index.pair_model import HEAD


@dataclass(frozen=True)
class PairSettings:
    """How a pair classifier is fitted; part of the digest its weights carry."""

    top_layers: int = 2  # fine-tuned encoder layers: 3.5 M parameters, 7 MB in fp16
    max_epochs: int = 6  # epochs 1..max are scored on held-out groups; the best is refitted
    learning_rate: float = 2e-4
    batch: int = 32
    weight_decay: float = 0.01
    validation_share: float = 0.2  # of the groups
    max_tokens: int = 256
    seed: int = 0


@dataclass(frozen=True)
class LabelledPair:
    first: str
    second: str
    label: int
    group: str  # pairs of one group (a card) are held out together


def held_out_groups(groups: Sequence[str], share: float, seed: int) -> set[str]:
    distinct = sorted(set(groups))
    rng = np.random.default_rng(seed)
    return set(rng.choice(distinct, size=max(1, round(share * len(distinct))), replace=False).tolist())


def train_pair_classifier(
    embedder_spec: str,
    pairs: Sequence[LabelledPair],
    labels: Sequence[str],
    destination: Path,
    *,
    digest: str,
    settings: PairSettings = PairSettings(),
    say: Callable[[str], None] = lambda _: None,
) -> dict[str, Any]:
    """Choose the epochs on held-out groups, fit on all, write ``destination``; returns the report."""
    import torch

    torch.manual_seed(settings.seed)
    bert, tokenizer, identity = load_base(embedder_spec, settings.max_tokens)
    frozen = len(bert.encoder.layer) - settings.top_layers
    bf16 = cpu_has_native_bf16()
    say(f"{len(pairs)} pairs; running the {frozen} frozen layers once{' (bf16 autocast)' if bf16 else ''}")
    started = time.monotonic()
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
        hidden = frozen_states(bert, tokenizer, [(p.first, p.second) for p in pairs], frozen)
    targets = torch.tensor([p.label for p in pairs])
    held = held_out_groups([p.group for p in pairs], settings.validation_share, settings.seed)
    is_held = np.array([p.group in held for p in pairs])

    def fit(
        rows: np.ndarray, epochs: int, score: np.ndarray | None
    ) -> tuple[list[Any], Any, list[dict[str, Any]]]:
        top = [copy.deepcopy(bert.encoder.layer[frozen + i]) for i in range(settings.top_layers)]
        head = torch.nn.Linear(bert.config.hidden_size, len(labels))
        params = [p for m in (*top, head) for p in m.parameters()]
        optimiser = torch.optim.AdamW(params, lr=settings.learning_rate, weight_decay=settings.weight_decay)
        order = np.flatnonzero(rows)
        counts = torch.bincount(targets[order.tolist()], minlength=len(labels)).float()
        balance = counts.sum() / (len(labels) * counts.clamp(min=1))
        rng = np.random.default_rng(settings.seed)
        history = []
        for epoch in range(1, epochs + 1):
            for m in (*top, head):
                m.train()
            rng.shuffle(order)
            for start in range(0, len(order), settings.batch):
                batch = order[start : start + settings.batch].tolist()
                with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                    logits = head(top_pooled(top, [hidden[i] for i in batch]))
                loss = torch.nn.functional.cross_entropy(logits.float(), targets[batch], weight=balance)
                optimiser.zero_grad()
                loss.backward()
                optimiser.step()
            if score is not None:
                history.append(
                    {"epoch": epoch, **_scores(top, head, hidden, targets, np.flatnonzero(score), labels)}
                )
                say(f"epoch {epoch}: held-out groups {history[-1]}")
        return top, head, history

    _, _, history = fit(~is_held, settings.max_epochs, is_held)
    epochs = int(max(history, key=lambda h: h["macro_recall"])["epoch"])
    say(f"fitting on every group for {epochs} epochs")
    top, head, _ = fit(np.ones(len(pairs), dtype=bool), epochs, None)
    report: dict[str, Any] = {
        "pairs": len(pairs),
        "held_out": {"groups": len(held), "pairs": int(is_held.sum()), "history": history},
        "epochs": epochs,
        "precision": "bf16 autocast" if bf16 else "fp32",
        "train_s": round(time.monotonic() - started, 1),
    }
    tensors = layer_tensors(top, frozen)
    tensors[f"{HEAD}.weight"] = head.weight.detach().to(torch.float16).contiguous()
    tensors[f"{HEAD}.bias"] = head.bias.detach().to(torch.float16).contiguous()
    metadata = {
        "embedder": identity,
        "digest": digest,
        "labels": json.dumps(list(labels)),
        "report": json.dumps(report),
    }
    save_tuned(destination, tensors, metadata)
    return report


def load_base(embedder_spec: str, max_tokens: int) -> tuple[Any, Any, str]:
    """The packaged MiniLM as a torch BertModel, its tokenizer (truncating at ``max_tokens``,
    no padding) and its identity."""
    from tokenizers import Tokenizer
    from transformers import BertModel

    directory, identity = resolve_embedder(embedder_spec)
    bert = BertModel.from_pretrained(str(directory), attn_implementation="eager").eval()
    tokenizer = Tokenizer.from_file(str(directory / "tokenizer.json"))
    tokenizer.no_padding()
    tokenizer.enable_truncation(max_length=max_tokens)
    return bert, tokenizer, identity


def layer_tensors(top: Sequence[Any], frozen: int) -> dict[str, Any]:
    """The fine-tuned layers' weights in fp16, named as the base model's layers they replace."""
    import torch

    return {
        f"encoder.layer.{frozen + i}.{name}": value.detach().to(torch.float16).contiguous()
        for i, layer in enumerate(top)
        for name, value in layer.state_dict().items()
    }


def save_tuned(destination: Path, tensors: dict[str, Any], metadata: dict[str, str]) -> None:
    """Write ``tensors`` as safetensors with ``metadata``, replacing ``destination`` atomically."""
    from safetensors.torch import save_file

    destination.parent.mkdir(parents=True, exist_ok=True)
    partial = destination.with_name(destination.name + ".partial")
    save_file(tensors, str(partial), metadata=metadata)
    partial.replace(destination)


def frozen_states(
    bert: Any, tokenizer: Any, texts: Sequence[str | tuple[str, str]], frozen: int
) -> list[Any]:
    """Each text's (or pair's) hidden states after the frozen layers, one (tokens, dim) tensor each."""
    import torch

    encodings = tokenizer.encode_batch(
        [t.lower() if isinstance(t, str) else (t[0].lower(), t[1].lower()) for t in texts]
    )
    order = sorted(range(len(encodings)), key=lambda i: len(encodings[i].ids))  # little padding
    states: list[Any] = [None] * len(encodings)
    with torch.no_grad():
        for start in range(0, len(order), 64):
            rows = order[start : start + 64]
            length = max(len(encodings[i].ids) for i in rows)
            ids = torch.zeros((len(rows), length), dtype=torch.long)
            types = torch.zeros_like(ids)
            mask = torch.zeros_like(ids)
            for row, i in enumerate(rows):
                e = encodings[i]
                ids[row, : len(e.ids)] = torch.tensor(e.ids)
                types[row, : len(e.ids)] = torch.tensor(e.type_ids)
                mask[row, : len(e.ids)] = 1
            h = bert.embeddings(input_ids=ids, token_type_ids=types)
            additive = ((1 - mask.float()) * torch.finfo(torch.float32).min)[:, None, None, :]
            for layer in bert.encoder.layer[:frozen]:
                out = layer(h, attention_mask=additive)
                h = out[0] if isinstance(out, tuple) else out
            for row, i in enumerate(rows):
                states[i] = h[row, : len(encodings[i].ids)].clone()
    return states


def top_pooled(top: Sequence[Any], states: Sequence[Any]) -> Any:
    """Mean-pooled output of the top layers over each pair's real tokens (what the numpy
    encoder's ``encode_pairs`` computes)."""
    import torch

    length = max(len(s) for s in states)
    h = torch.zeros((len(states), length, states[0].shape[1]))
    mask = torch.zeros((len(states), length))
    for row, s in enumerate(states):
        h[row, : len(s)] = s
        mask[row, : len(s)] = 1
    additive = ((1 - mask) * torch.finfo(torch.float32).min)[:, None, None, :]
    for layer in top:
        out = layer(h, attention_mask=additive)
        h = out[0] if isinstance(out, tuple) else out
    return (h * mask[..., None]).sum(1) / mask.sum(1, keepdim=True)


def _scores(
    top: Sequence[Any], head: Any, hidden: list[Any], targets: Any, rows: np.ndarray, labels: Sequence[str]
) -> dict[str, Any]:
    """Accuracy and per-label recall of the current weights on ``rows``."""
    import torch

    for m in (*top, head):
        m.eval()
    predicted: list[int] = []
    with torch.no_grad():
        for start in range(0, len(rows), 64):
            batch = rows[start : start + 64].tolist()
            predicted.extend(head(top_pooled(top, [hidden[i] for i in batch])).argmax(1).tolist())
    truth = targets[rows.tolist()].tolist()
    recall = {
        name: round(
            sum(p == t == k for p, t in zip(predicted, truth, strict=True)) / max(1, truth.count(k)), 3
        )
        for k, name in enumerate(labels)
    }
    return {
        "accuracy": round(sum(p == t for p, t in zip(predicted, truth, strict=True)) / max(1, len(truth)), 3),
        "recall": recall,
        "macro_recall": round(float(np.mean(list(recall.values()))), 3),
    }
