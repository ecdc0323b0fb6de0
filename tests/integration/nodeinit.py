"""`systemctl` for the real-node test: the node's init system, on a machine with no systemd.

Installed on PATH as `systemctl` (the test writes it with a shebang), it reads real unit
files from $NODEINIT_UNITS (the node image's kubelet.service and kubeadm's 10-kubeadm.conf
drop-in among them) and runs their ExecStart as systemd would: Environment= and
EnvironmentFile= applied, `$VAR` expanded, drop-ins (<unit>.d/*.conf) read in order, a
template's %i filled in, the executable found on PATH. Each service runs in its own
session, its output in $NODEINIT_STATE/<unit>.log, its pid in <unit>.pid. Only what
bootstrap.sh and kubeadm call is here: enable [--now], start, restart, stop, status,
is-active, is-enabled, daemon-reload.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

UNITS = Path(os.environ["NODEINIT_UNITS"])
STATE = Path(os.environ["NODEINIT_STATE"])
STOP_TIMEOUT_S = 60.0


def unit_files(unit: str) -> list[Path]:
    name = unit if "." in unit else f"{unit}.service"
    template = re.sub(r"@[^.]+\.", "@.", name)
    main = UNITS / name if (UNITS / name).exists() else UNITS / template
    if not main.exists():
        return []
    return [main, *sorted((UNITS / f"{name}.d").glob("*.conf"))]


def read_env_file(path: Path, optional: bool, env: dict[str, str]) -> None:
    if not path.exists():
        if not optional:
            sys.exit(f"EnvironmentFile {path} is missing")
        return
    for line in path.read_text().splitlines():
        name, eq, val = line.partition("=")
        if eq and not line.startswith("#"):
            env[name.strip()] = val.strip().strip('"')


def service_settings(files: list[Path], instance: str) -> tuple[str, dict[str, str]]:
    exec_start, env = "", {}
    for path in files:
        for raw in path.read_text().replace("%i", instance).splitlines():
            key, sep, value = raw.strip().partition("=")
            if not sep or raw.startswith("#"):
                continue
            if key == "ExecStart":
                exec_start = value  # an empty ExecStart= resets, as in systemd
            elif key == "Environment":
                name, _, val = value.strip('"').partition("=")
                env[name] = val
            elif key == "EnvironmentFile":
                read_env_file(Path(value.lstrip("-")), value.startswith("-"), env)
    return exec_start, env


def pid_of(unit: str) -> int | None:
    pid_file = STATE / f"{unit}.pid"
    if not pid_file.exists():
        return None
    pid = int(pid_file.read_text())
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return None
    return None if state in ("Z", "X") else pid


def start(unit: str) -> None:
    if pid_of(unit):
        return
    files = unit_files(unit)
    if not files:
        sys.exit(f"Failed to start {unit}: Unit {unit} not found.")
    instance = unit.partition("@")[2].removesuffix(".service")
    exec_start, env = service_settings(files, instance)
    expanded = re.sub(r"\$\{?(\w+)\}?", lambda m: env.get(m.group(1), ""), exec_start)
    argv = expanded.split()
    found = shutil.which(Path(argv[0]).name)
    if not found:
        sys.exit(f"Failed to start {unit}: {argv[0]} not found")
    argv[0] = found
    STATE.mkdir(parents=True, exist_ok=True)
    log = (STATE / f"{unit}.log").open("ab")
    log.write(f"--- start: {' '.join(argv)}\n".encode())
    log.flush()
    process = subprocess.Popen(argv, stdout=log, stderr=log, stdin=subprocess.DEVNULL,
                               env={**os.environ, **env}, start_new_session=True)
    (STATE / f"{unit}.pid").write_text(str(process.pid))


def stop(unit: str) -> None:
    pid = pid_of(unit)
    if pid is None:
        return
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT_S
    while pid_of(unit) and time.monotonic() < deadline:
        time.sleep(0.1)
    if pid_of(unit):
        os.kill(pid, signal.SIGKILL)
        sys.exit(f"{unit} did not stop within {STOP_TIMEOUT_S:.0f} s: killed")


def status(unit: str) -> int:
    loaded = "loaded" if unit_files(unit) else "not-found"
    active = "active (running)" if pid_of(unit) else "inactive (dead)"
    print(f"{unit}\n   Loaded: {loaded}\n   Active: {active}")
    return 0 if pid_of(unit) else 3


def enable(unit: str, now: bool) -> int:
    STATE.mkdir(parents=True, exist_ok=True)
    (STATE / f"{unit}.enabled").touch()
    if now:
        start(unit)
    return 0


def restart(unit: str) -> int:
    stop(unit)
    start(unit)
    return 0


def start_only(unit: str) -> int:
    start(unit)
    return 0


def stop_only(unit: str) -> int:
    stop(unit)
    return 0


VERBS: dict[str, Callable[[str], int]] = {
    "start": start_only,
    "stop": stop_only,
    "restart": restart,
    "status": status,
    "is-active": lambda unit: 0 if pid_of(unit) else 3,
    "is-enabled": lambda unit: 0 if (STATE / f"{unit}.enabled").exists() else 1,
}


def main(args: list[str]) -> int:
    verb, units = args[0], [a for a in args[1:] if not a.startswith("-")]
    if verb == "daemon-reload":
        return 0
    if verb != "enable" and verb not in VERBS:
        sys.exit(f"systemctl stand-in: {verb} is not supported")
    code = 0
    for unit in units:
        code = enable(unit, "--now" in args) if verb == "enable" else VERBS[verb](unit)
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
