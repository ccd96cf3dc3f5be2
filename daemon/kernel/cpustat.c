/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <string.h>

#include "kernel/cpustat.h"

/* "cpuN user nice system idle iowait ...": the idle and iowait of CPU N, or false. */
static bool parse_line(const char *line, unsigned *cpu, uint64_t *idle) {
        uint64_t f[5];
        char *end;
        const char *p = line + strlen("cpu");
        if (!g_ascii_isdigit(*p))
                return false; /* the "cpu " line of all CPUs, or another line */
        guint64 n = g_ascii_strtoull(p, &end, 10);
        if (end == p || *end != ' ' || n > G_MAXUINT32)
                return false;
        p = end;
        for (size_t i = 0; i < G_N_ELEMENTS(f); i++) {
                p += strspn(p, " ");
                if (!g_ascii_isdigit(*p))
                        return false;
                f[i] = g_ascii_strtoull(p, &end, 10);
                p = end;
        }
        *cpu = (unsigned) n;
        *idle = f[3] + f[4];
        return true;
}

static const char *next_line(const char *line) {
        const char *nl = strchr(line, '\n');
        return nl && nl[1] ? nl + 1 : NULL;
}

int cpustat_parse_idle(const char *text, uint64_t *out, bool *known, size_t n) {
        bool any = false;
        memset(known, 0, n * sizeof *known);
        for (const char *line = text; line && *line; line = next_line(line)) {
                unsigned cpu;
                uint64_t idle;
                if (!g_str_has_prefix(line, "cpu") || !parse_line(line, &cpu, &idle))
                        continue;
                any = true;
                if (cpu < n) {
                        out[cpu] = idle;
                        known[cpu] = true;
                }
        }
        return any ? 0 : -EBADMSG;
}

int cpustat_read_idle(const Root *root, uint64_t *out, bool *known, size_t n) {
        g_autofree char *text = NULL;
        int r = root_read(root, "proc/stat", &text, NULL);
        if (r < 0) {
                memset(known, 0, n * sizeof *known);
                return r;
        }
        return cpustat_parse_idle(text, out, known, n);
}
