/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <check.h>
#include <glib.h>

#include "model/audit.h"
#include "model/cpumask.h"
#include "model/topology.h"

/* The fake machines of tests/fixtures/mkroot.py, generated once per build folder (the
 * fixture-roots target) under $ISOLATORD_FIXTURES. Tests must not change them; a test
 * that needs to change a root makes its own with fixture_new_root(). */
const char *fixture_root(const char *machine);
char *fixture_new_root(const char *machine);
void fixture_remove(const char *dir);
/* A new empty temporary folder, removed with fixture_remove(). */
char *fixture_tmpdir(void);
void fixture_write(const char *dir, const char *rel, const char *text);

/* Checks that the machines named (NULL-terminated) were generated, runs the suite and
 * returns the process exit status. */
int test_run(Suite *s, const char *const *machines);

/* The topology of a root folder (a fixture_root() or a private one); fails the test
 * when it does not load. */
Topology *fixture_topology(const char *dir);
/* An audit item that must exist. */
const AuditItem *audit_item(const GPtrArray *items, const char *name);

/* A CpuMask from a cpulist the test knows to be valid. */
CpuMask cs(const char *list);
/* Asserts that a set equals a cpulist, printing both on failure. */
#define ck_assert_cpus(set, list)                                                        \
        do {                                                                             \
                g_autofree char *_have = cpumask_format_list(set);                        \
                ck_assert_msg(g_strcmp0(_have, (list)) == 0, "CPUs %s, expected %s",     \
                              _have, (list));                                            \
        } while (0)
