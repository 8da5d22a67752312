"""``ssdkit <command> [args]``: one console command over the tools (``ssdkit --help`` lists them).

Each command is a module of :mod:`ssdkit.cli` with ``main(argv)``; ``tools/<module>.py`` in a clone runs the same
function through :func:`run_tool`, so the flags are defined once.
"""

from __future__ import annotations

import importlib
import sys

import ssdkit

#: command -> (module of ssdkit.cli, one line of help)
COMMANDS: dict[str, tuple[str, str]] = {
    "train": ("train", "train a detector from a config (file or name)"),
    "test": ("test", "evaluate a checkpoint or an exported file (VOC mAP / COCO AP)"),
    "infer": ("infer", "detect objects in images, folders and videos; draw them and write detections.json"),
    "export": ("export", "export a checkpoint to ONNX"),
    "quantize": ("quantize", "int8 post-training quantization (OpenVINO via NNCF, or ONNX Runtime)"),
    "analyze-priors": ("analyze_priors", "how well the priors cover a dataset's objects; --suggest fits them"),
    "plot-logs": ("plot_logs", "training curves from work dirs"),
    "benchmark": ("benchmark", "ms per image of each stage of prediction"),
    "browse-dataset": ("browse_dataset", "draw what the training pipeline makes of the images and boxes"),
    "list": ("list_configs", "ssdkit's config names; `ssdkit list components`: every registry's entries"),
    "info": ("model_info", "feature maps, priors, parameters, GFLOPs and weights of configs"),
    "convert": ("convert_torchvision", "convert weights: `ssdkit convert torchvision ...` or `... caffe ...`"),
    "make-demo-dataset": ("make_demo_dataset", "write the demo set (handwritten digits on photographs)"),
    "pretrain-demo-backbone": ("pretrain_demo_backbone", "pretrain the demo backbone on the training digits"),
}
#: ``ssdkit convert <source>`` -> module
CONVERTERS = {"torchvision": "convert_torchvision", "caffe": "convert_caffe"}


def run_tool(module: str, argv: list[str] | None = None) -> None:
    """Run ``ssdkit.cli.<module>.main(argv)``; then let a torchrun worker leave without C++ teardown
    (:func:`ssdkit.engine.exit_distributed_worker`), with the exit status ``main`` raised (a preempted run's)."""
    try:
        importlib.import_module(f"ssdkit.cli.{module}").main(argv)
    except SystemExit as stop:
        if module in ("train", "test") and isinstance(stop.code, int):
            _leave_worker(stop.code)  # e.g. a preempted run's status
        raise
    if module in ("train", "test"):
        _leave_worker(0)


def _leave_worker(code: int) -> None:
    from ssdkit.engine import exit_distributed_worker

    exit_distributed_worker(code)


def usage() -> str:
    """``ssdkit --help``: the commands, one line each."""
    width = max(len(c) for c in COMMANDS) + 2
    lines = [f"  {c:{width}s}{h}" for c, (_, h) in COMMANDS.items()]
    return (
        f"usage: ssdkit <command> [args]   (ssdkit {ssdkit.__version__}; ssdkit <command> --help for its flags)\n\n"
        "commands:\n" + "\n".join(lines) + "\n\nA config argument is a file or the name of one of ssdkit's configs "
        "(`ssdkit list`); SSDKIT_DEBUG=1 shows tracebacks behind one-line errors."
    )


def _resolve(command: str, rest: list[str]) -> tuple[str, list[str]]:
    """``(module, its argv)`` for ``ssdkit <command> <rest>``; exits with one line for an unknown command."""
    if command == "convert":
        if not rest or rest[0] not in CONVERTERS:
            raise SystemExit(f"usage: ssdkit convert {{{','.join(CONVERTERS)}}} ... (--help after the source)")
        return CONVERTERS[rest[0]], rest[1:]
    if command == "list":
        if rest[:1] == ["components"]:
            return "list_components", rest[1:]
        return "list_configs", rest
    if command not in COMMANDS:
        import difflib

        close = difflib.get_close_matches(command, COMMANDS, n=1)
        hint = f"; did you mean '{close[0]}'?" if close else ""
        raise SystemExit(f"error: unknown command '{command}'{hint} (ssdkit --help lists them)")
    return COMMANDS[command][0], rest


def main(argv: list[str] | None = None) -> None:
    """``ssdkit <command> [args]``, ``ssdkit --help``, ``ssdkit --version``."""
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(usage())
        return
    if argv[0] in ("-V", "--version"):
        print(f"ssdkit {ssdkit.__version__}")
        return
    module, rest = _resolve(argv[0], argv[1:])
    sys.argv[0] = f"ssdkit {argv[0]}" + (f" {argv[1]}" if argv[0] == "convert" else "")  # argparse's prog
    run_tool(module, rest)
