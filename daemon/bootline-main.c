/* SPDX-License-Identifier: GPL-2.0-or-later */
/* isolatord-bootline: the one program of isolatord that writes the bootloader's files
 * and runs its tools. The daemon's sandbox keeps /boot, /etc/default/grub.d and
 * /etc/kernel read-only; this helper runs in a unit of its own
 * (isolatord-bootline@write.service, @revert.service) with just those paths writable,
 * started by the daemon through systemd, as systemd splits its own helpers out. What it
 * reads is hostile until checked: the request is a root-owned file nobody else may
 * write, holding only parameters isolatord plans, each with a value it could plan. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "build-config.h"
#include "base/log.h"
#include "base/macro.h"
#include "kernel/bootloader.h"
#include "model/bootline.h"

/* Where the daemon leaves the line to write (its RuntimeDirectory). */
#define REQUEST_DEFAULT "/run/isolatord/bootline-request"
#define REQUEST_MAX 4096

static void help(FILE *f) {
        fprintf(f,
                "Usage: isolatord-bootline [--root DIR] write [--request FILE | PARAMETER...]\n"
                "       isolatord-bootline [--root DIR] revert | status\n"
                "Writes isolatord's kernel parameters for the bootloader (Debian's GRUB through\n"
                "/etc/default/grub.d/isolatord.cfg and update-grub; kernel-install through\n"
                "/etc/kernel/cmdline), or takes them back. Run by isolatord-bootline@.service.\n\n"
                "  --root DIR       the machine's files and tools under DIR (default /)\n"
                "  --request FILE   the line to write (default %s)\n\n"
                "Exit status: 0 done, 1 failed (everything as before), 2 refused,\n"
                "3 no bootloader it writes for (nothing written), 4 a file changed since it\n"
                "was written (left as it is).\n",
                REQUEST_DEFAULT);
}

/* The request, as hostile as any input: a regular file (no symlink), root's, writable
 * by root alone, small. */
static char *read_request(const char *path, char **why) {
        _cleanup_close_ int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
        struct stat st;
        char buf[REQUEST_MAX + 1];
        ssize_t n;

        if (fd < 0) {
                *why = g_strdup_printf("cannot open the request %s: %s", path, g_strerror(errno));
                return NULL;
        }
        if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_uid != 0 || (st.st_mode & 022)) {
                *why = g_strdup_printf("the request %s is not a regular file of root's that only root may write", path);
                return NULL;
        }
        n = read(fd, buf, REQUEST_MAX + 1);
        if (n < 0 || n > REQUEST_MAX) {
                *why = g_strdup_printf("the request %s %s", path, n < 0 ? g_strerror(errno) : "is too long");
                return NULL;
        }
        if (memchr(buf, '\0', (size_t) n)) {
                *why = g_strdup_printf("the request %s holds a NUL byte", path);
                return NULL;
        }
        return g_strndup(buf, (gsize) n);
}

/* One helper at a time per machine: a write and a revert must not interleave. */
static int lock_state(const Root *root) {
        g_autofree char *dir = root_path(root, BOOTLOADER_STATE_DIR);
        g_autofree char *path = g_build_filename(dir, "lock", NULL);
        int fd;

        if (g_mkdir_with_parents(dir, 0755) < 0)
                return log_error_errno(-errno, "cannot make %s: %m", dir);
        fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0)
                return log_error_errno(-errno, "cannot open %s: %m", path);
        if (flock(fd, LOCK_EX) < 0) {
                int r = -errno;
                close(fd);
                return log_error_errno(r, "cannot lock %s: %m", path);
        }
        return fd;
}

static int finish(const Root *root, BootLineResult result, const char *message, bool save) {
        int r;
        if (result == BOOTLINE_OK)
                log_info("%s", message);
        else
                log_error("%s", message);
        if (save && (r = bootline_result_save(root, result, message)) < 0)
                log_warning_errno(r, "cannot leave the result for isolatord: %m");
        return (int) result;
}

int main(int argc, char *argv[]) {
        enum { ARG_ROOT = 0x100, ARG_REQUEST };
        static const struct option options[] = {
                { "root", required_argument, NULL, ARG_ROOT },
                { "request", required_argument, NULL, ARG_REQUEST },
                { "verbose", no_argument, NULL, 'v' },
                { "help", no_argument, NULL, 'h' },
                {}
        };
        const char *root_dir_arg = "/", *request = NULL;
        int c, verbosity = 6;

        /* Options after the verb too: "write --request FILE". */
        while ((c = getopt_long(argc, argv, "vh", options, NULL)) >= 0) {
                switch (c) {
                case ARG_ROOT: root_dir_arg = optarg; break;
                case ARG_REQUEST: request = optarg; break;
                case 'v': verbosity++; break;
                case 'h': help(stdout); return 0;
                default: help(stderr); return BOOTLINE_REFUSED;
                }
        }
        log_set_max_level(verbosity);
        if (optind >= argc) {
                help(stderr);
                return BOOTLINE_REFUSED;
        }
        const char *verb = argv[optind++];
        g_autoptr(Root) root = root_new(root_dir_arg);
        if (root_fd(root) < 0) {
                log_error("the root %s cannot be opened", root_dir_arg);
                return BOOTLINE_FAILED;
        }

        if (g_str_equal(verb, "status")) {
                g_autofree char *text = bootline_status_text(root);
                fputs(text, stdout);
                return 0;
        }
        if (!g_str_equal(verb, "write") && !g_str_equal(verb, "revert")) {
                log_error("unknown verb \"%s\": write, revert or status", verb);
                return BOOTLINE_REFUSED;
        }

        _cleanup_close_ int lock = lock_state(root);
        if (lock < 0)
                return finish(root, BOOTLINE_FAILED, "cannot take the helper's lock; see the log", false);

        g_autofree char *message = NULL;
        BootLineResult result;
        if (g_str_equal(verb, "revert")) {
                if (optind < argc)
                        return finish(root, BOOTLINE_REFUSED, "revert takes no argument", true);
                result = bootline_revert(root, &message);
                return finish(root, result, message, true);
        }

        g_autofree char *text = NULL, *why = NULL;
        g_autoptr(GError) e = NULL;
        if (optind < argc && request)
                return finish(root, BOOTLINE_REFUSED, "write takes parameters or --request, not both", true);
        if (optind < argc)
                text = g_strjoinv(" ", argv + optind);
        else if (!(text = read_request(request ? request : REQUEST_DEFAULT, &why)))
                return finish(root, BOOTLINE_REFUSED, why, true);
        g_auto(GStrv) params = bootline_parse(text, &e);
        if (!params)
                return finish(root, BOOTLINE_REFUSED, e->message, true);
        result = bootline_write(root, params, &message);
        return finish(root, result, message, true);
}
