"""TF Serving's model directory, written safely: ``<root>/<model_name>/<version>/``.

TF Serving loads the highest integer version below ``<root>/<model_name>/`` as soon as it
appears, so a version directory must appear complete, in one rename, and a number must never be
reused. Lockgate's own bookkeeping stays out of that directory (TF Serving and people listing
it see only versions), in ``<root>/.lockgate-push/<model_name>/``:

- ``push.lock``: an exclusive ``flock`` held for a whole push, so two pushers never take the
  same version. The kernel drops it when a process dies, even by SIGKILL.
- ``versions.json``: for every version, which model it holds (model artifact id and content
  fingerprint), when and from where it was pushed. It lets a re-run of the Pusher for the model
  already served record that instead of pushing it again, and keeps numbers monotonic even if
  someone deletes a version directory.
- ``incoming-*``: the copy in progress, on the same filesystem as the target so the final
  ``os.rename`` is atomic. A push killed mid-copy leaves only this, which the next push
  removes; it is never a version.

Pure Python with no heavy imports: the Pusher executor and ``lockgate rollback`` share it, so it
is part of the framework (``pipelines.sdk.serving``), not of the Pusher.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import shutil
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipelines.errors import LockgateError
from pipelines.home import lockgate_home

if TYPE_CHECKING:  # only annotations: `lockgate lineage` reads versions.json without pydantic
    from pipelines.component import Artifact

STATE_DIR = ".lockgate-push"
MANIFEST = "versions.json"
LOCK = "push.lock"
PUSH_FILE = "push.json"  # in a PushedModel artifact: where and what was pushed
_INCOMING = "incoming-"
MODEL_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")

CopyTree = Callable[[Path, Path], object]


class ServingPathError(LockgateError):
    """A destination or model name that would write outside the serving root."""


@dataclass(frozen=True)
class ServingTarget:
    root: Path  # the serving base directory (TF Serving's model base path's parent)
    model_name: str

    @property
    def model_dir(self) -> Path:
        return self.root / self.model_name

    @property
    def state_dir(self) -> Path:
        return self.root / STATE_DIR / self.model_name

    def version_dir(self, version: int) -> Path:
        return self.model_dir / str(version)


@dataclass(frozen=True)
class PushResult:
    version: int
    path: Path
    created: bool  # False: nothing was copied (already served, or superseded)
    record: dict[str, Any]
    # True: the newest version holds a model blessed after this one, so this older blessing
    # was refused; ``version`` and ``record`` describe that newer version.
    superseded: bool = False


def serving_root() -> Path:
    return lockgate_home() / "serving"


def serving_target(destination: str | None, model_name: str,
                   allow_outside_home: bool = False) -> ServingTarget:
    """Where to push, with every path checked against traversal.

    ``destination``: None is ``$LOCKGATE_HOME/serving``; a relative path lies below it and may
    not climb out; an absolute path is an explicit choice of serving root, but without ``..``,
    and inside LOCKGATE_HOME unless the config allows it (``pipeline.allow_outside_home``).
    """
    base = serving_root()
    if destination is None:
        root = base
    else:
        path = Path(destination).expanduser()
        if ".." in path.parts:
            raise ServingPathError(
                f"Pusher destination '{destination}' contains '..'; name the serving directory "
                f"directly (relative paths are below {base})"
            )
        root = path if path.is_absolute() else base / path
        home = lockgate_home()
        if path.is_absolute() and not allow_outside_home and not _inside(root, home):
            raise ServingPathError(
                f"Pusher destination '{destination}' is outside LOCKGATE_HOME ({home}); put "
                "it inside, or set `pipeline.allow_outside_home: true` if that is meant"
            )
        if not path.is_absolute() and not _inside(root, base):
            raise ServingPathError(
                f"Pusher destination '{destination}' resolves to {root.resolve()}, outside the "
                f"serving root {base.resolve()} (a symlink?); use a directory below it or an "
                "absolute path"
            )
    if not MODEL_NAME.fullmatch(model_name):
        raise ServingPathError(
            f"serving model name '{model_name}' is not a plain directory name; set the Pusher's "
            "model_name to letters, digits, '_', '.' or '-' (not starting with '.')"
        )
    target = ServingTarget(root=root, model_name=model_name)
    if target.model_dir.exists() and target.model_dir.resolve().parent != root.resolve():
        raise ServingPathError(
            f"{target.model_dir} is a link to {target.model_dir.resolve()}, outside {root}; "
            "remove the link or push under another model_name"
        )
    return target


def versions(target: ServingTarget) -> list[int]:
    """The version directories TF Serving would see, oldest first."""
    if not target.model_dir.is_dir():
        return []
    return sorted(
        int(entry.name) for entry in target.model_dir.iterdir()
        if entry.name.isdigit() and entry.is_dir()
    )


def read_manifest(target: ServingTarget) -> dict[str, dict[str, Any]]:
    """versions.json: version (as a string) -> what it holds; {} before the first push."""
    path = target.state_dir / MANIFEST
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text())
    except ValueError as exc:
        raise LockgateError(
            f"{path} is not valid JSON ({exc}); restore it from the PushedModel artifacts' "
            "push.json files or delete it (version numbers then restart after the highest "
            "directory)"
        ) from exc
    return {str(k): v for k, v in data.get("versions", {}).items()}


def same_model(record: dict[str, Any] | None, identity: dict[str, Any]) -> bool:
    """Does a manifest ``record`` hold the model ``identity`` describes?

    Content fingerprints decide when both sides have one; otherwise MLMD artifact ids.
    """
    if not record:
        return False
    theirs, ours = record.get("model_fingerprint"), identity.get("model_fingerprint")
    if theirs and ours:
        return bool(theirs == ours)
    theirs, ours = record.get("model_id"), identity.get("model_id")
    return theirs is not None and ours is not None and int(theirs) == int(ours)


def push(
    source: Path,
    target: ServingTarget,
    identity: dict[str, Any],
    *,
    copy: CopyTree = shutil.copytree,
    allow_older: bool = False,
) -> PushResult:
    """Copy ``source`` (a SavedModel directory) in as the next version, unless the newest
    version already holds the same model (``identity``: model_id, model_fingerprint, ...).

    A compare-and-swap on the serving record: with ``identity["blessing_id"]`` (the MLMD id of
    the ModelBlessing, which grows with every blessing), the push is refused when the newest
    version holds a model blessed later, so of two concurrent runs the older blessing never
    lands on top of the newer. ``allow_older`` is for ``lockgate rollback``, which serves an
    older model on purpose.

    Crash-safe at every step: a version directory appears only by an atomic rename of a
    complete copy, and the manifest entry is written before that rename, so a number that was
    ever handed out is never handed out again.
    """
    target.state_dir.mkdir(parents=True, exist_ok=True)
    target.model_dir.mkdir(parents=True, exist_ok=True)
    with _exclusive(target.state_dir / LOCK):
        _remove_abandoned_copies(target)
        manifest = read_manifest(target)
        existing = versions(target)
        newest = manifest.get(str(existing[-1])) if existing else None
        if existing and same_model(newest, identity):
            version = existing[-1]
            return PushResult(version, target.version_dir(version), False,
                              manifest[str(version)])
        if existing and newest and not allow_older and _blessed_before(identity, newest):
            return PushResult(existing[-1], target.version_dir(existing[-1]), False, newest,
                              superseded=True)

        version = max([0, *existing, *(int(v) for v in manifest if v.isdigit())]) + 1
        incoming = target.state_dir / f"{_INCOMING}{version}-{uuid.uuid4().hex[:8]}"
        try:
            copy(source, incoming)
            record = {
                **identity,
                "version": version,
                "source": str(source),
                "pushed_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            }
            manifest[str(version)] = record
            _write_manifest(target, manifest)
            final = target.version_dir(version)
            os.rename(incoming, final)
        except BaseException:
            shutil.rmtree(incoming, ignore_errors=True)
            raise
        _fsync_dir(target.model_dir)
    return PushResult(version, final, True, record)


def _blessed_before(identity: dict[str, Any], record: dict[str, Any]) -> bool:
    ours, theirs = identity.get("blessing_id"), record.get("blessing_id")
    return ours is not None and theirs is not None and int(ours) < int(theirs)


@contextlib.contextmanager
def _exclusive(path: Path) -> Iterator[None]:
    with path.open("a") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def _remove_abandoned_copies(target: ServingTarget) -> None:
    """Copies left by pushes that died; safe because we hold the lock every copier holds."""
    for leftover in target.state_dir.glob(f"{_INCOMING}*"):
        shutil.rmtree(leftover, ignore_errors=True)


def _write_manifest(target: ServingTarget, manifest: dict[str, dict[str, Any]]) -> None:
    path = target.state_dir / MANIFEST
    temp = path.with_name(f".{MANIFEST}.{os.getpid()}.tmp")
    ordered = dict(sorted(manifest.items(), key=lambda item: int(item[0])))
    with temp.open("w") as handle:
        json.dump({"model_name": target.model_name, "versions": ordered}, handle, indent=2)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temp, path)


def _fsync_dir(path: Path) -> None:
    """Make the rename durable; best effort (not every filesystem allows it)."""
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _inside(path: Path, root: Path) -> bool:
    return path.resolve().is_relative_to(root.resolve())


def write_pushed_model(
    output: Artifact, result: PushResult, root: Path, model_name: str, model_id: int | None,
    **extra: object,
) -> dict[str, object]:
    """push.json and the PushedModel properties; shared by the Pusher and ``lockgate rollback``."""
    record: dict[str, object] = {
        "model_name": model_name,
        "version": result.version,
        "path": str(result.path),
        "destination": str(root),
        "model_id": model_id,
        "model_fingerprint": result.record.get("model_fingerprint"),
        "pushed_at": result.record.get("pushed_at"),
        "new_version": result.created,
        **extra,
    }
    output.path.mkdir(parents=True, exist_ok=True)
    (output.path / PUSH_FILE).write_text(json.dumps(record, indent=2) + "\n")
    output.properties.update({
        "version": result.version,
        "destination": str(root),
        "model_name": model_name,
        "path": str(result.path),
        "new_version": int(result.created),
    })
    if model_id is not None:
        output.properties["model_id"] = model_id
    return record
