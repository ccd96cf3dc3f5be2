/* SPDX-License-Identifier: GPL-2.0-or-later */
/* isolatord's page in Cockpit: org.rtaudio.Isolator1 on the system bus, read every two
 * seconds; findings when the page opens and at each Verify. Everything the daemon
 * sends is written with textContent: process and device names are not markup. */
"use strict";

const NAME = "org.rtaudio.Isolator";
const PATH = "/org/rtaudio/Isolator";
const IFACE = "org.rtaudio.Isolator1";
const GROUP_COLOURS = ["#0066cc", "#3e8635", "#f0ab00", "#a30000", "#5752d1", "#009596", "#ec7a08"];
const HOUSEKEEPING_COLOUR = "#8a8d90";

let client = null;

/* {t: "s", v: x} -> x, all the way down. */
function unwrap(value) {
    if (Array.isArray(value))
        return value.map(unwrap);
    if (value && typeof value === "object") {
        const keys = Object.keys(value);
        if (keys.length === 2 && "t" in value && "v" in value)
            return unwrap(value.v);
        const out = {};
        for (const k of keys)
            out[k] = unwrap(value[k]);
        return out;
    }
    return value;
}

function call(method, args) {
    return client.call(PATH, IFACE, method, args || []).then(reply => unwrap(reply));
}

/* "0-2,8" -> [0, 1, 2, 8] */
function parseCpuList(text) {
    const cpus = [];
    for (const part of (text || "").split(",")) {
        if (!part.trim())
            continue;
        const [a, b] = part.split("-").map(x => parseInt(x, 10));
        for (let c = a; c <= (isNaN(b) ? a : b); c++)
            cpus.push(c);
    }
    return cpus;
}

function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
        if (k === "style")
            Object.assign(node.style, v);
        else
            node.setAttribute(k, v);
    }
    for (const child of children)
        node.append(child instanceof Node ? child : String(child));
    return node;
}

function fillTable(table, headings, rows) {
    table.replaceChildren();
    if (rows.length === 0) {
        table.append(el("tr", {}, el("td", { class: "empty" }, "none")));
        return;
    }
    table.append(el("tr", {}, ...headings.map(h => el("th", {}, h))));
    for (const row of rows)
        table.append(el("tr", row.attrs || {}, ...row.cells.map(c => el("td", {}, c))));
}

function showError(error) {
    const p = document.getElementById("error");
    p.textContent = error ? (error.message || String(error)) : "";
    p.hidden = !error;
}

function renderStatus(status) {
    const state = document.getElementById("state");
    state.textContent = status.state;
    state.className = "state state-" + status.state;
    document.getElementById("counters").textContent =
        `${status.findings_count} finding(s), ${status.required_findings} required · ` +
        `${status.drift_corrections} drift correction(s) · verifies: ${status.verify_count}`;

    /* The CPU grid: every online CPU, coloured by who has it. */
    const owner = new Map();
    for (const cpu of parseCpuList(status.housekeeping))
        owner.set(cpu, { name: "housekeeping", colour: HOUSEKEEPING_COLOUR });
    (status.groups || []).forEach((g, i) => {
        for (const cpu of parseCpuList(g.cpus))
            owner.set(cpu, { name: g.name, colour: GROUP_COLOURS[i % GROUP_COLOURS.length] });
    });
    const grid = document.getElementById("cpus");
    grid.replaceChildren();
    for (const cpu of parseCpuList(status.online)) {
        const o = owner.get(cpu);
        grid.append(el("div", {
            class: "cpu",
            title: o ? o.name : "in no group",
            style: { background: o ? o.colour : "#ffffff", color: o ? "#ffffff" : "#151515" }
        }, el("span", { class: "cpu-number" }, cpu), el("span", { class: "cpu-owner" }, o ? o.name : "-")));
    }

    const rows = [{ cells: [el("span", { class: "swatch", style: { background: HOUSEKEEPING_COLOUR } }), "housekeeping",
        status.housekeeping, "system.slice, user.slice, init.scope", "-"] }];
    (status.groups || []).forEach((g, i) => rows.push({
        cells: [el("span", { class: "swatch", style: { background: GROUP_COLOURS[i % GROUP_COLOURS.length] } }), g.name,
            g.cpus, g.slice, !g.sched_policy ? "unchanged"
                : g.sched_priority ? `${g.sched_policy} ${g.sched_priority}` : g.sched_policy]
    }));
    fillTable(document.getElementById("groups"), ["", "Group", "CPUs", "Slice", "Scheduling"], rows);
}

