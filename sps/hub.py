"""Publish a pipeline folder to the Hugging Face Hub.

    python -m sps.hub check [--folder weights]
    python -m sps.hub push --repo-id ORG/NAME [--private] [--folder weights] [--message "..."]

``--folder`` is the pipeline folder to publish; it defaults to ``weights`` *in the current directory* (the
repository root of a clone), never to a path guessed from where the package is installed.

The folder must be a complete pipeline (``SPSPipeline.from_pretrained`` can load it): the four network
sub-folders, each with ``config.json``, ``model.safetensors`` and its model card ``README.md``, and the
pipeline card ``README.md`` at the top. Authentication is huggingface_hub's (``HF_TOKEN`` or ``hf auth login``).
Load it back with ``SPSPipeline.from_pretrained("ORG/NAME")`` (offline: ``HF_HUB_OFFLINE=1`` uses the cache).
"""
from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from .errors import WeightsError
from .pipeline import COMPONENTS, PIPELINE_FILE

log = logging.getLogger(__name__)

DEFAULT_FOLDER = "weights"  # relative to the current directory: the repository root of a clone

IGNORE_PATTERNS = ["*.pyc", "__pycache__/*", ".DS_Store", "*.tmp", ".cache/*"]


def _front_matter(text: str) -> str | None:
    """The YAML block between the leading '---' lines of a model card, or None."""
    if not text.startswith("---"):
        return None
    end = text.find("\n---", 3)
    return text[3:end] if end > 0 else None


def check_upload_folder(folder: str | Path) -> list[str]:
    """Files to upload (relative posix paths); WeightsError naming everything missing."""
    folder = Path(folder)
    if not folder.is_dir():
        raise WeightsError(f"{folder}: pipeline folder not found")
    problems = []
    card = folder / "README.md"
    if not card.is_file():
        problems.append("README.md (pipeline model card)")
    elif _front_matter(card.read_text(encoding="utf-8")) is None:
        problems.append("README.md has no YAML metadata block (--- license / library_name / tags ---)")
    for sub in COMPONENTS:
        for name in ("config.json", "model.safetensors", "README.md"):
            if not (folder / sub / name).is_file():
                problems.append(f"{sub}/{name}")
    if problems:
        raise WeightsError(f"{folder}: incomplete pipeline folder, missing: {'; '.join(problems)}")
    files = ["README.md"] + [f"{sub}/{n}" for sub in COMPONENTS for n in ("config.json", "model.safetensors", "README.md")]
    if (folder / PIPELINE_FILE).is_file():
        files.append(PIPELINE_FILE)
    extra = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
    return files + [f for f in extra if f not in files and not any(Path(f).match(pat) for pat in IGNORE_PATTERNS)]


def push(folder: str | Path, repo_id: str, private: bool = False, token: str | None = None,
         commit_message: str | None = None, api=None) -> str:
    """Create ``repo_id`` (if needed) and upload the pipeline folder; returns the repo URL."""
    from huggingface_hub import HfApi

    files = check_upload_folder(folder)
    api = api or HfApi(token=token)
    url = api.create_repo(repo_id=repo_id, repo_type="model", private=private, exist_ok=True)
    log.info("uploading %d files from %s to %s", len(files), folder, repo_id)
    api.upload_folder(
        repo_id=repo_id,
        repo_type="model",
        folder_path=str(folder),
        commit_message=commit_message or "Upload sps pipeline (parser, pose estimator, G_S, G_A)",
        ignore_patterns=IGNORE_PATTERNS,
    )
    return str(getattr(url, "url", url) or f"https://huggingface.co/{repo_id}")


def main(argv: list[str] | None = None) -> int:
    """Run ``check`` or ``push``; returns the exit code (2 on an incomplete folder)."""
    ap = argparse.ArgumentParser(prog="python -m sps.hub", description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("push", help="upload a pipeline folder (weights + model cards) to the Hub")
    p.add_argument("--repo-id", required=True, help="ORG/NAME")
    folder_help = f"pipeline folder (default: {DEFAULT_FOLDER!r}, relative to the current directory)"
    p.add_argument("--folder", default=DEFAULT_FOLDER, help=folder_help)
    p.add_argument("--private", action="store_true", help="create the repo as private")
    p.add_argument("--message", default=None, help="commit message")
    p.add_argument("--token", default=None, help="Hub token (default: HF_TOKEN / the cached login)")
    c = sub.add_parser("check", help="check a pipeline folder is complete and list what push would upload")
    c.add_argument("--folder", default=DEFAULT_FOLDER, help=folder_help)
    args = ap.parse_args(argv)
    try:
        if args.cmd == "check":
            for f in check_upload_folder(args.folder):
                print(f)
            return 0
        url = push(args.folder, args.repo_id, private=args.private, token=args.token, commit_message=args.message)
    except WeightsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"pushed {args.folder} to {url}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
