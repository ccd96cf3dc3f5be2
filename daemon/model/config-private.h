/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* What model/config*.c share and nothing else includes: the schema (config-schema.c), the
 * merged text a Config is read from (config-source.c) and its parser (config-parse.c). */

#include <glib.h>
#include <stdbool.h>

#include "model/config.h"

#define GROUP_PREFIX "Group "
#define IRQ_PREFIX "Irq "
#define THREAD_PREFIX "Thread "

/* config-schema.c: what a file may say. */
GKeyFile *config_defaults_keyfile(void);
bool config_section_known(const char *section);
bool config_key_known(const char *section, const char *key);
/* "CPUs, Slice, Match...": a section's keys as messages list them. */
char *config_section_keys_text(const char *section);

/* The words an enumerated key takes, indexed by the value each stands for (NULL: a value no
 * file spells, such as SCHED_POLICY_UNSET); messages list them in this order. */
typedef struct ConfigWords {
        const char *const *words;
        size_t n;
} ConfigWords;
extern const ConfigWords config_sched_policy_words, config_thread_sched_policy_words, config_partition_words,
        config_cgroup_backend_words, config_irqbalance_words, config_udev_monitor_words, config_starvation_guard_words,
        config_sampler_source_words;
/* The value word stands for, or -1. */
int config_words_find(const ConfigWords *w, const char *word);
/* "other, fifo, rr" */
char *config_words_text(const ConfigWords *w);

bool config_name_valid(const char *name);
bool config_group_name_valid(const char *name);
bool config_slice_name_valid(const char *slice);
bool config_governor_valid(const char *governor);
bool config_audio_path_valid(const char *path);
bool config_text_has_control(const char *text);

/* config-source.c: the defaults, then each file's keys over them in the order read. */
typedef struct ConfigSource {
        GKeyFile *merged;
        GHashTable *origin;         /* "section\nkey" -> file name */
        GPtrArray *files;           /* the files read, in order */
        GPtrArray *declared;        /* "Group x" sections the user files declare, even empty */
} ConfigSource;

void config_source_init(ConfigSource *s);
void config_source_clear(ConfigSource *s);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(ConfigSource, config_source_clear)
bool config_source_merge_data(ConfigSource *s, const char *data, size_t len, const char *name, GError **error);
bool config_source_merge_file(ConfigSource *s, const char *path, bool must_exist, GError **error);
/* PATH.d/ *.conf in name order. */
bool config_source_merge_dropins(ConfigSource *s, const char *path, GError **error);
/* Once every file is in: the user's groups replace the default ones. */
void config_source_drop_replaced_groups(ConfigSource *s);
/* The file that gave section's key, or "built-in defaults". */
const char *config_source_origin(const ConfigSource *s, const char *section, const char *key);
/* Where section's key comes from, in the order of the sources: -1 for the built-in
 * defaults, then the files in the order read. */
int config_source_rank(const ConfigSource *s, const char *section, const char *key);

/* config-parse.c: the merged text read into a Config. */
bool config_parse(const ConfigSource *s, Config **out, GError **error);

/* config.c */
void config_irq_rule_free(IrqRule *r);
void config_thread_rule_free(ThreadRule *r);
