/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "model/finding.h"
#include "base/text.h"

/* Findings name processes and files whose names users choose, and go to the log and the
 * bus: every field is made printable here, whatever its source. */
Finding *finding_new(const char *kind, const char *object, const char *expected, const char *actual,
                     bool required, const char *message) {
        Finding *f = g_new0(Finding, 1);
        f->kind = text_printable(kind);
        f->object = text_printable(object);
        f->expected = text_printable(expected);
        f->actual = text_printable(actual);
        f->required = required;
        f->message = text_printable(message);
        return f;
}

Finding *finding_copy(const Finding *f) {
        return finding_new(f->kind, f->object, f->expected, f->actual, f->required, f->message);
}

void finding_free(Finding *f) {
        if (!f)
                return;
        g_free(f->kind);
        g_free(f->object);
        g_free(f->expected);
        g_free(f->actual);
        g_free(f->message);
        g_free(f);
}

GPtrArray *findings_new(void) {
        return g_ptr_array_new_with_free_func((GDestroyNotify) finding_free);
}

void findings_add_audit(GPtrArray *findings, const char *kind, const GPtrArray *items) {
        for (unsigned i = 0; i < items->len; i++) {
                const AuditItem *it = items->pdata[i];
                if (it->state == AUDIT_OK)
                        continue;
                g_autofree char *msg = g_strdup_printf("%s %s: %s", it->name, audit_state_to_string(it->state), it->reason);
                g_ptr_array_add(findings, finding_new(kind, it->name, it->expected ? it->expected : "(set)",
                                                      it->actual ? (*it->actual ? it->actual : "(set)") : "(absent)",
                                                      it->required, msg));
        }
}

unsigned findings_count_required(const GPtrArray *findings) {
        unsigned n = 0;
        for (unsigned i = 0; i < findings->len; i++)
                n += ((const Finding *) findings->pdata[i])->required;
        return n;
}
