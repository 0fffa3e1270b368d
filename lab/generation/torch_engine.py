"""The plain-torch engine: a Llama-family decoder run from the model's own weights, with a preallocated KV cache per
batch slot and continuous batching (a finished answer's slot is refilled with the next waiting prompt at once).

Why it is faster than transformers' `generate` on a CPU: every decoding step is one large matrix product per
weight (q/k/v fused, gate/up fused) over all live sequences, no cache is concatenated or copied, a batch never waits
for its longest member, and the vocabulary projection runs only on the last prompt position. The arithmetic is
transformers' own (fp32, the same RMSNorm, rotary embedding, attention and MLP), so greedy answers are the same
token for token on almost every prompt (tests/test_torch_engine.py checks logits and tokens against transformers).

Supported: LlamaForCausalLM and architectures of that shape (Mistral, Qwen2: q/k/v biases), default rotary
embedding, in float32 on CPU. Anything else raises UnsupportedModel and lab.generation falls back.
A training policy (PEFT LoRA) is read with its adapters merged (the merged and fused matrices are copies; the rest,
e.g. embeddings and norms, share the model's storage); `reload_from` re-reads them after an optimiser step, before
the next generation (GRPO's weight sync).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from lab.generation.engine import Completion, Sampling, StopCheck, check_stop, end_token_ids

_ARCHITECTURES = ("LlamaForCausalLM", "MistralForCausalLM", "Qwen2ForCausalLM")
# With no prompt waiting, the cache is cut down to the live slots once fewer than this share of them are live (a
# finished slot's row would otherwise still be computed every step); the copy costs less than a step.
COMPACT_BELOW = 0.85
# Sequences decoded together at most: past 128 rows the matrix products gain little (~240 -> ~250 GFLOP/s here)
# while the KV cache read per step keeps growing; the rest of a bigger call's prompts wait for a free slot.
MAX_SLOTS = 128
# The KV cache of one generate call stays within this (fewer slots than asked for when it would not).
CACHE_BYTES = 2 * 1024**3
# Prompts prefilled together: about this many (padded) tokens per forward pass.
PREFILL_TOKENS = 2048


class UnsupportedModel(RuntimeError):
    """The model is not one this engine can run (lab.generation then uses transformers)."""


@dataclass
class _Layer:
    input_norm: Any
    qkv: Any
    qkv_bias: Any
    out: Any
    out_bias: Any
    post_norm: Any
    gate_up: Any
    down: Any


@dataclass
class _Weights:
    embed: Any
    layers: list[_Layer]
    norm: Any
    lm_head: Any
    heads: int
    kv_heads: int
    head_dim: int
    intermediate: int
    eps: float
    rope_theta: float
    window: int | None  # sliding-window attention span (Mistral), None = the whole context
    repetition_penalty: float  # the checkpoint's generation_config default, as transformers' generate applies it


class TorchEngine:
    name = "torch"

    def __init__(self, weights: _Weights, end_ids: Sequence[int]) -> None:
        self.end_ids = [int(i) for i in end_ids]
        self.weights = weights
        self._rope: tuple[Any, Any] | None = None
        self._lock = threading.Lock()

    @classmethod
    def for_loaded(cls, loaded: Any) -> TorchEngine:
        return cls.from_model(loaded.model, loaded.tokenizer)

    @classmethod
    def from_model(cls, model: Any, tokenizer: Any, end_ids: Sequence[int] | None = None) -> TorchEngine:
        return cls(read_weights(model), end_ids or end_token_ids(model, tokenizer))

    def reload_from(self, model: Any, tokenizer: Any) -> float:
        """Re-read the model's current weights (LoRA merged); returns the seconds it took."""
        started = time.monotonic()
        weights = read_weights(model)
        with self._lock:
            self.weights = weights
        return time.monotonic() - started

    # ------------------------------------------------------------------ public interface

    def generate(
        self,
        prompt_ids: Sequence[Sequence[int]],
        sampling: Sampling,
        batch_size: int,
        should_stop: StopCheck | None = None,
    ) -> list[Completion]:
        """Up to batch_size sequences decode together; a finished one's slot takes the next waiting prompt.
        `should_stop` is asked at every token (GenerationStopped when it says stop)."""
        if not prompt_ids:
            return []
        tokens: list[list[int]] = [[] for _ in prompt_ids]
        ends: list[int | None] = [None] * len(prompt_ids)
        events = self._decode(prompt_ids, sampling, batch_size)
        try:
            for index, token, end in events:
                check_stop(should_stop)  # every token: a caller's check must be cheap (a job's is throttled)
                if end:
                    ends[index] = token
                elif token is not None:
                    tokens[index].append(token)
        finally:
            events.close()
        return [Completion(tuple(ids), end) for ids, end in zip(tokens, ends, strict=True)]

    def stream(self, prompt_ids: Sequence[int], sampling: Sampling) -> Iterator[int]:
        events = self._decode([prompt_ids], sampling, 1)
        try:
            for _, token, end in events:
                if end or token is None:
                    return
                yield token
        finally:
            events.close()

    # ------------------------------------------------------------------ decoding

    def _decode(
        self, prompt_ids: Sequence[Sequence[int]], sampling: Sampling, batch_size: int
    ) -> Iterator[tuple[int, int | None, bool]]:
        """Events (prompt index, token, is_end): a token, the end token (is_end), or (index, None, False) when an
        answer stops at max_new_tokens. No grad mode is set (it would leak to the consumer between yields): every
        weight is detached, so no autograd graph is built."""
        yield from _Run(self, self.weights, prompt_ids, sampling, max(1, int(batch_size))).events()

    def rope(self, length: int) -> tuple[Any, Any]:
        """cos and sin tables [length, head_dim] (transformers' default rotary embedding, in float32)."""
        import torch

        with self._lock:
            if self._rope is None or self._rope[0].shape[0] < length:
                w = self.weights
                dim = w.head_dim
                inv_freq = 1.0 / (w.rope_theta ** (torch.arange(0, dim, 2, dtype=torch.int64).float() / dim))
                freqs = torch.outer(torch.arange(length, dtype=torch.float32), inv_freq)
                emb = torch.cat((freqs, freqs), dim=-1)
                self._rope = (emb.cos(), emb.sin())
            cos, sin = self._rope
            return cos[:length], sin[:length]


