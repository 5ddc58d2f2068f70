"""Agents on the Hugging Face Hub: ``hf://OWNER/REPO/FILE[@REVISION]`` references, downloaded
through ``huggingface_hub`` (its cache, its ``HF_HUB_OFFLINE=1``), and uploads of our format.

``FILE`` is the authors' ``last.pt``-style file (e.g. ``pretrained_models/Breakout.pt``) or our
``agent.safetensors``, whose ``agent.yaml`` beside it is fetched with it. ``REVISION`` pins a
branch, tag or commit; without it the repository's main branch is read.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path

from iris_wm.checkpoint.agent_files import CONFIG_FILE, WEIGHTS_FILE
from iris_wm.errors import IrisError

SCHEME = "hf://"
EXAMPLE = "hf://eloialonso/iris/pretrained_models/Breakout.pt"


@dataclass(frozen=True)
class HubReference:
    repo_id: str  # OWNER/REPO
    filename: str | None  # path inside the repository; None names the repository itself
    revision: str | None = None

    def __str__(self) -> str:
        path = f"{self.repo_id}/{self.filename}" if self.filename else self.repo_id
        return f"{SCHEME}{path}" + (f"@{self.revision}" if self.revision else "")


def is_hub_reference(path: object) -> bool:
    return isinstance(path, str) and path.startswith(SCHEME)


def parse_reference(text: str, needs_file: bool = True) -> HubReference:
    """``hf://OWNER/REPO[/FILE][@REVISION]``; a reference that must name a file and does not is an error."""
    path, _, revision = text.removeprefix(SCHEME).partition("@")
    parts = [part for part in path.split("/") if part]
    if len(parts) < 2 or (revision == "" and text.endswith("@")):
        raise IrisError(f"{text} is not a hub reference; write hf://OWNER/REPO/FILE[@REVISION], e.g. {EXAMPLE}")
    if needs_file and len(parts) == 2:
        raise IrisError(f"{text} names a repository but no file in it; add the file's path, e.g. {EXAMPLE}")
    if not needs_file and len(parts) > 2:
        raise IrisError(f"{text} names a file; give the repository only, hf://OWNER/REPO")
    return HubReference("/".join(parts[:2]), "/".join(parts[2:]) or None, revision or None)


def hub_client():
    """``huggingface_hub``, imported only when a hub reference is used."""
    try:
        return importlib.import_module("huggingface_hub")
    except ImportError:
        raise IrisError("hf:// references need huggingface_hub: pip install 'iris-wm[hub]'") from None


def download(text: str) -> Path:
    """The local path of a referenced file, from the hub cache or downloaded into it; our format's
    ``agent.yaml`` comes along with its ``agent.safetensors``."""
    reference = parse_reference(text)
    path = _download_file(reference, reference.filename)
    if Path(reference.filename).name == WEIGHTS_FILE:
        _download_file(reference, str(Path(reference.filename).with_name(CONFIG_FILE)))
    return path


def _download_file(reference: HubReference, filename: str) -> Path:
    hub = hub_client()
    errors, constants = (importlib.import_module(f"huggingface_hub.{name}") for name in ("errors", "constants"))
    where = f"{SCHEME}{reference.repo_id}/{filename}" + (f"@{reference.revision}" if reference.revision else "")
    try:
        return Path(hub.hf_hub_download(reference.repo_id, filename, revision=reference.revision))
    except errors.LocalEntryNotFoundError:
        raise IrisError(f"{where} is not in the hub cache and the hub cannot be reached (HF_HUB_OFFLINE is "
                        f"{'set' if constants.HF_HUB_OFFLINE else 'unset'}); download it once online, or "
                        f"give a local path") from None
    except errors.RepositoryNotFoundError:
        raise IrisError(f"{where}: no repository {reference.repo_id} on the hub (or it is private: log in "
                        f"with hf auth login)") from None
    except errors.RevisionNotFoundError:
        raise IrisError(f"{where}: the repository has no revision {reference.revision!r}") from None
    except errors.EntryNotFoundError:
        raise IrisError(f"{where}: the repository has no file {filename!r}; check the path") from None
    except errors.HfHubHTTPError as error:
        raise IrisError(f"{where}: the hub refused the download ({str(error).splitlines()[0]})") from None


def upload_folder(folder: Path, text: str, message: str) -> str:
    """Upload every file of ``folder`` to the repository ``hf://OWNER/REPO`` (created if missing);
    the URL of the commit."""
    reference = parse_reference(text, needs_file=False)
    hub = hub_client()
    if importlib.import_module("huggingface_hub.constants").HF_HUB_OFFLINE:
        raise IrisError(f"cannot push to {reference}: HF_HUB_OFFLINE is set; unset it to upload")
    errors = importlib.import_module("huggingface_hub.errors")
    api = hub.HfApi()
    try:
        api.create_repo(reference.repo_id, exist_ok=True)
        commit = api.upload_folder(repo_id=reference.repo_id, folder_path=str(folder), commit_message=message,
                                   revision=reference.revision)
    except errors.HfHubHTTPError as error:
        raise IrisError(f"pushing to {reference} failed ({str(error).splitlines()[0]}); check that you are "
                        f"logged in (hf auth login) and may write there") from None
    except OSError as error:  # no connection at all
        raise IrisError(f"pushing to {reference} failed: the hub cannot be reached ({error})") from None
    return str(getattr(commit, "commit_url", commit))
