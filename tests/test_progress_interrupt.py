"""After Ctrl-C in a terminal the progress bar is on the screen once (issue 12: it was
drawn 2-3 times). A real run in a pseudo-terminal gets a real Ctrl-C (the byte ^C typed
into the terminal: the line discipline signals the process group and echoes ``^C``), and
a small terminal model (autowrap, carriage return, newline) renders what a user sees."""

from __future__ import annotations

import fcntl
import os
import pty
import select
import signal
import struct
import sys
import termios
import time
from pathlib import Path

import pytest
from test_runner import TESTS, write_config

COLUMNS = 100


def screen(output: str, columns: int = COLUMNS) -> list[str]:
    """The lines a terminal of ``columns`` shows for ``output`` (text, CR, LF, autowrap;
    a line that overflows continues on the next, as in xterm)."""
    lines: list[list[str]] = [[]]
    row = col = 0
    for ch in output:
        if ch == "\r":
            col = 0
        elif ch == "\n":  # the pty sends CR LF for a newline (onlcr): LF only moves down
            row += 1
            if row == len(lines):
                lines.append([])
        elif ch >= " " or ch == "\t":
            if col == columns:  # pending wrap: the character goes to the next line
                row, col = row + 1, 0
                if row == len(lines):
                    lines.append([])
            line = lines[row]
            line.extend(" " * (col + 1 - len(line)))
            line[col] = ch
            col += 1
    return ["".join(line).rstrip() for line in lines]


def test_screen_model_wraps_and_overwrites() -> None:
    assert screen("abc\rX", 10) == ["Xbc"]
    assert screen("0123456789^C\rX", 10) == ["0123456789", "XC"]
    assert screen("a\r\nb", 10) == ["a", "b"]


def _run_in_terminal(argv: list[str], env: dict[str, str], interrupt_when: bytes,
                     timeout: float = 240) -> str:  # fmt: skip
    """Run ``argv`` on a pseudo-terminal; type Ctrl-C once ``interrupt_when`` was printed."""
    pid, master = pty.fork()
    if pid == 0:  # the child: the terminal is its controlling terminal
        # as in a user's shell: a test runner started in the background of a
        # non-interactive shell inherits SIGINT ignored, and exec keeps that
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        os.execve(argv[0], argv, env)
    fcntl.ioctl(master, termios.TIOCSWINSZ, struct.pack("HHHH", 40, COLUMNS, 0, 0))
    out, sent, deadline = b"", False, time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.2)
            if ready:
                try:
                    chunk = os.read(master, 65536)
                except OSError:  # the child closed the terminal (EIO)
                    break
                if not chunk:
                    break
                out += chunk
            if not sent and interrupt_when in out:
                time.sleep(0.5)
                os.write(master, b"\x03")  # Ctrl-C, typed
                sent = True
        else:
            os.kill(pid, 9)
            pytest.fail(f"the run did not end in {timeout} s:\n{out.decode(errors='replace')}")
    finally:
        os.close(master)
        _, status = os.waitpid(pid, 0)
    assert sent, out.decode(errors="replace")
    assert os.waitstatus_to_exitcode(status) == 130, out.decode(errors="replace")
    return out.decode(errors="replace")


def test_ctrl_c_leaves_one_progress_bar(tmp_path: Path) -> None:
    config = write_config(tmp_path, n_trials=5, space="slow_space:SlowDigits")
    env = {**os.environ, "SLOW_TRIAL": "2", "SLOW_SECONDS": "120", "TERM": "xterm",
           "COLUMNS": str(COLUMNS), "PYTHONPATH": os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")])}  # fmt: skip
    output = _run_in_terminal([sys.executable, "-m", "manifold_search.cli", "run", str(config),
                               "--no-report"], env, interrupt_when=b"tiny: 2/5")  # fmt: skip
    shown = screen(output)
    bars = [line for line in shown if "trials |" in line]
    assert len(bars) == 1, "\n".join(shown)
    assert "2/5" in bars[0]
    assert bars[0].endswith("^C")  # the echo fits behind the bar: no wrapped "C" line
    assert any(line.startswith("interrupted: the 2 finished trials") for line in shown), shown
    assert not any("failed: interrupted" in line for line in shown)  # not a failure
