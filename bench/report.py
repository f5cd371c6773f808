"""The run's figures as Markdown tables, a PNG chart, and the table in docs/performance.md."""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

ENGINE_NAMES = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}
BEGIN = "<!-- bench:begin (written by `make bench`; edit bench/report.py instead) -->"
END = "<!-- bench:end -->"


def _labels() -> dict[str, str]:
    from bench.run import LABELS

    return LABELS


def machine_line(results: dict[str, Any]) -> str:
    m = results["machine"]
    parts = [
        f"{m['cores']} cores ({m['cpu_model']})",
        f"{m['memory_gb']} GB",
        f"Linux {m['kernel']}",
        f"Python {m['python']}",
        f"SQLite {m['sqlite']}",
    ]
    if m.get("postgresql"):
        parts.append(m["postgresql"].replace("postgres (PostgreSQL)", "PostgreSQL").strip())
    parts.append(" ".join(m["wrk"].replace("debian/", "").split()[:2]))
    return ", ".join(parts) + f"; Maskline {m['commit']}, {results['date']}"


def share(ratio: float) -> str:
    """A share of the ceiling to a tenth of a percent, cut rather than rounded: 19.96% is
    shown as 19.9%, never as a target met."""
    return f"{math.floor(ratio * 1000) / 10:.1f}%"


def _ms(value: float) -> str:
    return f"{value:.1f}" if value >= 10 else f"{value:.2f}"


def throughput_table(results: dict[str, Any]) -> str:
    engines = [e for e in results["engines"] if "throughput" in results["engines"][e]]
    if not engines or "ceiling" not in results:
        return ""
    head = "| request |"
    rule = "|---|"
    for engine in engines:
        name = ENGINE_NAMES[engine]
        head += f" {name} req/s | p50 ms | p99 ms | of ceiling | of fastest |"
        rule += "---:|---:|---:|---:|---:|"
    lines = [head, rule]
    labels = _labels()
    workloads = results["engines"][engines[0]]["throughput"]["workloads"]
    for name in workloads:
        line = f"| {labels[name]} |"
        for engine in engines:
            figure = results["engines"][engine]["throughput"]["workloads"].get(name)
            if figure is None:
                line += " | | | | |"
                continue
            errors = f" ({figure['errors']} errors)" if figure["errors"] else ""
            fastest = figure.get("ratio_to_fastest")
            line += (
                f" {figure['rps']:,.0f}{errors} | {_ms(figure['p50_ms'])} | "
                f"{_ms(figure['p99_ms'])} | {share(figure['ratio'])} | "
                f"{'' if fastest is None else share(fastest)} |"
            )
        lines.append(line)
    c = results["ceiling"]
    line = f"| {labels['ceiling']} |"
    line += f" {c['rps']:,.0f} | {_ms(c['p50_ms'])} | {_ms(c['p99_ms'])} | | 100% |" + (
        " | | | | |" * (len(engines) - 1)
    )
    lines.append(line)
    return "\n".join(lines)


def scaling_table(results: dict[str, Any]) -> str:
    engines = [e for e in results["engines"] if results["engines"][e].get("scaling")]
    if not engines:
        return ""
    head = "| active sessions |"
    rule = "|---:|"
    for engine in engines:
        name = ENGINE_NAMES[engine]
        head += f" {name} p50 ms | p99 ms | CreateSession req/s | peak RSS MB |"
        rule += "---:|---:|---:|---:|"
    lines = [head, rule]
    by_engine = {e: results["engines"][e]["scaling"] for e in engines}
    for i in range(max(len(rows) for rows in by_engine.values())):
        first = by_engine[engines[0]][i]
        line = f"| {first['active_sessions']:,} |"
        for engine in engines:
            rows = by_engine[engine]
            if i >= len(rows):
                line += " | | | |"
                continue
            row = rows[i]
            load = row.get("create_session", {}).get("rps")
            line += (
                f" {_ms(row['p50_ms'])} | {_ms(row['p99_ms'])} | "
                f"{'' if load is None else f'{load:,.0f}'} | {row['server_peak_rss_mb']:.0f} |"
            )
        lines.append(line)
    return "\n".join(lines)


def targets_table(results: dict[str, Any]) -> str:
    verdicts = results.get("targets") or []
    if not verdicts:
        return ""
    lines = ["| target | engine | this run | met |", "|---|---|---|---|"]
    for v in verdicts:
        met = "yes" if v["met"] else "**no**"
        lines.append(f"| {v['target']} | {ENGINE_NAMES[v['engine']]} | {v['value']} | {met} |")
    return "\n".join(lines)


