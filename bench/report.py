"""Results of one harness run: samples per contender, ratios, targets; Markdown and JSON."""

from __future__ import annotations

import datetime
import json
import os
import platform
import statistics
from dataclasses import dataclass, field
from pathlib import Path


def loadavg() -> float:
    return round(os.getloadavg()[0], 2)


@dataclass
class Target:
    peer: str  # the contender the ratio is taken against
    max_ratio: float  # dockyard time / peer time must be at most this
    text: str  # as the issue states it
    why_missed: str = ""  # what the profiles show stands in the way, printed when missed


@dataclass
class Scenario:
    key: str
    title: str
    note: str = ""
    samples: dict[str, list[float]] = field(default_factory=dict)
    extras: dict[str, dict[str, list[float]]] = field(default_factory=dict)
    target: Target | None = None
    ours: str = "dockyard"  # the contender whose ratio to each peer is reported
    load: list[float] = field(default_factory=list)  # 1-min load average at start and end
    error: str = ""
    bytes_per_run: int = 0  # for a throughput column (MiB/s) when set

    def add(self, label: str, seconds: float, **extra: float) -> None:
        self.samples.setdefault(label, []).append(seconds)
        for name, value in extra.items():
            self.extras.setdefault(label, {}).setdefault(name, []).append(value)

    def median(self, label: str) -> float | None:
        values = self.samples.get(label)
        return statistics.median(values) if values else None

    def ratios(self) -> dict[str, float]:
        ours = self.median(self.ours)
        if not ours:
            return {}
        return {
            label: ours / theirs
            for label in self.samples
            if label != self.ours and (theirs := self.median(label))
        }

    def met(self) -> bool | None:
        if self.target is None:
            return None
        ratio = self.ratios().get(self.target.peer)
        if ratio is None:
            return None
        return ratio <= self.target.max_ratio

    def as_json(self) -> dict:
        contenders = {}
        for label, values in self.samples.items():
            entry = {
                "median_s": statistics.median(values),
                "min_s": min(values),
                "max_s": max(values),
                "runs": len(values),
                "samples_s": values,
            }
            if self.bytes_per_run:
                entry["median_mib_s"] = self.bytes_per_run / (1 << 20) / entry["median_s"]
            for name, series in self.extras.get(label, {}).items():
                entry[f"median_{name}"] = statistics.median(series)
            contenders[label] = entry
        return {
            "key": self.key,
            "title": self.title,
            "note": self.note,
            "contenders": contenders,
            "ratios": {f"{self.ours}/{k}": v for k, v in self.ratios().items()},
            "target": None
            if self.target is None
            else {
                "peer": self.target.peer,
                "max_ratio": self.target.max_ratio,
                "text": self.target.text,
                "met": self.met(),
            },
            "loadavg_1min": self.load,
            "error": self.error,
        }


def fmt_time(seconds: float) -> str:
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms" if seconds >= 0.01 else f"{seconds * 1000:.1f} ms"
    return f"{seconds:.2f} s"


def cell(scenario: Scenario, label: str) -> str:
    values = scenario.samples.get(label)
    if not values:
        return "-"
    median = statistics.median(values)
    text = f"**{fmt_time(median)}** ({fmt_time(min(values))}–{fmt_time(max(values))})"
    if scenario.bytes_per_run:
        text += f", {scenario.bytes_per_run / (1 << 20) / median:.0f} MiB/s"
    for name, series in scenario.extras.get(label, {}).items():
        value = statistics.median(series)
        text += f", {name} {fmt_time(value) if name.endswith('_s') else f'{value:.0f}'}"
    return f"{label}: {text}"


