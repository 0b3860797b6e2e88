"""fleet as operators run it (issue #13): gzip input, a streaming filter on a pipe, a reader
that goes away (`| head`), Ctrl-C, --summary-json, --full, --keep and the formats, through
the real command line."""

from __future__ import annotations

import gzip
import json
import select
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Iterator

import pytest

from factories import fleet_validator
from tdxpolicy.cli import main

REPO = Path(__file__).resolve().parent.parent
SITE = REPO / "tests" / "data" / "move" / "site.tdxpolicy"
POLICY = ["--policy", str(SITE), "--no-default-policy", "--acknowledge", "all"]
GOOD = {"module_version": "9.1.00", "seamldr_version": "9.1.02", "cpuid": ["0x806F8"],
        "num_remaining_updates": 3}


def _fleet_file(tmp_path: Path, n: int = 3, name: str = "hosts.jsonl") -> Path:
    f = tmp_path / name
    f.write_text("".join(json.dumps({**GOOD, "host": f"h{i}"}) + "\n" for i in range(n)))
    return f


_STARTED: list[subprocess.Popen[bytes]] = []


@pytest.fixture(autouse=True)
def _close_pipes() -> Iterator[None]:
    """Every process a test starts has its pipes closed when the test ends (warnings are
    errors here: an unclosed pipe is a ResourceWarning)."""
    yield
    while _STARTED:
        p = _STARTED.pop()
        if p.poll() is None:
            p.kill()
        p.wait()
        for stream in (p.stdin, p.stdout, p.stderr):
            if stream is not None:
                stream.close()


def _popen(*args: str, **kw: Any) -> subprocess.Popen[bytes]:
    p = subprocess.Popen([sys.executable, "-m", "tdxpolicy", "fleet", *args, *POLICY],
                         cwd=REPO, **kw)
    _STARTED.append(p)
    return p


