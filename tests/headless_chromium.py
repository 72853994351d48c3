"""Headless Chromium for the tests that look at pages as a person would (`make browser` installs it)."""

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from orchestration.settings import PROJECT_DIR

# Screenshots stay here after a run, for a person to look at.
ARTIFACTS_DIR = PROJECT_DIR / "test-artifacts"
# No network beyond the page itself, no first-run or background work, runs as root in CI.
FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
)


def chromium() -> str:
    """The browser's path: without one the test is skipped, except in CI where it must exist."""
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is required in CI (Debian packages chromium and chromium-driver)")
        pytest.skip("chromium not installed (install Debian package chromium); required when CI is set")
    return path


def render_page(
    url: str, screenshot: Path, profile_dir: Path, window_size: str = "1280,2000", virtual_time_ms: int = 15000
) -> str:
    """The DOM once the page has run its scripts and fetches (within the virtual time), and a
    screenshot of the window at `screenshot`."""
    screenshot.parent.mkdir(parents=True, exist_ok=True)
    screenshot.unlink(missing_ok=True)
    result = subprocess.run(
        [
            chromium(), *FLAGS, f"--user-data-dir={profile_dir}", f"--window-size={window_size}",
            f"--virtual-time-budget={virtual_time_ms}", "--dump-dom", f"--screenshot={screenshot}", url,
        ],
        capture_output=True, text=True, timeout=180, check=True,
    )
    return result.stdout