function renderFindings(findings) {
    fillTable(document.getElementById("findings"), ["Level", "Kind", "Object", "Expected", "Found", "Why / fix"],
              findings.map(f => ({
                  attrs: { class: f.required ? "required" : "advice" },
                  cells: [f.required ? "required" : "advice", f.kind, f.object, f.expected, f.actual, f.message]
              })));
}

/* IRQs whose affinity reaches a group's CPU now, or that isolatord could not move; the
 * count is since boot, so it stays after a move. */
function renderIrqs(irqs, isolated) {
    const groupCpus = new Set(parseCpuList(isolated));
    const reaching = irqs.filter(i => i.state === "foreign" || i.state === "unmovable" ||
                                      parseCpuList(i.cpus).some(c => groupCpus.has(c)));
    fillTable(document.getElementById("irqs"), ["IRQ", "Device", "CPUs", "Belongs on", "State", "On group CPUs since boot"],
              reaching.map(i => ({
                  cells: [i.irq, i.name, i.cpus, i.target, i.reason ? `${i.state}: ${i.reason}` : i.state,
                      i.isolated_count]
              })));
}

/* A rate, or "?" where the source cannot know it (-1). */
const rate = r => r < 0 ? "?" : r.toFixed(0);

/* What reached each audio CPU: the architecture's interrupts, and the first sources by name. */
function renderNoise(noise) {
    const sources = n => (n.sources || []).slice(0, 3).map(s =>
        `${s.name} ${s.per_second.toFixed(0)}/s${s.share >= 0 ? ` ${(s.share * 100).toFixed(1)}%` : ""}`).join("; ");
    fillTable(document.getElementById("noise"),
              ["CPU", "Timer", "Resched", "Call", "TLB", "Devices", "Switches", "Top sources"],
              noise.map(n => ({
                  cells: [n.cpu, rate(n.loc), rate(n.res), rate(n.cal), rate(n.tlb), rate(n.devices), rate(n.switches),
                      sources(n) || "-"]
              })));
}

/* The last spike and its first cause, in a line. */
function renderSpike(spikes) {
    const line = document.getElementById("last-spike");
    if (spikes.length === 0) {
        line.textContent = "Last spike: none since the start or the last reset.";
        return;
    }
    const s = spikes[spikes.length - 1], c = s.causes[0];
    const when = new Date(s.at_usec / 1000).toLocaleTimeString();
    const what = !c ? (s.source === "counters" ? "no counter moved" : "nothing traced ran")
        : `${c.kind} ${c.name} ${c.time_us >= 0 ? `${c.time_us.toFixed(0)} µs` : `${c.per_second.toFixed(0)}/s`}` +
          (c.movable ? " (isolatord moves it)" : "");
    line.textContent = `Last spike: CPU ${s.cpu}, ${s.latency_us} µs late at ${when}: ${what} (${s.source})`;
}

