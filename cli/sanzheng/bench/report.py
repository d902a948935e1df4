"""The results: a rich table with the ratios, the same in Markdown, the JSON file, the chart."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from rich.table import Table

Row = tuple[str, str, str, str, str, str, str, str]
HEADER: Row = (
    "stage",
    "messages",
    "seconds",
    "events/s",
    "ratio",
    "SQL per event",
    "CPU ms per event (service / machine)",
    "peak RSS MB",
)


def _cpu(figures: dict[str, Any]) -> str:
    """The service process's own CPU per message (what the machine's load hardly moves),
    then the whole machine's: PostgreSQL and the broker too."""
    value = figures.get("cpu_ms_per_event")
    machine = figures.get("machine_cpu_ms_per_event")
    own = f"{value:.2f}" if value is not None else "—"
    return f"{own} / {machine:.2f}" if machine is not None else own


def ratios(stages: dict[str, Any]) -> dict[str, float]:
    """Each service alone ÷ the naive peer; end to end ÷ the raw limit."""
    out: dict[str, float] = {}
    naive = stages.get("naive", {}).get("events_per_s")
    for name, figures in stages.get("services", {}).items():
        if naive:
            out[f"{name}_vs_naive"] = round(figures["events_per_s"] / naive, 2)
    raw = stages.get("raw", {}).get("events_per_s")
    e2e = stages.get("end_to_end", {}).get("events_per_s")
    if raw and e2e:
        out["end_to_end_vs_raw"] = round(e2e / raw, 3)
    return out


def _cost(figures: dict[str, Any]) -> str:
    if "statements_per_event" in figures:
        return f"{figures['statements_per_event']:.1f}"
    if "transactions_per_event" in figures:
        tx, written = figures["transactions_per_event"], figures["rows_written_per_event"]
        return f"{tx:.2f} tx, {written:.1f} rows"
    return "—"


def rows(results: dict[str, Any]) -> list[Row]:
    stages, r = results["stages"], results["ratios"]
    out: list[Row] = []
    if raw := stages.get("raw"):
        out.append(
            (
                "raw limit (consume → validate → COPY)",
                f"{raw['events']:,}",
                f"{raw['seconds']:.1f}",
                f"{raw['events_per_s']:,.0f}",
                "reference",
                "—",
                "—",
                "—",
            )
        )
    if naive := stages.get("naive"):
        out.append(
            (
                "naive peer (1 message, 1 transaction)",
                f"{naive['events']:,}",
                f"{naive['seconds']:.1f}",
                f"{naive['events_per_s']:,.0f}",
                "reference",
                _cost(naive),
                "—",
                "—",
            )
        )
    for name, s in stages.get("services", {}).items():
        ratio = r.get(f"{name}_vs_naive")
        out.append(
            (
                f"{name} alone",
                f"{s['messages']:,}",
                f"{s['seconds']:.1f}",
                f"{s['events_per_s']:,.0f}",
                f"{ratio:.2f}× naive" if ratio is not None else "—",
                _cost(s),
                _cpu(s),
                f"{s['peak_rss_mb']:.0f}" if s.get("peak_rss_mb") else "—",
            )
        )
    scale = stages.get("services_at_scale") or {}
    for name, s in scale.items():
        if name == "state_students":
            continue
        out.append(
            (
                f"{name} alone, {scale['state_students']:,} students in its database",
                f"{s['messages']:,}",
                f"{s['seconds']:.1f}",
                f"{s['events_per_s']:,.0f}",
                f"cost ×{s['cost_vs_small_state']:.2f}"
                + (
                    f" (machine ×{s['machine_cost_vs_small_state']:.2f})"
                    if "machine_cost_vs_small_state" in s
                    else ""
                ),
                _cost(s),
                _cpu(s),
                f"{s['peak_rss_mb']:.0f}" if s.get("peak_rss_mb") else "—",
            )
        )
    if e2e := stages.get("end_to_end"):
        ratio = r.get("end_to_end_vs_raw")
        rss = e2e.get("peak_rss_mb") or {}
        out.append(
            (
                f"end to end ({e2e['students']:,} students"
                + (", enrollments first)" if e2e.get("order") == "enrollment-first" else ")"),
                f"{e2e['inbound_events']:,}",
                f"{e2e['seconds']:.1f}",
                f"{e2e['events_per_s']:,.0f}",
                f"{ratio:.3f}× raw" if ratio is not None else "—",
                _cost(e2e),
                _cpu(e2e),
                f"{max(rss.values()):.0f} (max)" if rss else "—",
            )
        )
    return out


