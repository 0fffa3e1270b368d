"""IF-Lab web app: composes the screens in ui/ and serves them; starts the background job worker.

Run: `python app.py` (or `make run`) and open http://127.0.0.1:7860. Env: LAB_HOST, LAB_PORT, LAB_HOME,
LAB_NO_WORKER=1. Importing this module must stay light (no torch): models load on first use.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
from types import FrameType

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # offline machines: no phone-home at start-up

import gradio as gr  # noqa: E402

from ui import playground  # noqa: E402

log = logging.getLogger("app")

DEFAULT_PORT = 7860


def build_app() -> gr.Blocks:
    """All screens in one Blocks app. Each tab is a module in ui/ with a build(demo) function."""
    with gr.Blocks(title="IF-Lab") as demo:
        gr.Markdown(
            "# IF-Lab\nInstruction following with hard constraints checked by code and soft constraints "
            "scored by a learned reward model."
        )
        with gr.Tab("Playground", id="playground"):
            playground.build(demo)
    return demo


def on_spaces() -> bool:
    """Hugging Face Spaces set SPACE_ID (and SYSTEM=spaces) in the container."""
    return bool(os.environ.get("SPACE_ID")) or os.environ.get("SYSTEM") == "spaces"


def server_address() -> tuple[str, int]:
    """LAB_HOST / LAB_PORT (or Gradio's own GRADIO_SERVER_NAME / _PORT); loopback unless on Spaces."""
    host = os.environ.get("LAB_HOST") or os.environ.get("GRADIO_SERVER_NAME")
    host = host or ("0.0.0.0" if on_spaces() else "127.0.0.1")
    port = os.environ.get("LAB_PORT") or os.environ.get("GRADIO_SERVER_PORT") or str(DEFAULT_PORT)
    try:
        return host, int(port)
    except ValueError:
        raise SystemExit(f"LAB_PORT must be a port number, got {port!r}") from None


def init_storage() -> None:
    """Create or migrate the database before the first page is served."""
    try:
        from storage import init_db
    except ImportError as error:
        log.warning("storage not available, running without a database: %s", error)
        return
    init_db()


def start_worker() -> subprocess.Popen | None:
    """Start the background job worker as a child process, unless LAB_NO_WORKER=1."""
    if os.environ.get("LAB_NO_WORKER", "").lower() in {"1", "true", "yes"}:
        log.info("LAB_NO_WORKER is set: not starting the job worker")
        return None
    try:
        from training.worker import start_worker_process
    except ImportError as error:
        log.warning("job worker not available, jobs will stay queued: %s", error)
        return None
    process = start_worker_process()
    log.info("job worker started (pid %s)", process.pid)
    return process


def stop_worker(process: subprocess.Popen | None) -> None:
    if process is None or process.poll() is not None:
        return
    process.terminate()  # the worker marks its running job interrupted and exits
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _exit_on_sigterm(signum: int, frame: FrameType | None) -> None:
    # SystemExit unwinds main() so the finally block stops the worker; the default SIGTERM would orphan it.
    # A requested shutdown is a clean exit (status 0), as for uvicorn.
    raise SystemExit(0)


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    for chatty in ("alembic", "httpx"):  # per-request and per-migration-plugin lines drown the useful ones
        logging.getLogger(chatty).setLevel(logging.WARNING)
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    host, port = server_address()
    init_storage()
    demo = build_app()
    demo.queue(default_concurrency_limit=1)  # one generation at a time: CPU machines have few cores
    worker = None
    try:
        demo.launch(
            server_name=host,
            server_port=port,
            ssr_mode=False,
            show_error=True,
            footer_links=["api"],
            prevent_thread_lock=True,
        )
        log.info("serving IF-Lab on http://%s:%d", host, port)
        # Started once the page answers, so the worker's own start-up doesn't slow the first page load.
        worker = start_worker()
        demo.block_thread()
    finally:
        stop_worker(worker)
        demo.close()


if __name__ == "__main__":
    sys.exit(main())
