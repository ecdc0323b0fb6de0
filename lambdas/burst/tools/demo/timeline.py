"""The demo's timeline: one line per thing that happened, seconds since the start.

Printed as it happens (several threads say things) and kept for the report.
"""

from __future__ import annotations

import sys
import threading
import time
from dataclasses import dataclass, field
from typing import TextIO


@dataclass(frozen=True)
class Entry:
    t: float
    kind: str
    text: str

    def line(self) -> str:
        return f"[{self.t:6.1f}s] {self.kind:<9} {self.text}"


@dataclass
class Timeline:
    out: TextIO = field(default_factory=lambda: sys.stdout)
    start: float = field(default_factory=time.monotonic)
    entries: list[Entry] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _last: dict[str, str] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)  # e.g. scaler reconciles so far

    def now(self) -> float:
        return time.monotonic() - self.start

    def say(self, kind: str, text: str) -> None:
        with self._lock:
            entry = Entry(self.now(), kind, text)
            self.entries.append(entry)
            print(entry.line(), file=self.out, flush=True)

    def say_changed(self, key: str, kind: str, text: str) -> None:
        """Say it only if `key`'s last line was different: watch mode repeats itself."""
        with self._lock:
            if self._last.get(key) == text:
                return
            self._last[key] = text
        self.say(kind, text)

    def bump(self, name: str) -> None:
        with self._lock:
            self.counts[name] = self.counts.get(name, 0) + 1

    def count(self, name: str) -> int:
        with self._lock:
            return self.counts.get(name, 0)

    def first(self, kind: str, contains: str) -> float | None:
        """When a line of `kind` containing `contains` was first said."""
        return next((e.t for e in self.entries if e.kind == kind and contains in e.text), None)
