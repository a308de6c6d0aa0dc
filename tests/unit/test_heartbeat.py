"""playbooks/local/heartbeat.sh, which keeps make's setup steps from leaving the terminal silent:
a line per interval while the command runs, the command's output and exit status unchanged, and
nothing added to a quick command."""

from __future__ import annotations

import itertools
import os
import re
import subprocess
import time
from pathlib import Path

HEARTBEAT = Path(__file__).resolve().parents[2] / "playbooks/local/heartbeat.sh"


def heartbeat(*args: str, interval: str = "1") -> tuple[subprocess.CompletedProcess, float]:
    started = time.monotonic()
    result = subprocess.run(
        [str(HEARTBEAT), *args],
        capture_output=True,
        text=True,
        env={**os.environ, "PERFGATE_HEARTBEAT_S": interval},
        check=False,
    )
    return result, time.monotonic() - started


def test_a_long_command_gets_a_line_per_interval_and_keeps_its_output_and_status() -> None:
    result, seconds = heartbeat("sleeping", "sh", "-c", "sleep 2.6; echo done; echo oops >&2; exit 3")
    assert result.returncode == 3
    assert result.stderr == "oops\n"
    *beats, last = result.stdout.splitlines()
    assert last == "done"
    # How many lines a 2.6 s command gets depends on how busy the machine is (a loaded make test
    # stretched it to 3 s once), so the test checks what the heartbeat promises: a line at least
    # once a second of the command's run, each a second or more after the one before.
    elapsed = [int(re.fullmatch(r"  \.\.\. still sleeping \((\d+) s\)", beat).group(1)) for beat in beats]
    assert len(elapsed) >= 2 and elapsed[0] in (1, 2), result.stdout
    assert all(later - earlier >= 1 for earlier, later in itertools.pairwise(elapsed)), result.stdout
    # bash's SECONDS counts whole wall-clock seconds, so a line may read up to 1 s ahead.
    assert elapsed[-1] <= seconds + 1, (elapsed, seconds)


def test_a_quick_command_returns_at_once_and_silently() -> None:
    result, seconds = heartbeat("checking", "true", interval="10")
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")
    # Against the 10 s interval: the wrapper must not wait out an interval after the command ended.
    assert seconds < 5, f"a command that is done at once took {seconds:.1f} s with the heartbeat"


def test_bad_arguments_are_refused_before_anything_runs(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    result, _ = heartbeat("touching", "touch", str(marker), interval="0")
    assert result.returncode == 2
    assert "PERFGATE_HEARTBEAT_S must be a whole number of seconds, not '0'" in result.stderr
    assert not marker.exists()
    assert heartbeat("nothing")[0].returncode == 2