/* One CPU's histogram as log-scaled bars: microseconds across, log10(count + 1) up. */
function histogramSvg(cpu, stats, counts, overflows) {
    const SVG = "http://www.w3.org/2000/svg";
    const width = 420, height = 140, left = 36, bottom = 22, top = 8;
    let last = 0, highest = 0;
    counts.forEach((c, us) => { if (c > 0) last = us; highest = Math.max(highest, c); });
    const columns = Math.min(last + 1, 105);
    const per = Math.ceil((last + 1) / columns);
    const bins = new Array(columns).fill(0);
    counts.forEach((c, us) => { if (us <= last) bins[Math.floor(us / per)] += c; });
    const binMax = Math.max(1, ...bins);
    const svg = document.createElementNS(SVG, "svg");
    svg.setAttribute("width", width);
    svg.setAttribute("height", height);
    svg.setAttribute("class", "histogram");
    svg.setAttribute("data-cpu", cpu);
    const line = (x1, y1, x2, y2) => {
        const l = document.createElementNS(SVG, "line");
        Object.entries({ x1, y1, x2, y2, stroke: "#6a6e73" }).forEach(([k, v]) => l.setAttribute(k, v));
        svg.append(l);
    };
    const text = (x, y, s, anchor) => {
        const t = document.createElementNS(SVG, "text");
        t.setAttribute("x", x);
        t.setAttribute("y", y);
        t.setAttribute("font-size", "10");
        t.setAttribute("text-anchor", anchor || "start");
        t.textContent = s;
        svg.append(t);
    };
    const plotW = width - left - 4, plotH = height - top - bottom, barW = plotW / columns;
    bins.forEach((c, i) => {
        if (!c)
            return;
        const h = Math.max(1, plotH * Math.log10(c + 1) / Math.log10(binMax + 1));
        const r = document.createElementNS(SVG, "rect");
        Object.entries({ x: left + i * barW, y: top + plotH - h, width: Math.max(1, barW - 0.5), height: h,
            fill: i * per >= stats.threshold ? "#c9190b" : "#0066cc", class: "bar" })
            .forEach(([k, v]) => r.setAttribute(k, v));
        svg.append(r);
    });
    line(left, top + plotH, width - 4, top + plotH);
    line(left, top, left, top + plotH);
    text(left - 3, top + 8, String(binMax), "end");
    text(left - 3, top + plotH, "0", "end");
    text(left, height - 6, "0 µs");
    text(width - 4, height - 6, `${(last + 1)} µs${overflows ? ` (+${overflows} beyond)` : ""}`, "end");
    const box = el("figure", { class: "cpu-latency" }, svg,
                   el("figcaption", {}, `CPU ${cpu}: p99 ${stats.p99_us.toFixed(0)} µs, max ${stats.max_us.toFixed(0)} µs, ` +
                      `${stats.samples} samples, ${stats.exceeded} over the threshold`));
    return box;
}

function renderLatency(latency, threshold) {
    const box = document.getElementById("latency");
    const measured = latency.filter(l => l.measured);
    if (measured.length === 0) {
        box.replaceChildren(el("p", { class: "empty" }, "The sampler is not running (isoctl sampler start)."));
        return Promise.resolve();
    }
    return Promise.all(measured.map(l => call("GetHistogram", [l.cpu]).then(reply => {
        const [, counts, overflows] = reply;
        return histogramSvg(l.cpu, Object.assign({ threshold: threshold || Infinity }, l), counts, overflows);
    }))).then(figures => box.replaceChildren(...figures));
}

function refresh() {
    return call("GetStatus").then(([status]) => {
        renderStatus(status);
        return Promise.all([
            call("GetIrqs").then(([irqs]) => renderIrqs(irqs, status.isolated)),
            call("GetLatency").then(([latency]) => renderLatency(latency, status.latency_threshold_us)),
            call("GetNoise").then(([noise]) => renderNoise(noise), () => renderNoise([])),
            call("GetSpikes", [1]).then(([spikes]) => renderSpike(spikes)),
        ]);
    }).catch(showError);
}

/* An action's error (a polkit refusal among them) stays shown until the next action. */
function verify() {
    showError(null);
    return call("Verify").then(([findings]) => renderFindings(findings)).then(refresh, showError);
}

function change(method) {
    showError(null);
    return call(method).then(refresh).then(verify, showError);
}

document.addEventListener("DOMContentLoaded", () => {
    client = cockpit.dbus(NAME, { bus: "system", superuser: "try" });
    document.getElementById("verify").addEventListener("click", verify);
    document.getElementById("apply").addEventListener("click", () => change("Apply"));
    document.getElementById("revert").addEventListener("click", () => change("Revert"));
    verify();
    window.setInterval(refresh, 2000);
});