PROCESS_HEADER = (
    "end to end, each process",
    "messages consumed",
    "batches",
    "records per batch",
    "CPU s",
    "CPU ms per inbound event",
)


def process_rows(results: dict[str, Any]) -> list[tuple[str, ...]]:
    """Where the end-to-end CPU goes: a school's event is consumed by its domain service,
    by certificates and by the gateway (twice), and the batches are as large as the flow
    lets them be, not the 500 a pre-filled topic gives."""
    e2e = results["stages"].get("end_to_end") or {}
    out: list[tuple[str, ...]] = []
    for name, p in (e2e.get("processes") or {}).items():
        per_batch = p.get("records_per_batch")
        cpu = p.get("cpu_seconds")
        out.append(
            (
                name,
                f"{p['messages']:,}",
                f"{p['batches']:,}" if p.get("batches") is not None else "—",
                f"{per_batch:.1f}" if per_batch is not None else "—",
                f"{cpu:.1f}" if cpu is not None else "—",
                f"{p['cpu_ms_per_inbound_event']:.2f}" if cpu is not None else "—",
            )
        )
    if "machine_cpu_ms_per_event" in e2e:
        share = e2e["machine_busy_share"]
        out.append(
            (
                f"the whole machine ({share:.0%} busy)",
                "—",
                "—",
                "—",
                f"{e2e['machine_cpu_seconds']:.1f}",
                f"{e2e['machine_cpu_ms_per_event']:.2f}",
            )
        )
    return out


def latency_rows(results: dict[str, Any]) -> list[tuple[str, str]]:
    lat = results["stages"].get("latency")
    if not lat:
        return []
    order = results.get("config", {}).get("order")
    return [
        *(
            [("sent", "every enrollment first, then the rest at the offered rate")]
            if order == "enrollment-first"
            else []
        ),
        (
            "offered / achieved",
            f"{lat['offered_rate']:,.0f} / {lat['achieved_rate']:,.0f} events/s",
        ),
        ("events / decisions", f"{lat['events']:,} / {lat['decisions']:,}"),
        ("p50", f"{lat.get('p50_ms', 0):,.0f} ms"),
        ("p95", f"{lat.get('p95_ms', 0):,.0f} ms"),
        ("p99", f"{lat.get('p99_ms', 0):,.0f} ms"),
        ("max", f"{lat.get('max_ms', 0):,.0f} ms"),
        *(
            [("machine busy while offered", f"{share:.0%}")]
            if (share := lat.get("machine_busy_share_while_offered")) is not None
            else []
        ),
        *(
            [("services' CPU ms per inbound event", f"{cpu:.2f}")]
            if (cpu := lat.get("services_cpu_ms_per_event")) is not None
            else []
        ),
    ]


DISK_HEADER = (
    "each service alone: the database's writes",
    "WAL kB per event",
    "full-page images per event",
    "CPUs idle waiting for disk, s",
)