def table(results: dict[str, Any]) -> str:
    """Everything, as the Markdown that goes into docs/performance.md."""
    settings = results["settings"]
    blocks = [
        f"Machine: {machine_line(results)}.",
        f"Load: wrk `{settings['wrk']}`, against `{settings['server']}`; a pool of "
        f"{settings['pool_numbers']:,} numbers.",
    ]
    throughput = throughput_table(results)
    if throughput:
        runs = results["ceiling"].get("runs_rps", [results["ceiling"]["rps"]])
        blocks.append(
            f"Requests per second and latency at a fixed concurrency, on a database of "
            f"{settings['throughput_database_sessions']:,} active sessions; "
            '"of ceiling" is the share of the ceiling\'s requests per second measured beside '
            "the workload: the mean of its runs just before and just after it, under the same "
            'load; the targets are judged on it. "of fastest" divides by the fastest of all '
            f"the ceiling's runs in this benchmark ({', '.join(f'{rps:,.0f}' for rps in runs)} "
            "req/s; the last row shows that run), a floor on this machine, whose speed drifts "
            "by a fifth or more within minutes.\n\n" + throughput
        )
    scale = scaling_table(results)
    if scale:
        blocks.append(
            "Participant creation (number selection included), one request at a time, "
            f"{settings['participant_samples_per_size']} samples per size; then CreateSession "
            "under the same wrk load; the server's peak memory (VmHWM) over both.\n\n" + scale
        )
    targets = targets_table(results)
    if targets:
        blocks.append(targets)
    for note in results.get("notes", []):
        blocks.append(f"Note: {note}")
    return "\n\n".join(blocks) + "\n"


def update_performance_md(results: dict[str, Any], path: Path) -> None:
    """Replace the generated block of docs/performance.md (between its markers)."""
    text = path.read_text() if path.exists() else f"# Performance\n\n{BEGIN}\n{END}\n"
    if BEGIN not in text or END not in text:
        text = text.rstrip("\n") + f"\n\n{BEGIN}\n{END}\n"
    block = f"{BEGIN}\n\n{table(results)}\n{END}"
    text = re.sub(re.escape(BEGIN) + ".*?" + re.escape(END), lambda _: block, text, flags=re.S)
    path.write_text(text)


def chart(results: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = _labels()
    colours = {"sqlite": "#3b75af", "postgresql": "#e1812c"}
    figure, (left, middle, right) = plt.subplots(
        1, 3, figsize=(17, 5.6), gridspec_kw={"width_ratios": [1.6, 1, 1]}
    )
    figure.suptitle(f"Maskline benchmark — {machine_line(results)}", fontsize=8.5)

    engines = [e for e in results["engines"] if "throughput" in results["engines"][e]]
    if engines and "ceiling" in results:
        names = list(results["engines"][engines[0]]["throughput"]["workloads"])
        width = 0.8 / len(engines)
        for k, engine in enumerate(engines):
            workloads = results["engines"][engine]["throughput"]["workloads"]
            xs = [i + (k - (len(engines) - 1) / 2) * width for i in range(len(names))]
            values = [workloads[n]["rps"] if n in workloads else 0 for n in names]
            bars = left.bar(xs, values, width, label=ENGINE_NAMES[engine], color=colours[engine])
            for bar, name in zip(bars, names, strict=True):
                if name in workloads:
                    left.annotate(
                        share(workloads[name]["ratio"]),
                        (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                        ha="center",
                        va="bottom",
                        fontsize=8,
                    )
        ceiling = results["ceiling"]["rps"]
        left.axhline(ceiling, color="grey", linestyle="--", linewidth=1)
        left.text(
            len(names) - 0.5,
            ceiling,
            f"fastest ceiling run {ceiling:,.0f} req/s",
            ha="right",
            va="bottom",
        )
        left.set_xticks(range(len(names)))
        left.set_xticklabels([labels[n].replace(", ", ",\n") for n in names], fontsize=7)
        left.set_ylabel("requests per second")
        left.set_title("Throughput (labels: share of the ceiling beside each run)", fontsize=10)
        left.legend(fontsize=8)
    else:
        left.axis("off")

    scaled = [e for e in results["engines"] if results["engines"][e].get("scaling")]
    if scaled:
        for engine in scaled:
            rows = results["engines"][engine]["scaling"]
            sizes = [r["active_sessions"] for r in rows]
            name = ENGINE_NAMES[engine]
            middle.plot(sizes, [r["p50_ms"] for r in rows], "o-", color=colours[engine])
            middle.plot(sizes, [r["p99_ms"] for r in rows], "s--", color=colours[engine])
            middle.plot([], [], "o-", color=colours[engine], label=f"{name} p50")
            middle.plot([], [], "s--", color=colours[engine], label=f"{name} p99")
            right.plot(
                sizes,
                [r["server_peak_rss_mb"] for r in rows],
                "o-",
                color=colours[engine],
                label=name,
            )
        for axis in (middle, right):
            axis.set_xscale("log")
            axis.set_xlabel("active sessions")
        middle.set_ylim(bottom=0)
        middle.set_ylabel("ms")
        middle.set_title("Participant creation latency", fontsize=10)
        middle.legend(fontsize=8)
        right.axhline(250, color="grey", linestyle="--", linewidth=1)
        right.text(sizes[0], 250, "target 250 MB", va="bottom", fontsize=8)
        right.set_ylim(bottom=0, top=max(300, right.get_ylim()[1]))
        right.set_ylabel("MB")
        right.set_title("Server peak memory (VmHWM)", fontsize=10)
        right.legend(fontsize=8)
    else:
        middle.axis("off")
        right.axis("off")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
