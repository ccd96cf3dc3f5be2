/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <stdio.h>
#include <string.h>

#include "build-config.h"

/* isoctl talks to isolatord over D-Bus; the bus service is not built yet, so this
 * client only knows its usage. Exit codes follow the contract: 2 for usage, 3 when the
 * daemon cannot be reached. */
int main(int argc, char *argv[]) {
        if (argc > 1 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
                printf("Usage: isoctl COMMAND [--json]\n"
                       "Talks to isolatord (org.rtaudio.Isolator on the system bus).\n\n"
                       "Not built yet: the D-Bus service and these commands arrive with the bus work.\n"
                       "Meanwhile the daemon answers offline: isolatord --check-config, --plan,\n"
                       "--boot-params, --kernel-audit.\n");
                return 0;
        }
        if (argc > 1 && strcmp(argv[1], "--version") == 0) {
                puts("isoctl " ISOLATORD_VERSION);
                return 0;
        }
        fprintf(stderr, "isoctl: the daemon's D-Bus interface is not built yet; try isoctl --help\n");
        return 3;
}
