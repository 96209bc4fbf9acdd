"""Unit tests of the sandbox's process helpers (grader.grading.isolation.sandbox)."""
import subprocess
import sys
import time

from grader.grading.isolation import sandbox


def test_kill_process_group_kills_the_leader_and_its_group():
    leader = subprocess.Popen([sys.executable, "-c", "import subprocess, sys, time\n"
                               "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n"
                               "print('ready', flush=True); time.sleep(60)"],
                              stdout=subprocess.PIPE, text=True, start_new_session=True)
    assert leader.stdout.readline().strip() == "ready"
    import psutil

    child = psutil.Process(leader.pid).children()[0]
    sandbox.kill_process_group(leader.pid)
    assert leader.wait(timeout=10) == -9
    child.wait(timeout=10)
    assert not child.is_running()


def test_kill_process_group_of_a_finished_process_is_quiet():
    finished = subprocess.Popen([sys.executable, "-c", "pass"], start_new_session=True)
    finished.wait()
    time.sleep(0.05)
    sandbox.kill_process_group(finished.pid)  # nothing left to kill: no error


def test_a_policy_is_plain_json_with_a_private_home(tmp_path):
    import json

    policy = sandbox.sandbox_policy(None, tmp_path / "home", hide=[tmp_path / "secret"])
    assert json.loads(json.dumps(policy)) == policy
    assert policy["env"]["HOME"] == policy["env"]["TMPDIR"] == str(tmp_path / "home")
    assert policy["hide"] == [str(tmp_path / "secret")]