def markdown(scenarios: list[Scenario], meta: dict) -> str:
    lines = [
        f"# dockyard benchmark, {meta['date']}",
        "",
        f"Machine: {meta['machine']}. Stores and files on: {meta.get('scratch', '?')}. "
        "Load average (1, 5, 15 min) at start "
        f"{meta['loadavg_start']}, at end {meta['loadavg_end']}.",
        "",
        "Versions: " + "; ".join(f"{k} {v}" for k, v in meta["versions"].items()) + ".",
        "",
        f"Each scenario runs its contenders alternately (A B C A B C ...), "
        f"{meta['warmup']} warm-up round(s) not counted, then the counted runs; "
        "**median** (min–max). Ratio = dockyard's median time / the peer's "
        "(below 1: dockyard is faster). Command: `python -m bench` (docs/bench.md).",
        "",
        "| scenario | contenders: median (min–max) | dockyard / peer | target | load |",
        "|---|---|---|---|---|",
    ]
    for s in scenarios:
        contenders = "<br>".join(cell(s, label) for label in s.samples)
        ratios = "<br>".join(f"{k}: {v:.2f}x" for k, v in s.ratios().items()) or "-"
        if s.error:
            contenders = f"failed: {s.error}"
        target = "-"
        if s.target is not None:
            met = s.met()
            mark = "met" if met else ("**missed**" if met is False else "n/a")
            target = f"{s.target.text}: {mark}"
        load = "–".join(f"{x:.1f}" for x in s.load)
        title = s.title + (f" (n={len(next(iter(s.samples.values())))})" if s.samples else "")
        lines.append(f"| {title} | {contenders} | {ratios} | {target} | {load} |")
    notes = [f"- **{s.title}**: {s.note}" for s in scenarios if s.note]
    if notes:
        lines += ["", "Notes:", "", *notes]
    kernel = kernel_lines(scenarios)
    if kernel:
        lines += [
            "",
            "Kernel time: the CPU time of the processes the harness waits for (the contenders "
            "whose work all happens there), medians: `sys_s` in the kernel, `user_s` in user "
            "space; **kernel-dominated** where the kernel takes at least half of dockyard's CPU "
            "time (what the software on top can win back is then at most the rest). Wall time "
            "beyond the CPU time is waiting: for the disk, for other processes, for a core.",
            "",
            *kernel,
        ]
    summary = [s for s in scenarios if s.target is not None]
    if summary:
        lines += ["", "Targets:", ""]
        for s in summary:
            met = s.met()
            ratio = s.ratios().get(s.target.peer) if s.target else None
            state = "met" if met else ("MISSED" if met is False else "not measured")
            shown = f"{ratio:.2f}x" if ratio is not None else "-"
            why = f" (why: {s.target.why_missed})" if met is False and s.target.why_missed else ""
            lines.append(f"- {s.title}: {s.target.text}, measured {shown}: {state}{why}")
    if meta.get("leftovers") is not None:
        lines += ["", f"Left behind after the run: {meta['leftovers'] or 'nothing'}."]
    return "\n".join(lines) + "\n"


KERNEL_DOMINATED = 0.5


def kernel_lines(scenarios: list[Scenario]) -> list[str]:
    lines = []
    for s in scenarios:
        parts = []
        dominated = False
        for label, extras in s.extras.items():
            wall = s.median(label)
            if "sys_s" not in extras or not wall:
                continue
            system = statistics.median(extras["sys_s"])
            user = statistics.median(extras.get("user_s", [0.0]))
            share = system / (system + user) if system + user else 0.0
            dominated = dominated or (label == s.ours and share >= KERNEL_DOMINATED)
            parts.append(
                f"{label} sys {fmt_time(system)} + user {fmt_time(user)} "
                f"({share:.0%} kernel) in {fmt_time(wall)}"
            )
        if parts:
            mark = ": **kernel-dominated**" if dominated else ""
            lines.append(f"- {s.title}: " + "; ".join(parts) + mark)
    return lines


def machine() -> str:
    cpu = "?"
    try:
        with open("/proc/cpuinfo") as stream:
            for line in stream:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    memory = "?"
    try:
        with open("/proc/meminfo") as stream:
            kib = int(stream.readline().split()[1])
            memory = f"{kib / (1 << 20):.0f} GiB"
    except (OSError, ValueError, IndexError):
        pass
    return (
        f"{platform.node()}, {os.cpu_count()} CPUs ({cpu}), {memory} RAM, "
        f"Linux {platform.release()}, Python {platform.python_version()}"
    )


def write(directory: Path, scenarios: list[Scenario], meta: dict) -> tuple[Path, Path]:
    directory.mkdir(parents=True, exist_ok=True)
    stamp = meta["date"].replace(":", "").replace("-", "")[:15]
    text = markdown(scenarios, meta)
    data = {"meta": meta, "scenarios": [s.as_json() for s in scenarios]}
    md_path = directory / f"bench-{stamp}.md"
    json_path = directory / f"bench-{stamp}.json"
    md_path.write_text(text)
    json_path.write_text(json.dumps(data, indent=1) + "\n")
    (directory / "latest.md").write_text(text)
    (directory / "latest.json").write_text(json.dumps(data, indent=1) + "\n")
    return md_path, json_path


def now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