class _Run:
    """One generate call: the slots, their caches and the waiting prompts."""

    def __init__(
        self, engine: TorchEngine, weights: _Weights, prompts: Sequence[Sequence[int]], sampling: Sampling, slots: int
    ) -> None:
        import torch

        self.engine, self.w, self.sampling = engine, weights, sampling
        self.prompts = [list(p) for p in prompts]
        if any(not p for p in self.prompts):
            raise ValueError("an empty prompt cannot be continued")
        # Popped from the end: longest prompts first (the prefill groups' padding is then small).
        self.waiting = sorted(range(len(self.prompts)), key=lambda i: len(self.prompts[i]))
        self.max_new = int(sampling.max_new_tokens)
        self.capacity = max(len(p) for p in self.prompts) + self.max_new
        if weights.window is not None and self.capacity > weights.window:
            raise UnsupportedModel(
                f"{self.capacity} positions exceed the model's sliding attention window ({weights.window}), which "
                "the torch engine does not implement"
            )
        slot_bytes = self.capacity * len(weights.layers) * 2 * weights.kv_heads * weights.head_dim * 4
        self.slots = max(1, min(slots, MAX_SLOTS, len(self.prompts), CACHE_BYTES // slot_bytes))
        self.cos, self.sin = engine.rope(self.capacity)
        shape = (self.slots, weights.kv_heads, self.capacity, weights.head_dim)
        # Keys are kept transposed ([slot, kv head, dim, position]): a decoding step's q @ K then reads them in
        # order, measured ~1.6x faster than through a transposed view.
        self.keys_t = [torch.zeros(shape[:2] + (shape[3], shape[2])) for _ in weights.layers]
        self.values = [torch.zeros(shape) for _ in weights.layers]
        self.owner = [-1] * self.slots  # prompt index per slot, -1 = free
        self.length = torch.zeros(self.slots, dtype=torch.int64)  # filled cache positions per slot
        self.produced = [0] * self.slots
        self.last = torch.zeros(self.slots, dtype=torch.int64)  # the token each slot feeds next
        self.end_ids = set(engine.end_ids)
        self.generator = torch.Generator().manual_seed(int(sampling.seed))
        # transformers' generate applies the checkpoint's own repetition_penalty unless the caller sets one.
        asked = float(sampling.repetition_penalty)
        self.penalty = asked if asked != 1.0 else weights.repetition_penalty
        self.vocab = int(weights.lm_head.shape[0])
        self.seen = torch.zeros((self.slots, self.vocab), dtype=torch.bool) if self.penalty != 1.0 else None

    def events(self) -> Iterator[tuple[int, int | None, bool]]:
        import torch

        if self.max_new <= 0:
            for index in range(len(self.prompts)):
                yield index, None, False
            return
        while True:
            free = [s for s in range(self.slots) if self.owner[s] < 0]
            while free and self.waiting:  # an answer can end at its first token: its slot is free again at once
                yield from self._admit([(slot, self.waiting.pop()) for slot in free[: len(self.waiting)]])
                free = [s for s in range(self.slots) if self.owner[s] < 0]
            live = [s for s in range(self.slots) if self.owner[s] >= 0]
            if not live:
                return
            if not self.waiting and len(live) < self.slots * COMPACT_BELOW:
                self._compact(live)
                live = list(range(self.slots))
            rows = torch.tensor(live)
            logits = self._step(rows)
            chosen = self._choose(logits[rows], rows)
            for slot, token in zip(live, chosen.tolist(), strict=True):
                yield from self._emit(slot, token)

    def _admit(self, admitted: list[tuple[int, int]]) -> Iterator[tuple[int, int | None, bool]]:
        """Prefill waiting prompts into free slots, in groups of about PREFILL_TOKENS padded tokens. A prompt admitted
        several times (GRPO's group of completions per prompt) is prefilled once and its cache copied."""
        import torch

        source: dict[tuple[int, ...], int] = {}  # prompt -> the slot it is prefilled in
        unique: list[tuple[int, list[int]]] = []
        for slot, index in admitted:
            self.owner[slot] = index
            self.produced[slot] = 0
            prompt = self.prompts[index]
            if self.seen is not None:
                self.seen[slot].zero_()
                self.seen[slot, torch.tensor([i for i in prompt if i < self.vocab], dtype=torch.int64)] = True
            if source.setdefault(tuple(prompt), slot) == slot:
                unique.append((slot, prompt))
        logits: dict[int, Any] = {}
        for group in _prefill_groups(unique):
            for (slot, _), row in zip(group, self._prefill([s for s, _ in group], [p for _, p in group]), strict=True):
                logits[slot] = row
        copies = [(slot, source[tuple(self.prompts[index])]) for slot, index in admitted]
        copies = [(to, origin) for to, origin in copies if to != origin]
        if copies:
            targets, origins = torch.tensor([t for t, _ in copies]), torch.tensor([o for _, o in copies])
            for cache in (*self.keys_t, *self.values):
                cache[targets] = cache[origins]
            self.length[targets] = self.length[origins]
        slots = [slot for slot, _ in admitted]
        firsts = torch.stack([logits[source[tuple(self.prompts[index])]] for _, index in admitted])
        for slot, token in zip(slots, self._choose(firsts, torch.tensor(slots)).tolist(), strict=True):
            yield from self._emit(slot, int(token))

    def _emit(self, slot: int, token: int) -> Iterator[tuple[int, int | None, bool]]:
        index = self.owner[slot]
        if token in self.end_ids:
            self.owner[slot] = -1
            yield index, token, True
            return
        self.produced[slot] += 1
        self.last[slot] = token
        if self.seen is not None:
            self.seen[slot, token] = True
        yield index, token, False
        if self.produced[slot] >= self.max_new:
            self.owner[slot] = -1
            yield index, None, False

    def _compact(self, live: list[int]) -> None:
        """Keep only the live slots' caches (no prompt is waiting): later steps cost what the live rows need."""
        import torch

        rows = torch.tensor(live)
        self.keys_t = [k[rows].contiguous() for k in self.keys_t]
        self.values = [v[rows].contiguous() for v in self.values]
        self.owner = [self.owner[s] for s in live]
        self.produced = [self.produced[s] for s in live]
        self.length, self.last = self.length[rows].clone(), self.last[rows].clone()
        if self.seen is not None:
            self.seen = self.seen[rows].clone()
        self.slots = len(live)

    # ------------------------------------------------------------------ the network

    def _prefill(self, slots: list[int], prompts: list[list[int]]) -> Any:
        """Run prompts (right-padded to the longest) through the network into their slots' caches; the logits after
        each one's last token [len(prompts), vocab]. Padding is masked out of every real position's attention;
        what it writes into the cache lies beyond the prompt and is overwritten before it is ever attended to."""
        import torch
        import torch.nn.functional as F

        w = self.w
        count, longest = len(prompts), max(len(p) for p in prompts)
        lengths = torch.tensor([len(p) for p in prompts])
        tokens = torch.zeros((count, longest), dtype=torch.int64)
        for row, prompt in enumerate(prompts):
            tokens[row, : len(prompt)] = torch.tensor(prompt)
        x = w.embed[tokens]  # [count, longest, hidden]
        cos, sin = self.cos[:longest, None], self.sin[:longest, None]  # broadcast over heads
        positions = torch.arange(longest)
        allowed = (positions[None, :] <= positions[:, None])[None] & (positions[None, None, :] < lengths[:, None, None])
        allowed = allowed[:, None]  # [count, 1, longest, longest]: causal, and no key beyond the prompt
        rows = torch.tensor(slots)
        for i, layer in enumerate(w.layers):
            h = _rms_norm(x, layer.input_norm, w.eps)
            q, k, v = self._qkv(h, layer, cos, sin)  # [count, longest, heads, d], [count, longest, kv, d] x2
            k, v = k.transpose(1, 2), v.transpose(1, 2)
            self.keys_t[i][rows, :, :, :longest] = k.transpose(-1, -2)
            self.values[i][rows, :, :longest] = v
            attended = F.scaled_dot_product_attention(q.transpose(1, 2), k, v, attn_mask=allowed, enable_gqa=True)
            x = x + F.linear(attended.transpose(1, 2).flatten(2), layer.out, layer.out_bias)
            x = x + self._mlp(_rms_norm(x, layer.post_norm, w.eps), layer)
        self.length[rows] = lengths
        last = _rms_norm(x[torch.arange(count), lengths - 1], w.norm, w.eps)
        return F.linear(last, w.lm_head)

    def _step(self, live: Any) -> Any:
        """One decoding step for every slot (a free slot's row is computed and ignored; only the live ones move
        on); logits [slots, vocab]."""
        import torch
        import torch.nn.functional as F

        w = self.w
        b = self.slots
        positions = self.length.clone()
        span = int(positions.max().item()) + 1
        x = w.embed[self.last]  # [b, hidden]
        cos, sin = self.cos[positions], self.sin[positions]  # [b, d]
        rows = torch.arange(b)
        visible = torch.arange(span)[None, :] <= positions[:, None]  # [b, span]
        mask = torch.zeros((b, 1, 1, span)).masked_fill_(~visible[:, None, None, :], float("-inf"))
        group = w.heads // w.kv_heads
        scale = w.head_dim**-0.5
        for i, layer in enumerate(w.layers):
            h = _rms_norm(x, layer.input_norm, w.eps)
            q, k, v = self._qkv(h, layer, cos[:, None], sin[:, None])  # [b, heads, d], [b, kv, d] x2
            self.keys_t[i][rows, :, :, positions] = k
            self.values[i][rows, :, positions] = v
            keys_t = self.keys_t[i][..., :span]  # [b, kv, d, span]
            values = self.values[i][:, :, :span]
            scores = torch.matmul(q.view(b, w.kv_heads, group, w.head_dim), keys_t) * scale
            probs = torch.softmax(scores + mask, dim=-1)
            attended = torch.matmul(probs, values)  # [b, kv, group, d]
            x = x + F.linear(attended.reshape(b, -1), layer.out, layer.out_bias)
            x = x + self._mlp(_rms_norm(x, layer.post_norm, w.eps), layer)
        self.length[live] += 1
        return F.linear(_rms_norm(x, w.norm, w.eps), w.lm_head)

    def _qkv(self, h: Any, layer: _Layer, cos: Any, sin: Any) -> tuple[Any, Any, Any]:
        import torch.nn.functional as F

        w = self.w
        d = w.head_dim
        fused = F.linear(h, layer.qkv, layer.qkv_bias)
        q_width, kv_width = w.heads * d, w.kv_heads * d
        q = fused[..., :q_width].unflatten(-1, (w.heads, d))
        k = fused[..., q_width : q_width + kv_width].unflatten(-1, (w.kv_heads, d))
        v = fused[..., q_width + kv_width :].unflatten(-1, (w.kv_heads, d))
        return _rotate(q, cos, sin), _rotate(k, cos, sin), v

    def _mlp(self, h: Any, layer: _Layer) -> Any:
        import torch.nn.functional as F

        gate_up = F.linear(h, layer.gate_up)
        gate, up = gate_up.split(self.w.intermediate, dim=-1)
        return F.linear(F.silu(gate) * up, layer.down)

    # ------------------------------------------------------------------ choosing tokens

    def _choose(self, logits: Any, rows: Any) -> Any:
        """Greedy = argmax of the processed scores; else a sample from them."""
        import torch

        scores = self._scores(logits, rows)
        if self.sampling.greedy:
            return scores.argmax(dim=-1)
        # Inverse-CDF sampling: one uniform number per row (torch.multinomial and the exponential race draw a
        # number per vocabulary entry: ~18 ms per call for 16 rows here, a fifth of a decoding step).
        cdf = torch.softmax(scores, dim=-1).cumsum(dim=-1)
        u = torch.rand((cdf.shape[0], 1), generator=self.generator) * cdf[:, -1:]
        return torch.searchsorted(cdf, u, right=True).clamp_(max=cdf.shape[-1] - 1)[:, 0]

    def _scores(self, logits: Any, rows: Any) -> Any:
        """transformers' logits processors, in its order: repetition penalty, then (sampling only) temperature,
        top-k, top-p; a removed token scores -inf."""
        import torch

        scores = logits.float()
        if self.seen is not None:
            penalised = torch.where(scores < 0, scores * self.penalty, scores / self.penalty)
            scores = torch.where(self.seen[rows], penalised, scores)
        s = self.sampling
        if s.greedy:
            return scores
        scores = scores / float(s.temperature)
        if s.top_k and s.top_k < scores.shape[-1]:
            kth = torch.topk(scores, int(s.top_k), dim=-1).values[..., -1:]
            scores = scores.masked_fill(scores < kth, float("-inf"))
        if s.top_p < 1.0:
            ordered, order = torch.sort(scores, descending=False, dim=-1)
            cumulative = ordered.softmax(dim=-1).cumsum(dim=-1)
            remove = cumulative <= (1 - float(s.top_p))
            remove[..., -1:] = False  # keep at least one token
            scores = scores.masked_fill(remove.scatter(-1, order, remove), float("-inf"))
        return scores


def _prefill_groups(prompts: list[tuple[int, list[int]]]) -> list[list[tuple[int, list[int]]]]:
    """Consecutive groups whose padded size (count x longest) stays within PREFILL_TOKENS (one prompt at least)."""
    groups: list[list[tuple[int, list[int]]]] = []
    longest = 0
    for item in prompts:
        longest_with = max(longest, len(item[1]))
        if groups and longest_with * (len(groups[-1]) + 1) <= PREFILL_TOKENS:
            groups[-1].append(item)
            longest = longest_with
        else:
            groups.append([item])
            longest = len(item[1])
    return groups


def _rms_norm(x: Any, weight: Any, eps: float) -> Any:
    import torch

    return weight * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps))


