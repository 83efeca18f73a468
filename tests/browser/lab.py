"""Drive JupyterLab in Debian's Chromium with Playwright, the way an analyst uses the notebooks.

JupyterLab runs on a free loopback port with a random token, on a copy of ``notebooks/`` (so the
committed notebooks are never saved over), with autosave and news fetching off. Chromium is
started with the flags that keep it off the network; every request it makes is recorded so a
test can prove that nothing was fetched from outside 127.0.0.1.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

#: JavaScript: the notebook has finished running (first cell numbered, no "[*]" left).
_RUN_FINISHED = """() => {
  const panel = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden)');
  if (!panel) return false;
  const prompts = [...panel.querySelectorAll('.jp-InputArea-prompt')];
  return prompts.length > 0 && /\\[\\d+\\]/.test(prompts[0].textContent)
         && !prompts.some(p => p.textContent.includes('*'));
}"""


def browser_missing_reason() -> str | None:
    """Why the browser tests cannot run here, or None when they can."""
    if not Path(CHROMIUM).exists():
        return "Debian chromium is not installed (apt-get install chromium; .ci/run does this)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed (make install brings it)"
    return None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _write_settings(settings_dir: Path) -> None:
    overrides = {
        "@jupyterlab/docmanager-extension/plugin.jupyterlab-settings": {"autosave": False},
        # every cell in the DOM, so a test can look at any of them
        "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
        "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
            "fetchNews": "false",
            "checkForUpdates": False,
        },
    }
    for rel, value in overrides.items():
        path = settings_dir / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(value))


@dataclass
class LabServer:
    """A JupyterLab server over a work folder laid out like the repository."""

    work: Path
    port: int = field(default_factory=_free_port)
    token: str = field(default_factory=lambda: secrets.token_hex(16))
    process: subprocess.Popen | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> "LabServer":
        (self.work / "notebooks").mkdir(parents=True, exist_ok=True)
        for nb in sorted((ROOT / "notebooks").glob("*.ipynb")):
            shutil.copy2(nb, self.work / "notebooks" / nb.name)
        # The notebooks find the case relative to their own folder, as in the repository.
        (self.work / "sample_data").symlink_to(ROOT / "sample_data")
        settings = self.work / ".lab" / "settings"
        _write_settings(settings)
        env = dict(
            os.environ,
            JUPYTER_CONFIG_DIR=str(self.work / ".lab" / "config"),
            JUPYTERLAB_SETTINGS_DIR=str(settings),
            JUPYTERLAB_WORKSPACES_DIR=str(self.work / ".lab" / "workspaces"),
            JUPYTER_RUNTIME_DIR=str(self.work / ".lab" / "runtime"),
        )
        jupyter = Path(sys.executable).with_name("jupyter")
        self.log = (self.work / ".lab" / "server.log").open("w")
        self.process = subprocess.Popen(
            [
                str(jupyter), "lab", "--no-browser", "--allow-root",
                "--ip=127.0.0.1", f"--port={self.port}",
                f"--IdentityProvider.token={self.token}",
                f"--ServerApp.root_dir={self.work}",
                "--LabApp.news_url=None",
                "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
            ],
            env=env, stdout=self.log, stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(f"{self.base}/api/status?token={self.token}", timeout=2)
                return self
            except OSError:
                if self.process.poll() is not None:
                    break
                time.sleep(0.5)
        self.stop()
        raise RuntimeError(f"JupyterLab did not start; see {self.work / '.lab' / 'server.log'}")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
        if getattr(self, "log", None):
            self.log.close()

    def notebook_url(self, name: str) -> str:
        return f"{self.base}/lab/tree/notebooks/{name}?reset&token={self.token}"


def run_all_cells(page, timeout_ms: int = 240_000) -> None:
    """Open-notebook page: Run > Run All Cells, then wait until every cell has run."""
    page.wait_for_selector(".jp-NotebookPanel .jp-Notebook", timeout=90_000)
    page.wait_for_selector("#jp-main-statusbar >> text=Idle", timeout=90_000)
    page.click("#jp-MainMenu >> text=Run")
    page.click(".lm-Menu-content >> text=Run All Cells")
    page.wait_for_function(_RUN_FINISHED, timeout=timeout_ms)


def cell_outputs_text(page, index: int) -> str:
    """Text of the outputs of the index-th cell of the open notebook."""
    cell = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook .jp-Cell").nth(index)
    return "\n".join(cell.locator(".jp-OutputArea-output").all_inner_texts())