def test_gzip_input_is_read(tmp_path: Path, capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    plain = _fleet_file(tmp_path, 5)
    gz = tmp_path / "hosts.jsonl.gz"
    gz.write_bytes(gzip.compress(plain.read_bytes()))
    assert main(["fleet", str(gz), "--to", "9.1.02", *POLICY]) == 0
    out_gz, err = capsysbinary.readouterr()
    assert main(["fleet", str(plain), "--to", "9.1.02", *POLICY]) == 0
    out_plain, _ = capsysbinary.readouterr()
    assert out_gz == out_plain and len(out_gz.splitlines()) == 5
    assert err.decode().startswith("fleet: 5 hosts, update 5")


def test_gzip_on_stdin_and_a_truncated_gzip(tmp_path: Path) -> None:
    data = gzip.compress(_fleet_file(tmp_path, 4).read_bytes())
    p = subprocess.run([sys.executable, "-m", "tdxpolicy", "fleet", "-", "--to", "9.1.02",
                        *POLICY], input=data, capture_output=True, cwd=REPO, timeout=60)
    assert p.returncode == 0 and len(p.stdout.splitlines()) == 4
    p = subprocess.run([sys.executable, "-m", "tdxpolicy", "fleet", "-", "--to", "9.1.02",
                        *POLICY], input=data[:-12], capture_output=True, cwd=REPO, timeout=60)
    assert p.returncode == 2
    assert b"Traceback" not in p.stderr and b"cannot read <stdin>" in p.stderr


def test_streaming_filter_answers_each_line_before_the_next_arrives() -> None:
    p = _popen("-", "--to", "9.1.02", stdin=subprocess.PIPE, stdout=subprocess.PIPE,
               stderr=subprocess.PIPE)
    assert p.stdin is not None and p.stdout is not None
    try:
        for i in range(3):
            p.stdin.write((json.dumps({**GOOD, "host": f"s{i}"}) + "\n").encode())
            p.stdin.flush()
            # batched output would never come: wait a bounded time for this very line
            ready, _, _ = select.select([p.stdout], [], [], 30)
            assert ready, f"no answer for line {i + 1} while its input is waiting"
            line = p.stdout.readline()
            assert json.loads(line)["host"] == f"s{i}"
        p.stdin.close()
        assert p.wait(timeout=60) == 0
    finally:
        p.kill()
        p.wait()


def test_a_closed_stdout_ends_quietly_with_the_code_of_what_was_decided(tmp_path: Path) -> None:
    f = _fleet_file(tmp_path, 50_000)
    # `fleet ... | head -1`: every decided host is allowed, so the exit is 0, never 1
    p = _popen(str(f), "--to", "9.1.02", stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert p.stdout is not None and p.stderr is not None
    first = p.stdout.readline()
    p.stdout.close()
    err = p.stderr.read().decode()
    assert p.wait(timeout=120) == 0, err
    assert json.loads(first)["line"] == 1
    assert "Traceback" not in err and "output closed" in err
    # a blocked host among those decided still says so
    f.write_text(json.dumps({**GOOD, "num_remaining_updates": 0}) + "\n" + f.read_text())
    p = _popen(str(f), "--to", "9.1.02", stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert p.stdout is not None and p.stderr is not None
    p.stdout.readline()
    p.stdout.close()
    err = p.stderr.read().decode()
    assert p.wait(timeout=120) == 1, err
    assert "blocked 1" in err


def test_ctrl_c_prints_the_partial_summary(tmp_path: Path) -> None:
    p = _popen("-", "--to", "9.1.02", stdin=subprocess.PIPE, stdout=subprocess.PIPE,
               stderr=subprocess.PIPE)
    assert p.stdin is not None and p.stdout is not None and p.stderr is not None
    try:
        p.stdin.write((json.dumps({**GOOD, "host": "one"}) + "\n").encode())
        p.stdin.flush()
        assert json.loads(p.stdout.readline())["host"] == "one"
        time.sleep(0.2)
        p.send_signal(signal.SIGINT)
        assert p.wait(timeout=60) == 130
        err = p.stderr.read().decode()
        assert err.startswith("fleet: 1 hosts, update 1") and "interrupted" in err, err
        assert "Traceback" not in err
    finally:
        p.kill()
        p.wait()


def test_summary_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "h.jsonl"
    f.write_text("\n".join([json.dumps(GOOD), json.dumps({**GOOD, "num_remaining_updates": 0}),
                            json.dumps({**GOOD, "module_version": "9.1.02"}), "{"]) + "\n")
    summary = tmp_path / "summary.json"
    code = main(["fleet", str(f), "--to", "9.1.02", *POLICY, "--summary-json", str(summary)])
    out, err = capsys.readouterr()
    assert code == 2
    doc = json.loads(summary.read_text())
    fleet_validator("fleet-summary").validate(doc)
    assert doc["actions"] == {"update": 1, "current": 1, "blocked": 1, "error": 1}
    assert doc["failing_checks"] == {"remaining-updates": 1}
    assert doc["hosts"] == 4 and doc["exit_code"] == 2 and doc["complete"] is True
    assert err.startswith("fleet: 4 hosts")  # the one-line summary still goes to stderr
    # '-': the JSON summary is the last line on stderr instead
    code = main(["fleet", str(f), "--to", "9.1.02", *POLICY, "--summary-json", "-"])
    _, err = capsys.readouterr()
    assert json.loads(err.splitlines()[-1]) == doc
    code = main(["fleet", str(f), "--to", "9.1.02", *POLICY, "--summary-json",
                 str(tmp_path / "no" / "such" / "dir.json")])
    _, err = capsys.readouterr()
    assert code == 2 and "--summary-json: cannot write" in err


def test_full_keep_and_formats_through_the_cli(tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "inventory.jsonl"
    f.write_text(json.dumps({**GOOD, "host": "a", "rack": "r7", "sku": 3}) + "\n")
    assert main(["fleet", str(f), "--to", "9.1.02", *POLICY]) == 2  # extra columns refused
    out, _ = capsys.readouterr()
    assert json.loads(out)["action"] == "error"
    assert main(["fleet", str(f), "--to", "9.1.02", *POLICY, "--keep", "rack",
                 "--keep", "sku"]) == 0
    out, _ = capsys.readouterr()
    row = json.loads(out)
    fleet_validator("fleet-row").validate(row)
    assert (row["rack"], row["sku"], row["action"]) == ("r7", 3, "update")
    assert main(["fleet", str(f), "--to", "9.1.02", *POLICY, "--keep", "rack", "--keep", "sku",
                 "--full"]) == 0
    out, _ = capsys.readouterr()
    doc = json.loads(out)
    fleet_validator("fleet").validate(doc)
    assert doc["tdxpolicy"] == "verdict/1" and doc["rack"] == "r7"
    assert len(out) > 5 * len(json.dumps(row))
    assert main(["fleet", str(f), "--select", *POLICY, "--keep", "rack", "--keep", "sku",
                 "--format", "csv"]) == 0
    out, _ = capsys.readouterr()
    assert out.splitlines() == [
        "host,line,from,to,kind,action,allowed,failed,unknown,hops,error,rack,sku",
        "a,1,9.1.00,9.1.02,upgrade,update,true,,,1,,r7,3"]
    assert main(["fleet", str(f), "--to", "9.1.02", *POLICY, "--full", "--format", "csv",
                 "--keep", "rack", "--keep", "sku"]) == 2
    _, err = capsys.readouterr()
    assert "--full writes JSON documents" in err
    assert main(["fleet", str(f), "--to", "9.1.02", *POLICY, "--keep", "cpuid"]) == 2
    _, err = capsys.readouterr()
    assert "--keep 'cpuid'" in err


def test_text_format_is_a_table_not_json(tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "h.jsonl"
    f.write_text("\n".join([json.dumps({**GOOD, "host": "ok"}),
                            json.dumps({**GOOD, "host": "stuck", "num_remaining_updates": 0})])
                 + "\n")
    code = main(["fleet", str(f), "--to", "9.1.02", *POLICY, "--format", "text"])
    out, err = capsys.readouterr()
    assert code == 1
    lines = out.splitlines()
    assert lines[0].split() == ["HOST", "LINE", "FROM", "TO", "ACTION", "WHY"]
    assert lines[1].split() == ["stuck", "2", "9.1.00", "9.1.02", "blocked", "remaining-updates"]
    assert "ok" not in out.split()
    assert "SUMMARY" in lines and any(x.split() == ["update", "1"] for x in lines)
    assert err.startswith("fleet: 2 hosts")


def test_host_is_a_string_even_when_absent(tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "h.jsonl"
    f.write_text(json.dumps(GOOD) + "\n")
    main(["fleet", str(f), "--select", *POLICY])
    out, _ = capsys.readouterr()
    assert json.loads(out)["host"] == "1"
