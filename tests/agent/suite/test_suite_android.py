"""A suite on loopback adb phones: tasks spread over the phones, a phone that drops leaves the pool, Ctrl-C."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest

from tests.agent.suite.suite_files import by_task, case_kinds, clicks, junit, only_suite_dir, read_suite, write_task
from tests.support.adb_server import AdbServer
from tests.support.adb_shell import VirtualPhone
from tests.support.e2e import agent_command
from tests.support.processes import ctrl_c_as_in_a_terminal

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[3]


def suite_env(server: AdbServer) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("AGENT_", "ANDROID_"))}
    env.update(PYTHONPATH=str(REPO) + os.pathsep + env.get("PYTHONPATH", ""), ANDROID_ADB_SERVER_PORT=str(server.port))
    return env


def taps(phone: VirtualPhone) -> int:
    return sum(command.startswith("input tap") for command in list(phone.commands))


def agent(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*agent_command(), "run", *args],
        env=env,
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=ctrl_c_as_in_a_terminal,
    )


def test_a_phone_that_drops_fails_its_task_and_leaves_the_pool(tmp_path: Path) -> None:
    tasks = tmp_path / "tasks"
    tasks.mkdir()
    for name in ("t1", "t2", "t3", "t4"):
        write_task(tasks, name, clicks((100, 200), (150, 300), (200, 400)))
    write_task(tasks, "t5", clicks((100, 100), (110, 110), finish=False), max_steps=1)  # fails: out of steps
    phones = [VirtualPhone("phone-a"), VirtualPhone("phone-b")]
    with AdbServer(phones) as server:

        def drop_phone_a() -> None:  # unplugged mid-task: right after its second tap, whichever task it is
            deadline = time.monotonic() + 240
            while taps(phones[0]) < 2 and time.monotonic() < deadline:
                time.sleep(0.005)
            server.phones.pop("phone-a", None)

        dropper = threading.Thread(target=drop_phone_a, daemon=True)
        dropper.start()
        process = agent(
            [str(tasks), "--device", "android:*", "--settle", "0.2", "--out", str(tmp_path / "out")],
            suite_env(server),
            cwd=tmp_path,
        )
        stdout, stderr = process.communicate(timeout=300)
        dropper.join(timeout=5)

    assert process.returncode == 1, stderr
    suite = read_suite(only_suite_dir(tmp_path / "out"))
    assert suite["devices"] == ["android:phone-a", "android:phone-b"]  # android:* found both
    assert list(suite["dropped_devices"]) == ["android:phone-a"]
    entries = by_task(suite)
    statuses = sorted(entry["status"] for entry in entries.values())
    assert statuses == ["budget", "error", "success", "success", "success"]
    (dropped,) = [entry for entry in entries.values() if entry["status"] == "error"]
    assert dropped["device"] == "android:phone-a" and "device" in dropped["message"]
    assert entries["t5"]["status"] == "budget"
    # After the drop phone A got nothing more: every task that started later ran on phone B.
    on_a = [entry for entry in entries.values() if entry["device"] == "android:phone-a"]
    assert on_a[-1] is dropped or all(entry["status"] != "success" for entry in on_a[on_a.index(dropped) + 1 :])
    assert sum(entry["device"] == "android:phone-b" for entry in entries.values()) >= 3
    testsuite, cases = junit(only_suite_dir(tmp_path / "out"))
    assert (testsuite.get("tests"), testsuite.get("failures"), testsuite.get("errors")) == ("5", "1", "1")
    kinds = case_kinds(cases)
    assert kinds["t5"] == "failure" and sorted(kinds.values()).count("error") == 1
    assert "phone-a" in stdout  # the console table names the device


def test_ctrl_c_stops_every_run_and_records_them(tmp_path: Path) -> None:
    tasks = tmp_path / "tasks"
    tasks.mkdir()
    for name in ("long1", "long2", "long3"):
        write_task(tasks, name, clicks(*[(100 + n, 200) for n in range(60)]))
    phones = [VirtualPhone("phone-a"), VirtualPhone("phone-b")]
    with AdbServer(phones) as server:
        process = agent(
            [
                str(tasks),
                "--device",
                "android:phone-a,android:phone-b",
                "--settle",
                "0.2",
                "--max-steps",
                "100",
                "--out",
                str(tmp_path / "out"),
            ],
            suite_env(server),
            cwd=tmp_path,
        )
        deadline = time.monotonic() + 120
        while min(taps(phone) for phone in phones) < 2 and time.monotonic() < deadline and process.poll() is None:
            time.sleep(0.02)
        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=120)

    assert process.returncode == 130, stderr
    suite_dir = only_suite_dir(tmp_path / "out")
    suite = read_suite(suite_dir)
    assert suite["interrupted"] is True
    statuses = {name: entry["status"] for name, entry in by_task(suite).items()}
    assert statuses == {"long1": "interrupted", "long2": "interrupted", "long3": "not_run"}
    for entry in by_task(suite).values():
        if entry["status"] == "interrupted":
            assert "Ctrl-C" in entry["message"] and Path(entry["run_dir"], "run.json").is_file()
    testsuite, cases = junit(suite_dir)
    assert testsuite.get("skipped") == "3" and set(case_kinds(cases).values()) == {"skipped"}
