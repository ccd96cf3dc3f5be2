/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include "build-config.h"
#include "base/log.h"
#include "offline.h"
#include "service.h"

typedef enum Verb {
        VERB_DAEMON,
        VERB_CHECK_CONFIG,
        VERB_PLAN,
        VERB_BOOT_PARAMS,
        VERB_KERNEL_AUDIT,
        VERB_KCONFIG_FRAGMENT,
} Verb;

static void help(FILE *f) {
        fprintf(f,
                "Usage: isolatord [OPTIONS] [VERB]\n"
                "Keeps a CPU partition for real-time audio true.\n\n"
                "Options:\n"
                "  --root DIR          read and write /proc, /sys and cgroups under DIR (default /)\n"
                "  --config FILE       configuration file (default %s,\n"
                "                      plus FILE.d/*.conf)\n"
                "  --runtime-dir DIR   where the originals of changed files are saved\n"
                "                      (default $RUNTIME_DIRECTORY, else /run/isolatord)\n"
                "  --dry-run           compute and log every action, write nothing\n"
                "  -v, --verbose       more logging (repeat for debug)\n"
                "  -h, --help          this text\n"
                "      --version       the version\n\n"
                "Verbs (print and exit; 0 fine, 1 errors or findings):\n"
                "  --check-config      validate the partition against the machine\n"
                "  --plan              propose a partition for the machine, as a config file\n"
                "  --boot-params       the kernel command line the partition needs, compared\n"
                "                      with the running one\n"
                "  --kernel-audit      the kernel build options real-time audio needs\n"
                "  --kconfig-fragment  those options as a Kconfig fragment\n",
                ISOLATORD_CONFIG_FILE);
}

int main(int argc, char *argv[]) {
        enum { ARG_ROOT = 0x100, ARG_CONFIG, ARG_RUNTIME_DIR, ARG_DRY_RUN, ARG_VERSION, ARG_CHECK_CONFIG, ARG_PLAN,
               ARG_BOOT_PARAMS, ARG_KERNEL_AUDIT, ARG_KCONFIG_FRAGMENT };
        static const struct option options[] = {
                { "root", required_argument, NULL, ARG_ROOT },
                { "config", required_argument, NULL, ARG_CONFIG },
                { "runtime-dir", required_argument, NULL, ARG_RUNTIME_DIR },
                { "dry-run", no_argument, NULL, ARG_DRY_RUN },
                { "verbose", no_argument, NULL, 'v' },
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, ARG_VERSION },
                { "check-config", no_argument, NULL, ARG_CHECK_CONFIG },
                { "plan", no_argument, NULL, ARG_PLAN },
                { "boot-params", no_argument, NULL, ARG_BOOT_PARAMS },
                { "kernel-audit", no_argument, NULL, ARG_KERNEL_AUDIT },
                { "kconfig-fragment", no_argument, NULL, ARG_KCONFIG_FRAGMENT },
                {}
        };
        OfflineOptions o = { .root = "/", .default_config = ISOLATORD_CONFIG_FILE };
        Verb verb = VERB_DAEMON;
        int c, verbosity = 6;
        bool dry_run = false;
        const char *runtime_dir = NULL;

        while ((c = getopt_long(argc, argv, "vh", options, NULL)) >= 0) {
                Verb v = VERB_DAEMON;
                switch (c) {
                case ARG_ROOT: o.root = optarg; break;
                case ARG_CONFIG: o.config = optarg; break;
                case ARG_RUNTIME_DIR: runtime_dir = optarg; break;
                case ARG_DRY_RUN: dry_run = true; break;
                case 'v': verbosity++; break;
                case 'h': help(stdout); return 0;
                case ARG_VERSION: puts("isolatord " ISOLATORD_VERSION); return 0;
                case ARG_CHECK_CONFIG: v = VERB_CHECK_CONFIG; break;
                case ARG_PLAN: v = VERB_PLAN; break;
                case ARG_BOOT_PARAMS: v = VERB_BOOT_PARAMS; break;
                case ARG_KERNEL_AUDIT: v = VERB_KERNEL_AUDIT; break;
                case ARG_KCONFIG_FRAGMENT: v = VERB_KCONFIG_FRAGMENT; break;
                default: help(stderr); return 2;
                }
                if (v != VERB_DAEMON) {
                        if (verb != VERB_DAEMON) {
                                log_error("give one verb at a time");
                                return 2;
                        }
                        verb = v;
                }
        }
        if (optind < argc) {
                log_error("unexpected argument \"%s\"; see isolatord --help", argv[optind]);
                return 2;
        }
        log_set_max_level(verbosity);

        switch (verb) {
        case VERB_CHECK_CONFIG: return offline_check_config(&o, stdout);
        case VERB_PLAN: return offline_plan(&o, stdout);
        case VERB_BOOT_PARAMS: return offline_boot_params(&o, stdout);
        case VERB_KERNEL_AUDIT: return offline_kernel_audit(&o, stdout);
        case VERB_KCONFIG_FRAGMENT: return offline_kconfig_fragment(stdout);
        case VERB_DAEMON: break;
        }
        ManagerOptions mo = {
                .root = o.root,
                .config_path = o.config ? o.config : o.default_config,
                .config_must_exist = o.config != NULL,
                .dry_run = dry_run,
                .runtime_dir = runtime_dir,
        };
        return service_run(&mo);
}