def disk_rows(results: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    """What PostgreSQL wrote to its log per event, and how long the machine waited for the
    disk: at a large state a stage whose rate falls more than its CPU does is here."""
    stages = results["stages"]
    scale = stages.get("services_at_scale") or {}
    labelled = [(f"{n} alone", f) for n, f in stages.get("services", {}).items()] + [
        (f"{n}, {scale['state_students']:,} students", f)
        for n, f in scale.items()
        if n != "state_students"
    ]
    return [
        (
            label,
            f"{f['wal_kb_per_event']:.2f}",
            f"{f['wal_full_page_images_per_event']:.3f}"
            if "wal_full_page_images_per_event" in f
            else "—",
            f"{f['io_wait_seconds']:.1f}" if "io_wait_seconds" in f else "—",
        )
        for label, f in labelled
        if "wal_kb_per_event" in f
    ]


def _table(title: str, header: Sequence[str], body: Iterable[Sequence[str]]) -> Table:
    table = Table(title=title)
    for i, name in enumerate(header):
        table.add_column(name, justify="left" if i == 0 else "right")
    for row in body:
        table.add_row(*row)
    return table


def tables(results: dict[str, Any]) -> list[Table]:
    cfg = results["config"]
    title = f"sanzheng bench — {cfg['students']:,} students{_postgres(results)}"
    out = [_table(title, HEADER, rows(results))]
    if procs := process_rows(results):
        out.append(_table("end to end, each process", PROCESS_HEADER, procs))
    if disk := disk_rows(results):
        out.append(_table("the database's writes, each service alone", DISK_HEADER, disk))
    if lat := latency_rows(results):
        out.append(_table("publish → decision latency", ("figure", "value"), lat))
    return out


def _postgres(results: dict[str, Any]) -> str:
    """The database's cache, which the large-state figures depend on (older files lack it)."""
    pg = results.get("postgres_settings") or {}
    return "; PostgreSQL " + ", ".join(f"{k}={v}" for k, v in pg.items()) if pg else ""


def _markdown_table(header: Sequence[str], body: Iterable[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return lines + ["| " + " | ".join(row) + " |" for row in body]


def markdown(results: dict[str, Any]) -> str:
    lines = _markdown_table(HEADER, rows(results))
    if procs := process_rows(results):
        lines += ["", *_markdown_table(PROCESS_HEADER, procs)]
    if disk := disk_rows(results):
        lines += ["", *_markdown_table(DISK_HEADER, disk)]
    if lat := latency_rows(results):
        lines += ["", *_markdown_table(("latency at a fixed offered load", "value"), lat)]
    stages = results["stages"]
    used = {
        f["statements_source"]
        for f in [
            stages.get("naive", {}),
            stages.get("end_to_end", {}),
            *stages.get("services", {}).values(),
        ]
        if "statements_source" in f
    }
    source = ", ".join(f"`{u}`" for u in sorted(used)) or "—"
    machine = results["machine"]
    load = machine.get("load_average_1_5_15_after")
    busy = f", load average {load[1]:.1f} (5 min) at the end" if load else ""
    lines += [
        "",
        f"SQL per event from {source}; {machine['cpus']} CPUs{busy};"
        f" the run took {results.get('seconds', 0):,.0f} s{_postgres(results)}.",
    ]
    return "\n".join(lines)


def write_json(results: dict[str, Any], path: Path) -> None:
    path.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")


def write_chart(results: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    stages = results["stages"]
    names: list[str] = []
    rates: list[float] = []
    if "raw" in stages:
        names.append("raw limit")
        rates.append(stages["raw"]["events_per_s"])
    if "naive" in stages:
        names.append("naive peer")
        rates.append(stages["naive"]["events_per_s"])
    for name, s in stages.get("services", {}).items():
        names.append(f"{name} alone")
        rates.append(s["events_per_s"])
    if "end_to_end" in stages:
        names.append("end to end")
        rates.append(stages["end_to_end"]["events_per_s"])
    lat = stages.get("latency", {})
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.5), gridspec_kw={"width_ratios": [3, 2]})
    left.barh(names[::-1], rates[::-1], color="#4C72B0")
    left.set_xscale("log")
    left.set_xlabel("events/s (log scale)")
    left.set_title("throughput per stage")
    for y, value in enumerate(rates[::-1]):
        left.text(value, y, f" {value:,.0f}", va="center", fontsize=8)
    labels = [k for k in ("p50_ms", "p95_ms", "p99_ms", "max_ms") if k in lat]
    bars = right.bar(
        [k.removesuffix("_ms") for k in labels], [lat[k] for k in labels], color="#DD8452"
    )
    right.bar_label(bars, labels=[f"{lat[k]:,.0f}" for k in labels], fontsize=8)
    right.set_ylabel("ms")
    offered = f"\nat {lat['offered_rate']:,.0f} events/s offered" if lat else ""
    right.set_title("publish → decision latency" + offered)
    cfg = results["config"]
    fig.suptitle(f"sanzheng bench, {cfg['students']:,} students, {results['machine']['cpus']} CPUs")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
