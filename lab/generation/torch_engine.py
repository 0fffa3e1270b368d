"""The plain-torch engine: a Llama-family decoder run from the model's own weights, with a preallocated KV cache per
batch slot and continuous batching (a finished answer's slot is refilled with the next waiting prompt at once).

Why it is faster than transformers' `generate` on a CPU: every decoding step is one large matrix product per
weight (q/k/v fused, gate/up fused) over all live sequences, no cache is concatenated or copied, a batch never waits
for its longest member, the vocabulary projection runs only on the last prompt position, and a prefix the prompts
share (a chat template's system turn) is run once. The arithmetic is transformers' (fp32, the same RMSNorm, rotary
embedding, attention and MLP; fused kernels round in another order, so logits agree to ~1e-6, not bit for bit), so
greedy answers are the same token for token on almost every prompt (tests/test_torch_engine.py checks logits and
tokens against transformers; benchmarks/generation.py counts identical answers on the bundled model).

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
# Prompts prefilled together that begin with at least this many equal tokens (a chat template's system turn: 24 of
# the bundled model's ~80-token prompts) run that prefix once; its keys and values are copied to the others.
SHARED_PREFIX_MIN = 8


class UnsupportedModel(RuntimeError):
    """The model is not one this engine can run (lab.generation then uses transformers)."""


@dataclass
class _Layer:
    """One decoder layer's weights, the matrices stored transposed ([in, out], contiguous): `x @ w` on them is
    measured 5-45 % faster here than F.linear on [out, in] at 16-64 rows. The query part of `qkv` (weight and bias)
    is pre-multiplied by the attention scale (an exact power of two for head sizes 4^k, e.g. 64)."""

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
    lm_head: Any  # transposed: [hidden, vocab]
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

    def __init__(self, weights: _Weights, end_ids: Sequence[int], frozen: FrozenTransposes | None = None) -> None:
        self.end_ids = [int(i) for i in end_ids]
        self.weights = weights
        self._frozen = frozen or FrozenTransposes()
        self._rope: tuple[Any, Any] | None = None
        self._lock = threading.Lock()

    @classmethod
    def for_loaded(cls, loaded: Any) -> TorchEngine:
        return cls.from_model(loaded.model, loaded.tokenizer)

    @classmethod
    def from_model(cls, model: Any, tokenizer: Any, end_ids: Sequence[int] | None = None) -> TorchEngine:
        frozen = FrozenTransposes()
        return cls(read_weights(model, frozen), end_ids or end_token_ids(model, tokenizer), frozen)

    def reload_from(self, model: Any, tokenizer: Any) -> float:
        """Re-read the model's current weights (LoRA merged); returns the seconds it took."""
        started = time.monotonic()
        weights = read_weights(model, self._frozen)
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
        """cos and sin tables [length, head_dim] (transformers' default rotary embedding, in float32); the sin
        table's first half negated, so that rotate_half(x) * sin = roll(x, half) * this (see _rotate)."""
        import torch

        with self._lock:
            if self._rope is None or self._rope[0].shape[0] < length:
                w = self.weights
                dim = w.head_dim
                inv_freq = 1.0 / (w.rope_theta ** (torch.arange(0, dim, 2, dtype=torch.int64).float() / dim))
                freqs = torch.outer(torch.arange(length, dtype=torch.float32), inv_freq)
                emb = torch.cat((freqs, freqs), dim=-1)
                sign = torch.cat((-torch.ones(dim // 2), torch.ones(dim // 2)))
                self._rope = (emb.cos(), emb.sin() * sign)
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
        self.vocab = int(weights.lm_head.shape[1])
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
            chosen = self._choose(logits if len(live) == self.slots else logits[rows], rows)
            for slot, token in zip(live, chosen.tolist(), strict=True):
                yield from self._emit(slot, token)

    def _admit(self, admitted: list[tuple[int, int]]) -> Iterator[tuple[int, int | None, bool]]:
        """Prefill waiting prompts into free slots, in groups of about PREFILL_TOKENS padded tokens. A prompt admitted
        several times (GRPO's group of completions per prompt) is prefilled once and its cache copied; so is a
        prefix that a group's prompts share."""
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
            slots = [s for s, _ in group]
            for slot, row in zip(slots, self._prefill_group(slots, [p for _, p in group]), strict=True):
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

    def _prefill_group(self, slots: list[int], prompts: list[list[int]]) -> Any:
        """_prefill, with a prefix of at least SHARED_PREFIX_MIN tokens that all the prompts share run once (in the
        first slot) and its keys and values copied to the others; the same logits [len(prompts), vocab]."""
        shared = shared_prefix_length(prompts) if len(prompts) > 1 else 0
        if shared < SHARED_PREFIX_MIN:
            return self._prefill(slots, prompts)
        self._prefill(slots[:1], [prompts[0][:shared]])
        self._copy_prefix(slots[0], slots[1:], shared)
        return self._prefill(slots, prompts, start=shared)

    def _copy_prefix(self, origin: int, targets: list[int], positions: int) -> None:
        """The first `positions` cached keys and values of slot `origin`, copied into the target slots."""
        import torch

        rows = torch.tensor(targets)
        for keys_t, values in zip(self.keys_t, self.values, strict=True):
            keys_t[rows, :, :, :positions] = keys_t[origin, :, :, :positions]
            values[rows, :, :positions] = values[origin, :, :positions]

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

    def _prefill(self, slots: list[int], prompts: list[list[int]], start: int = 0) -> Any:
        """Run prompts from position `start` on (right-padded to the longest) through the network into their slots'
        caches, whose first `start` positions already hold the prompts' keys and values; the logits after each
        one's last token [len(prompts), vocab]. Padding is masked out of every real position's attention; what it
        writes into the cache lies beyond the prompt and is overwritten before it is ever attended to."""
        import torch
        import torch.nn.functional as F

        w = self.w
        count, longest = len(prompts), max(len(p) for p in prompts) - start
        lengths = torch.tensor([len(p) for p in prompts])
        tokens = torch.zeros((count, longest), dtype=torch.int64)
        for row, prompt in enumerate(prompts):
            tokens[row, : len(prompt) - start] = torch.tensor(prompt[start:])
        x = w.embed[tokens].view(count * longest, -1)  # rows = (prompt, position)
        end = start + longest
        cos = self.cos[start:end].repeat(count, 1)[:, None]  # [rows, 1, d]: broadcast over heads
        sin = self.sin[start:end].repeat(count, 1)[:, None]
        queries, keys = torch.arange(start, end), torch.arange(end)
        allowed = (keys[None, :] <= queries[:, None])[None] & (keys[None, None, :] < lengths[:, None, None])
        allowed = allowed[:, None]  # [count, 1, longest, end]: causal, and no key beyond the prompt
        rows = torch.tensor(slots)
        for i, layer in enumerate(w.layers):
            q, k, v = self._qkv(_rms_norm(x, layer.input_norm, w.eps), layer, cos, sin)  # [rows, heads, d], ...
            q, k, v = (t.view(count, longest, -1, w.head_dim).transpose(1, 2) for t in (q, k, v))
            self.keys_t[i][rows, :, :, start:end] = k.transpose(-1, -2)
            self.values[i][rows, :, start:end] = v
            if start:  # the prompts' earlier keys and values, from the cache
                k, v = self.keys_t[i][rows, :, :, :end].transpose(-1, -2), self.values[i][rows, :, :end]
            attended = F.scaled_dot_product_attention(q, k, v, attn_mask=allowed, enable_gqa=True, scale=1.0)
            x = self._out(x, attended.transpose(1, 2).reshape(count * longest, -1), layer)
            x = torch.addmm(x, self._gated(_rms_norm(x, layer.post_norm, w.eps), layer), layer.down)
        self.length[rows] = lengths
        last = x.view(count, longest, -1)[torch.arange(count), lengths - start - 1]
        return torch.mm(_rms_norm(last, w.norm, w.eps), w.lm_head)

    def _step(self, live: Any) -> Any:
        """One decoding step for every slot (a free slot's row is computed and ignored; only the live ones move
        on); logits [slots, vocab]."""
        import torch

        w = self.w
        b, kv, d = self.slots, w.kv_heads, w.head_dim
        positions = self.length.clone()
        span = int(positions.max().item()) + 1
        x = w.embed[self.last]  # [b, hidden]
        cos, sin = self.cos[positions][:, None], self.sin[positions][:, None]  # [b, 1, d]
        visible = torch.arange(span)[None, :] <= positions[:, None]  # [b, span]
        mask = torch.zeros((b, 1, 1, span)).masked_fill_(~visible[:, None, None, :], float("-inf"))
        rows = torch.arange(b)
        for i, layer in enumerate(w.layers):
            q, k, v = self._qkv(_rms_norm(x, layer.input_norm, w.eps), layer, cos, sin)  # [b, heads|kv, d]
            self.keys_t[i][rows, :, :, positions] = k
            self.values[i][rows, :, positions] = v
            scores = torch.matmul(q.view(b, kv, -1, d), self.keys_t[i][..., :span])  # [b, kv, group, span]
            probs = torch.softmax(scores.add_(mask), dim=-1)
            attended = torch.matmul(probs, self.values[i][:, :, :span])  # [b, kv, group, d]
            x = self._out(x, attended.view(b, -1), layer)
            x = torch.addmm(x, self._gated(_rms_norm(x, layer.post_norm, w.eps), layer), layer.down)
        self.length[live] += 1
        return torch.mm(_rms_norm(x, w.norm, w.eps), w.lm_head)

    def _qkv(self, h: Any, layer: _Layer, cos: Any, sin: Any) -> tuple[Any, Any, Any]:
        """q (already scaled), k (both rotated) and v of rows h [n, hidden]: [n, heads, d], [n, kv, d] x2."""
        import torch

        w = self.w
        d = w.head_dim
        fused = torch.mm(h, layer.qkv) if layer.qkv_bias is None else torch.addmm(layer.qkv_bias, h, layer.qkv)
        rotated_width = (w.heads + w.kv_heads) * d
        qk = _rotate(fused[:, :rotated_width].view(-1, w.heads + w.kv_heads, d), cos, sin)
        v = fused[:, rotated_width:].view(-1, w.kv_heads, d)
        return qk[:, : w.heads], qk[:, w.heads :], v

    def _out(self, x: Any, attended: Any, layer: _Layer) -> Any:
        """The residual stream after the attention's output projection."""
        import torch

        if layer.out_bias is not None:
            x = x + layer.out_bias
        return torch.addmm(x, attended, layer.out)

    def _gated(self, h: Any, layer: _Layer) -> Any:
        """silu(gate) * up, the MLP's input to its down projection."""
        import torch
        import torch.nn.functional as F

        gate_up = torch.mm(h, layer.gate_up)
        width = self.w.intermediate
        return F.silu(gate_up[:, :width]).mul_(gate_up[:, width:])

    # ------------------------------------------------------------------ choosing tokens

    def _choose(self, logits: Any, rows: Any) -> Any:
        """Greedy = argmax of the processed scores; else a sample from them."""
        import torch

        scores = self._scores(logits, rows)
        if self.sampling.greedy:
            return first_argmax(scores)
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


def shared_prefix_length(prompts: Sequence[Sequence[int]]) -> int:
    """How many first tokens all prompts share, leaving each at least its last token (whose logits are needed)."""
    shortest = min(len(p) for p in prompts)
    for position in range(shortest - 1):
        token = prompts[0][position]
        if any(p[position] != token for p in prompts):
            return position
    return max(0, shortest - 1)


def first_argmax(scores: Any, block: int = 1024) -> Any:
    """scores.argmax(-1) (the first index of each row's maximum), ~5x faster on a CPU for a vocabulary-wide row:
    torch's argmax runs one thread without vector instructions, its amax does not. The blocks' maxima pick the first
    block that holds the row's maximum; argmax runs only inside that block."""
    import torch

    rows, width = scores.shape
    whole = width // block * block
    if whole < 4 * block:
        return scores.argmax(dim=-1)
    maxima = scores[:, :whole].reshape(rows, whole // block, block).amax(dim=-1)
    if whole < width:
        maxima = torch.cat((maxima, scores[:, whole:].amax(dim=-1, keepdim=True)), dim=1)
    start = maxima.argmax(dim=-1) * block
    offsets = torch.arange(block)
    inside = scores.gather(1, (start[:, None] + offsets).clamp_(max=width - 1))
    inside = inside.masked_fill_(start[:, None] + offsets >= width, float("-inf"))  # a short last block's overhang
    return start + inside.argmax(dim=-1)


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
    """transformers' RMSNorm (weight * x / sqrt(mean(x^2) + eps)), as torch's fused kernel computes it."""
    import torch.nn.functional as F

    return F.rms_norm(x, (x.shape[-1],), weight, eps)


def _rotate(x: Any, cos: Any, sin: Any) -> Any:
    """Rotary embedding as transformers applies it, x * cos + rotate_half(x) * sin, where rotate_half(x) =
    cat(-x2, x1) = roll(x, half) with its first half negated: the sign is folded into the sin table
    (TorchEngine.rope)."""
    import torch

    return torch.addcmul(x * cos, x.roll(x.shape[-1] // 2, -1), sin)


# ---------------------------------------------------------------- weights


class FrozenTransposes:
    """The fused, transposed copies of frozen base weights, kept from one read to the next. Under LoRA the base
    weights are frozen and only the adapters' product changes after an optimiser step, so a sync adds that product to
    the kept copy instead of fusing and transposing every matrix again (GRPO: ~0.41 -> ~0.2 s a step), at the cost of
    holding that copy besides the merged one. A copy is reused only for parameters that do not train
    (requires_grad False: an optimiser step, fused or not, never touches them) and are the same tensors, storage and
    version counter, in layers whose adapters are not merged into them; a trainable one (full fine-tuning) is read
    afresh every time. Not covered: a frozen weight rewritten in place through `.data` (PEFT's merge does that, and is
    caught by its `merged` flag)."""

    def __init__(self) -> None:
        self._kept: dict[str, tuple[list[tuple[Any, ...]], Any]] = {}
        self._lock = threading.Lock()

    def fused(self, name: str, modules: Sequence[Any], scales: Sequence[float]) -> Any:
        """cat(scale_i * W_i).T for the modules' weights W_i [out_i, in] (LoRA adapters merged): [in, sum out_i]."""
        import torch

        sources = [getattr(m, "base_layer", m).weight for m in modules]  # the parameters themselves: identity
        key = [
            (p, p.data_ptr(), p._version, bool(getattr(m, "merged", False)))
            for p, m in zip(sources, modules, strict=True)
        ]
        with self._lock:
            kept = self._kept.get(name)
            frozen = not any(p.requires_grad for p in sources)
            if frozen and kept and _same_sources(kept[0], key):
                fused = kept[1]
            else:
                parts = [p.detach() * s if s != 1.0 else p.detach() for p, s in zip(sources, scales, strict=True)]
                fused = torch.cat(parts).t().contiguous()
                if frozen:
                    self._kept[name] = (key, fused)  # holding the parameters keeps their ids unique
                else:
                    self._kept.pop(name, None)
        deltas = [_lora_delta(m) for m in modules]
        if all(d is None for d in deltas):
            return fused
        parts = [torch.zeros_like(p) if d is None else d * s for p, d, s in zip(sources, deltas, scales, strict=True)]
        return fused + torch.cat(parts).t()


def _same_sources(kept: list[tuple[Any, ...]], now: list[tuple[Any, ...]]) -> bool:
    return len(kept) == len(now) and all(a[0] is b[0] and a[1:] == b[1:] for a, b in zip(kept, now, strict=True))


def read_weights(model: Any, frozen: FrozenTransposes | None = None) -> _Weights:
    """The fused inference weights of a causal LM (a PEFT model: active LoRA adapters merged into a copy)."""
    import torch

    frozen = frozen or FrozenTransposes()
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    config = base.config
    _check_supported(base, config)
    decoder = base.model
    heads, kv_heads = int(config.num_attention_heads), int(config.num_key_value_heads)
    head_dim = int(getattr(config, "head_dim", None) or config.hidden_size // heads)
    scale = head_dim**-0.5
    with torch.no_grad():
        layers = []
        for i, layer in enumerate(decoder.layers):
            attn, mlp = layer.self_attn, layer.mlp
            projections = (attn.q_proj, attn.k_proj, attn.v_proj)
            biases = [_linear_bias(p) for p in projections]
            biased = all(b is not None for b in biases)
            layers.append(
                _Layer(
                    input_norm=layer.input_layernorm.weight.detach(),
                    qkv=frozen.fused(f"{i}.qkv", projections, (scale, 1.0, 1.0)),
                    qkv_bias=torch.cat([biases[0] * scale, *biases[1:]]) if biased else None,
                    out=frozen.fused(f"{i}.out", [attn.o_proj], [1.0]),
                    out_bias=_linear_bias(attn.o_proj),
                    post_norm=layer.post_attention_layernorm.weight.detach(),
                    gate_up=frozen.fused(f"{i}.gate_up", (mlp.gate_proj, mlp.up_proj), (1.0, 1.0)),
                    down=frozen.fused(f"{i}.down", [mlp.down_proj], [1.0]),
                )
            )
        embed = decoder.embed_tokens.weight.detach()
        lm_head = frozen.fused("lm_head", [base.lm_head], [1.0])
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


def _lora_delta(module: Any) -> Any:
    """The summed weight delta of a PEFT LoRA layer's active, unmerged adapters; None for a plain layer or none."""
    if getattr(module, "base_layer", None) is None:
        return None
    if getattr(module, "merged", False) or getattr(module, "disable_adapters", False):
        return None
    active = [name for name in module.active_adapters if name in module.lora_A]
    variants, biases = getattr(module, "lora_variant", {}), getattr(module, "lora_bias", {})
    if any(name in variants or biases.get(name) for name in active):
        raise UnsupportedModel("the torch engine merges plain LoRA adapters only (no DoRA, no lora_bias)")
    deltas = [module.get_delta_weight(name).detach() for name in active]
    return sum(deltas) if deltas else None


def _linear_bias(module: Any) -> Any:
    layer = getattr(module, "base_layer", module)
    return None if layer.bias is None else layer.bias.detach()
