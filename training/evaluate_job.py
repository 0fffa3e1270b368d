"""The `evaluate` job: checkpoints × eval suites -> greedy responses with breakdowns (stored as samples) and
per-checkpoint metrics with 95 % bootstrap intervals (one evaluations row per checkpoint and suite).

Results are cached by (model weights, suite content, generation settings, scorer): evaluating the same pair
again is instant. `python -m training run evaluate --set checkpoints='["bundled", "12"]' --set limit=20`
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Literal

from evals.lm_eval_hook import SUITE_NAME as OFFICIAL_SUITE
from evals.targets import (
    EvalTarget,
    expand_refs,
    generation_key,
    resolve_target,
    scorer_key,
    suite_cache_key,
)
from lab.errors import LabError
from lab.generation.engine import GenerationStopped
from lab.model_access import check_remote_code
from lab.random_seed import MAX_SEED
from training.registry import JobContext, JobKind, register_kind

DEFAULT_SUITES = ("heldout-if", "heldout-ood", "math-probe", "arith-probe")


@dataclass
class EvaluateConfig:
    """Evaluate checkpoints on suites; every (checkpoint, suite) pair becomes one stored evaluation."""

    # --- what to evaluate
    checkpoints: list[str] = field(
        default_factory=lambda: ["bundled"],
        metadata={
            "help": "Models to evaluate: stored checkpoint ids (e.g. 12), 'run:5' (every checkpoint of run 5), "
            "checkpoint folders, 'bundled' (SmolLM2-135M-Instruct, the base) or hub ids."
        },
    )
    suites: list[str] = field(
        default_factory=lambda: list(DEFAULT_SUITES),
        metadata={
            "help": "Eval suites: 'heldout-if' (300 prompts with 1–3 hard constraints + 100 soft), 'heldout-ood' "
            "(300 with 1–3 IFBench constraints: out-of-domain), 'math-probe' (200 multi-step problems), "
            "'arith-probe' (200 one- and two-step problems, calibrated so the bundled base model scores 30–60 %), "
            f"'{OFFICIAL_SUITE}' (lm-eval's official IFEval, when installed) or a path to an IFEval/IFBench-format "
            ".jsonl file (prompt, instruction_id_list, kwargs); prefix 'ood:' reports a file as out-of-domain, "
            "'ifbench:' also requires IFBench ids (a file of only IFBench ids is out-of-domain anyway)."
        },
    )
    limit: int | None = field(
        default=None,
        metadata={"help": "Use only the first N prompts of each suite part (empty = all).", "min": 1, "max": 1_000_000},
    )
    sample_seed: int | None = field(
        default=None,
        metadata={
            "help": "With limit: a seeded random N prompts of each part instead of the first N in file order "
            "(empty = first N; lm-eval-ifeval always takes the first N).",
            "min": 0,
            "max": MAX_SEED,
        },
    )
    # --- generation (greedy)
    max_new_tokens: int = field(
        default=256, metadata={"help": "Longest response, in tokens (greedy decoding).", "min": 1, "max": 32768}
    )
    batch_size: int = field(
        default=256,
        metadata={
            "help": "Prompts handed to the generator at once; progress (and resume) is per batch. The torch engine "
            "decodes up to 128 of them together and gives a finished answer's slot to the next one, so bigger "
            "batches keep it full (quiet, heldout-if + heldout-ood: 3 min 55 s at 256, 4 min 56 s at 64). Plain "
            "transformers on CPU runs them in static batches of at most 16 (its fastest there).",
            "min": 1,
            "max": 4096,
            "speed_only": True,  # greedy answers do not depend on it: an experiment reuses an evaluation across it
        },
    )
    backend: Literal["auto", "transformers", "torch", "ctranslate2", "vllm"] = field(
        default="auto",
        metadata={
            "help": "Generation backend: auto = vLLM when it and a CUDA GPU exist, else the torch engine on CPU "
            "(fp32, continuous batching, the same greedy tokens as transformers on almost every prompt, several "
            "times faster); ctranslate2 on request; LAB_GENERATION_ENGINE=transformers forces plain transformers."
        },
    )
    trust_remote_code: bool = field(default=False, metadata={"help": "Run a checkpoint's own Python code."})
    # --- scoring
    reward_model: str | None = field(
        default=None,
        metadata={"help": "Reward-model checkpoint (stored id or folder) that scores soft constraints; empty = none."},
    )
    ifeval_data: str | None = field(
        default=None, metadata={"help": f"Local IFEval .jsonl for '{OFFICIAL_SUITE}' (else the hub's google/IFEval)."}
    )
    bootstrap_resamples: int = field(
        default=1000, metadata={"help": "Bootstrap resamples for the 95 % intervals.", "min": 100, "max": 100_000}
    )
    seed: int = field(
        default=0, metadata={"help": "Seed of generation and of the bootstrap.", "min": 0, "max": MAX_SEED}
    )
    use_cache: bool = field(default=True, metadata={"help": "Reuse stored results of identical evaluations."})

    def validate(self) -> None:
        from evals.generation import resolve_backend
        from evals.suites import load_suite

        check_remote_code(self.trust_remote_code)  # needs the operator's LAB_ALLOW_REMOTE_CODE=1
        if not self.checkpoints:
            raise LabError("give at least one checkpoint or model", field="checkpoints")
        if not self.suites:
            raise LabError(f"give at least one suite, e.g. {', '.join(DEFAULT_SUITES)}", field="suites")
        for name, value, low in (
            ("max_new_tokens", self.max_new_tokens, 1),
            ("batch_size", self.batch_size, 1),
            ("bootstrap_resamples", self.bootstrap_resamples, 100),
        ):
            if value < low:
                raise LabError(f"must be >= {low}, got {value}", field=name)
        if self.limit is not None and self.limit < 1:
            raise LabError(f"must be >= 1 or empty for whole suites, got {self.limit}", field="limit")
        if len(set(self.suites)) != len(self.suites):
            raise LabError("lists a suite twice", field="suites")
        resolve_backend(self.backend)
        for ref in expand_refs(self.checkpoints):
            resolve_target(ref)
        for spec in self.suites:
            if spec != OFFICIAL_SUITE:
                load_suite(spec)  # refuses unknown names and files without a single usable row
        if self.reward_model:
            scorer_key(self.reward_model)


def run(config: EvaluateConfig, ctx: JobContext) -> dict[str, Any]:
    from evals.suites import load_suite

    # 'run:N' is expanded once per run: a resume keeps the pairs (and their sample steps) of the first attempt.
    refs = list(ctx.resume_state().get("refs") or expand_refs(config.checkpoints))
    targets = [resolve_target(ref) for ref in refs]
    suites = {s: load_suite(s).limited(config.limit, config.sample_seed) for s in config.suites if s != OFFICIAL_SUITE}
    pairs = [(t, s) for t in targets for s in config.suites]
    sizes = [len(suites[s].items) if s in suites else 1 for _, s in pairs]
    job = _EvalJob(config, ctx, total=sum(sizes), refs=refs)
    report = []
    try:
        for step, (target, spec) in enumerate(pairs):
            if ctx.should_stop():
                break
            if spec == OFFICIAL_SUITE:
                report.append(job.official(target))
            else:
                outcome = job.evaluate_pair(step, target, suites[spec])
                if outcome is None:  # stopped mid-pair; a resume continues from its stored samples
                    break
                report.append(outcome)
            job.advance(sizes[step], f"{target.label} × {spec}")
    finally:
        job.close()
    errors = {name: [str(e) for e in suite.errors] for name, suite in suites.items() if suite.errors}
    return {"evaluations": report, "row_errors": errors}


class _EvalJob:
    """State shared by the pairs of one job: progress, the loaded generator and the soft scorer."""

    def __init__(self, config: EvaluateConfig, ctx: JobContext, total: int, refs: list[str]) -> None:
        from evals.generation import resolve_backend

        self.refs = refs
        self.config = config
        self.ctx = ctx
        self.total = total
        self.done = 0
        self.backend = resolve_backend(config.backend)
        self._generator: Any = None
        self._generator_spec: str | None = None
        self._scorer: Any = None

    def advance(self, n: int, message: str) -> None:
        self.done += n
        self.ctx.progress(self.done, self.total, message)

    def close(self) -> None:
        if self._generator is not None:
            self._generator.close()
            self._generator = None

    def generator(self, target: EvalTarget) -> Any:
        from evals.generation import make_generator

        if self._generator_spec != target.spec:
            self.close()
            self._generator = make_generator(
                self.backend, target.spec, self.config.batch_size, self.config.trust_remote_code
            )
            self._generator_spec = target.spec
        return self._generator

    def scorer(self) -> Any:
        if self._scorer is None and self.config.reward_model:
            from lab.rm_scorer import load_rm_scorer
            from training.refs import resolve_checkpoint

            self._scorer = load_rm_scorer(resolve_checkpoint(self.config.reward_model, "reward_model"))
        return self._scorer

    # ------------------------------------------------------------------ our suites

    def evaluate_pair(self, step: int, target: EvalTarget, suite: Any) -> dict[str, Any] | None:
        from evals.metrics import compute_metrics
        from lab.reward import breakdown_batch

        config = self.config
        gen_key = generation_key(target, suite, config.max_new_tokens, self.backend)
        cache_key = suite_cache_key(gen_key, config.reward_model, config.bootstrap_resamples, config.seed, suite)
        if config.use_cache:
            cached = _cached(cache_key)
            if cached is not None:
                print(f"[evaluate] cache hit: {target.label} × {suite.name} (evaluation {cached['id']})", flush=True)
                return cached
        started = time.monotonic()
        known = _known_responses(self.ctx.run_id, step, gen_key, config.use_cache)
        items = list(suite.items)
        scorer = self.scorer() if any("soft" in _kinds(i) for i in items) else None
        breakdowns: list[Any] = []
        tokens: list[int] = []
        generated = 0
        gen_seconds = 0.0
        for start in range(0, len(items), config.batch_size):
            if self.ctx.should_stop():
                return None
            batch = items[start : start + config.batch_size]
            missing = [i for i, item in enumerate(batch) if item.key not in known]
            if missing:
                t0 = time.monotonic()
                try:  # a cancel stops the engine mid-batch (a batch of 256 runs ~1.5 min); resume redoes the batch
                    outputs = self.generator(target).generate(
                        [batch[i].prompt for i in missing], config.max_new_tokens, config.seed + start,
                        self.ctx.should_stop,
                    )  # fmt: skip
                except GenerationStopped:
                    return None
                gen_seconds += time.monotonic() - t0
                generated += len(missing)
                for i, out in zip(missing, outputs, strict=True):
                    known[batch[i].key] = (out.text, out.tokens)
            responses = [known[item.key][0] for item in batch]
            results = breakdown_batch([item.row() for item in batch], responses, scorer, loose=True)
            breakdowns.extend(results)
            tokens.extend(known[item.key][1] for item in batch)
            self.ctx.log_samples(
                step,
                [_sample(item, known[item.key], r, gen_key, target) for item, r in zip(batch, results, strict=True)],
            )
            # save_state writes the samples in the same transaction: a resume finds them and skips the batch.
            self.ctx.save_state({"refs": self.refs, "step": step, "items_done": start + len(batch)})
            self.ctx.progress(self.done + start + len(batch), self.total, f"{target.label} × {suite.name}")
        metrics = compute_metrics(
            items, breakdowns, tokens, config.max_new_tokens, resamples=config.bootstrap_resamples, seed=config.seed
        )
        results_doc = {
            "status": "complete",
            "cache_key": cache_key,
            "generation_key": gen_key,
            "suite": suite.name,
            "domain": suite.domain,  # in-domain | out-of-domain | mixed | math: Compare pairs the first two
            "suite_description": suite.description,
            "suite_fingerprint": suite.fingerprint,
            "limit": config.limit,
            "row_errors": [str(e) for e in suite.errors],
            **target.describe(),
            "settings": {
                "max_new_tokens": config.max_new_tokens,
                "decoding": "greedy",
                "backend": self.backend,
                "seed": config.seed,
                "reward_model": config.reward_model,
                "bootstrap_resamples": config.bootstrap_resamples,
            },
            "samples": {"run_id": self.ctx.run_id, "step": step, "count": len(items)},
            "generated": generated,
            "timing": {"total_s": time.monotonic() - started, "generation_s": gen_seconds},
            **metrics,
        }
        evaluation_id = self.ctx.record_evaluation(
            target.model, suite.name, results_doc, checkpoint_id=target.checkpoint_id
        )
        return _summary(evaluation_id, results_doc, cached=False)

    # ------------------------------------------------------------------ lm-eval's official IFEval

    def official(self, target: EvalTarget) -> dict[str, Any]:
        from evals.lm_eval_hook import official_cache_key, official_ifeval_status, run_official_ifeval

        config = self.config
        status = official_ifeval_status(config.ifeval_data)
        if not status.available or status.data is None:
            print(f"[evaluate] skipping {OFFICIAL_SUITE} for {target.label}: {status.reason}", flush=True)
            return {"suite": OFFICIAL_SUITE, "model": target.model, "label": target.label, "skipped": status.reason}
        cache_key = official_cache_key(target.identity(), status.data, config.limit, config.max_new_tokens)
        if config.use_cache:
            cached = _cached(cache_key)
            if cached is not None:
                return cached
        started = time.monotonic()
        self.close()  # lm-eval loads its own copy of the model
        result = run_official_ifeval(
            target.spec,
            status.data,
            limit=config.limit,
            max_new_tokens=config.max_new_tokens,
            batch_size=config.batch_size,
        )
        doc = {
            "status": "complete",
            "cache_key": cache_key,
            "suite": OFFICIAL_SUITE,
            "official": True,
            "data": result.data,
            "lm_eval_version": result.lm_eval_version,
            "limit": config.limit,
            **target.describe(),
            "settings": {"max_new_tokens": config.max_new_tokens, "decoding": "greedy", "backend": "lm-eval hf"},
            "n_items": result.n_prompts,
            "ifeval": {name: {"value": value, "n": result.n_prompts} for name, value in result.metrics.items()},
            "headline": dict(result.metrics),
            "timing": {"total_s": time.monotonic() - started},
        }
        evaluation_id = self.ctx.record_evaluation(
            target.model, OFFICIAL_SUITE, doc, checkpoint_id=target.checkpoint_id
        )
        return _summary(evaluation_id, doc, cached=False)


def _kinds(item: Any) -> set[str]:
    from lab.constraints.registry import get_type

    return {get_type(t).kind for t in item.instruction_id_list}


def _sample(item: Any, known: tuple[str, int], result: Any, gen_key: str, target: EvalTarget) -> dict[str, Any]:
    return {
        "prompt": item.prompt,
        "response": known[0],
        "breakdown": result.to_dict(),
        "reward": result.reward,
        "meta": {
            "key": item.key,
            "part": item.part,
            "tokens": known[1],
            "generation_key": gen_key,
            "model": target.model,
            "label": target.label,
            "row": item.row(),
        },
    }


def _known_responses(run_id: int, step: int, gen_key: str, use_cache: bool) -> dict[str, tuple[str, int]]:
    """Responses already generated with exactly these settings: this run's earlier attempt, else a cached twin."""
    from storage.evaluations import find_generations
    from storage.samples import samples_at

    def from_samples(samples: list[Any]) -> dict[str, tuple[str, int]]:
        return {
            s.meta["key"]: (s.response, int(s.meta.get("tokens", 0)))
            for s in samples
            if s.meta.get("generation_key") == gen_key and "key" in s.meta
        }

    known = from_samples(samples_at(run_id, step))
    if not known and use_cache:
        # The same generations scored another way (e.g. another reward model): rescore, don't regenerate.
        twin = find_generations(gen_key)
        if twin is not None:
            where = twin.results.get("samples") or {}
            known = from_samples(samples_at(int(where["run_id"]), int(where["step"])))
    return known


def _cached(cache_key: str) -> dict[str, Any] | None:
    from storage.evaluations import find_cached

    found = find_cached(cache_key)
    return _summary(found.id, found.results, cached=True) if found else None


def _summary(evaluation_id: int, results: dict[str, Any], cached: bool) -> dict[str, Any]:
    return {
        "id": evaluation_id,
        "suite": results.get("suite"),
        "model": results.get("model"),
        "label": results.get("label"),
        "cached": cached,
        "generated": 0 if cached else results.get("generated"),
        "headline": results.get("headline", {}),
    }


register_kind(
    JobKind(
        name="evaluate",
        config_cls=EvaluateConfig,
        run=run,
        help="Evaluate checkpoints on eval suites: IFEval metrics with intervals, per-type pass rates, math accuracy.",
    )
)