def _rotate(x: Any, cos: Any, sin: Any) -> Any:
    """Rotary embedding as transformers applies it: x * cos + rotate_half(x) * sin (cos, sin shaped to broadcast
    over the heads)."""
    import torch

    half = x.shape[-1] // 2
    rotated = torch.cat((-x[..., half:], x[..., :half]), dim=-1)
    return x * cos + rotated * sin


# ---------------------------------------------------------------- weights


def read_weights(model: Any) -> _Weights:
    """The fused inference weights of a causal LM (a PEFT model: active LoRA adapters merged into a copy)."""
    import torch

    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    config = base.config
    _check_supported(base, config)
    decoder = base.model
    heads, kv_heads = int(config.num_attention_heads), int(config.num_key_value_heads)
    head_dim = int(getattr(config, "head_dim", None) or config.hidden_size // heads)
    with torch.no_grad():
        layers = []
        for layer in decoder.layers:
            attn, mlp = layer.self_attn, layer.mlp
            projections = (attn.q_proj, attn.k_proj, attn.v_proj)
            biases = [_linear_bias(p) for p in projections]
            layers.append(
                _Layer(
                    input_norm=layer.input_layernorm.weight.detach(),
                    qkv=torch.cat([_linear_weight(p) for p in projections]).contiguous(),
                    qkv_bias=torch.cat(biases) if all(b is not None for b in biases) else None,
                    out=_linear_weight(attn.o_proj),
                    out_bias=_linear_bias(attn.o_proj),
                    post_norm=layer.post_attention_layernorm.weight.detach(),
                    gate_up=torch.cat([_linear_weight(mlp.gate_proj), _linear_weight(mlp.up_proj)]).contiguous(),
                    down=_linear_weight(mlp.down_proj),
                )
            )
        embed = decoder.embed_tokens.weight.detach()
        lm_head = _linear_weight(base.lm_head)
    rope = getattr(config, "rope_parameters", None) or {}
    theta = rope.get("rope_theta", getattr(config, "rope_theta", 10000.0))
    return _Weights(
        embed=embed,
        layers=layers,
        norm=decoder.norm.weight.detach(),
        lm_head=lm_head,
        heads=heads,
        kv_heads=kv_heads,
        head_dim=head_dim,
        intermediate=int(config.intermediate_size),
        eps=float(config.rms_norm_eps),
        rope_theta=float(theta),
        window=_sliding_window(config),
        repetition_penalty=float(getattr(base.generation_config, "repetition_penalty", None) or 1.0),
    )


def _sliding_window(config: Any) -> int | None:
    if type(config).__name__.startswith("Qwen2") and not getattr(config, "use_sliding_window", False):
        return None
    window = getattr(config, "sliding_window", None)
    return int(window) if window else None


def _check_supported(base: Any, config: Any) -> None:
    import torch

    name = type(base).__name__
    if name not in _ARCHITECTURES:
        raise UnsupportedModel(f"the torch engine runs {', '.join(_ARCHITECTURES)}, not {name}")
    rope = getattr(config, "rope_parameters", None) or {}
    rope_type = rope.get("rope_type") or (getattr(config, "rope_scaling", None) or {}).get("rope_type", "default")
    if rope_type != "default":
        raise UnsupportedModel(f"the torch engine runs the default rotary embedding, not {rope_type!r}")
    if getattr(config, "mlp_bias", False):
        raise UnsupportedModel("the torch engine runs models without MLP biases")
    parameter = next(base.parameters())
    if parameter.device.type != "cpu" or parameter.dtype != torch.float32:
        raise UnsupportedModel(f"the torch engine runs float32 on CPU, not {parameter.dtype} on {parameter.device}")
    if str(getattr(config, "hidden_act", "silu")) != "silu":
        raise UnsupportedModel(f"the torch engine runs SiLU MLPs, not {config.hidden_act}")


def _linear_weight(module: Any) -> Any:
    """A linear layer's weight; a PEFT LoRA layer's with its active, unmerged adapters added."""
    base_layer = getattr(module, "base_layer", None)
    if base_layer is None:
        return module.weight.detach()
    weight = base_layer.weight.detach()
    if getattr(module, "merged", False) or getattr(module, "disable_adapters", False):
        return weight
    active = [name for name in module.active_adapters if name in module.lora_A]
    variants, biases = getattr(module, "lora_variant", {}), getattr(module, "lora_bias", {})
    if any(name in variants or biases.get(name) for name in active):
        raise UnsupportedModel("the torch engine merges plain LoRA adapters only (no DoRA, no lora_bias)")
    deltas = [module.get_delta_weight(name) for name in active]
    return weight + sum(deltas) if deltas else weight


def _linear_bias(module: Any) -> Any:
    layer = getattr(module, "base_layer", module)
    return None if layer.bias is None else layer.bias.detach()
