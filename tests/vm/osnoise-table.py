#!/usr/bin/env python3
"""osnoise-table.py CONFIG:RUN:TRACE...: the VM benchmark's table from the guest's osnoise
traces (tracefs text: the osnoise tracer's per-period lines and its irq_noise,
softirq_noise, thread_noise and nmi_noise events, see guest-tools.sh).

Per configuration and CPU: the interference the kernel counted (HW, NMI, IRQ, softirq,
thread), as the mean per run with the lowest and highest run; then the sources that
reached the CPUs, as events per run. Counts, never microseconds: TCG distorts time.
"""

import collections
import re
import sys

# "<...>-859 [002] ..... 81.637220: 1000000 190 99.98100 9 0 0 22 0 0": the tracer's own
# line for one period of one CPU; the last five numbers are HW, NMI, IRQ, SIRQ, THREAD.
PERIOD = re.compile(r"\[(\d+)\]\s+\S+\s+[\d.]+:\s+\d+\s+\d+\s+[\d.]+\s+\d+\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s*$")
EVENT = re.compile(r"\[(\d+)\]\s+\S+\s+[\d.]+:\s+(irq|softirq|thread|nmi)_noise:\s*(.*?)\s*start\s")
KINDS = ("HW", "NMI", "IRQ", "SIRQ", "THREAD")


def source_name(kind, text):
    text = text.strip()
    if kind == "thread":
        # "comm:pid": the pid says little across runs, the name says who.
        return "thread " + re.sub(r":\d+$", "", text)
    if kind == "softirq":
        return "softirq " + re.sub(r":\d+$", "", text)
    if kind == "nmi":
        return "nmi"
    return "irq " + text


def parse(path):
    counts = collections.defaultdict(lambda: [0] * len(KINDS))
    sources = collections.Counter()
    periods = collections.Counter()
    with open(path, errors="replace") as f:
        for line in f:
            m = EVENT.search(line)
            if m:
                sources[source_name(m.group(2), m.group(3))] += 1
                continue
            m = PERIOD.search(line)
            if m:
                cpu = int(m.group(1))
                periods[cpu] += 1
                for i in range(len(KINDS)):
                    counts[cpu][i] += int(m.group(2 + i))
    return counts, sources, periods


def main(args):
    runs = collections.defaultdict(list)  # config -> [(counts, sources, periods)]
    order = []
    for arg in args:
        config, run, path = arg.split(":", 2)
        if config not in order:
            order.append(config)
        runs[config].append(parse(path))

    cpus = sorted({cpu for config in order for counts, _, _ in runs[config] for cpu in counts})
    print("Interference the kernel counted on the group's CPUs (osnoise), per run: mean [lowest-highest]")
    header = f"{'configuration':<19} {'CPU':>3} {'runs':>4} {'periods':>7}  " + "  ".join(f"{k:>14}" for k in KINDS)
    print(header)
    print("-" * len(header))
    for config in order:
        for cpu in cpus:
            per_run = [counts.get(cpu, [0] * len(KINDS)) for counts, _, _ in runs[config]]
            periods = sum(p.get(cpu, 0) for _, _, p in runs[config]) / max(len(runs[config]), 1)
            cells = []
            for i in range(len(KINDS)):
                values = [r[i] for r in per_run]
                mean = sum(values) / len(values)
                cells.append(f"{mean:6.1f} [{min(values)}-{max(values)}]".rjust(14))
            print(f"{config:<19} {cpu:>3} {len(per_run):>4} {periods:>7.1f}  " + "  ".join(cells))
        totals = [0] * len(KINDS)
        for counts, _, _ in runs[config]:
            for cpu in counts:
                for i in range(len(KINDS)):
                    totals[i] += counts[cpu][i]
        n = max(len(runs[config]), 1)
        print(f"{config:<19} {'all':>3} {n:>4} {'':>7}  " + "  ".join(f"{t / n:6.1f}".rjust(14) for t in totals))
    print()
    print("What reached those CPUs (osnoise events), per run, the most frequent first:")
    for config in order:
        total = collections.Counter()
        for _, sources, _ in runs[config]:
            total.update(sources)
        n = max(len(runs[config]), 1)
        top = ", ".join(f"{name} {count / n:.1f}" for name, count in total.most_common(8)) or "nothing"
        print(f"  {config:<19} {top}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
