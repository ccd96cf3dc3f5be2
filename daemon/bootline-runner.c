/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/error.h"
#include "base/log.h"
#include "bootline-runner.h"
#include "build-config.h"
#include "kernel/bootloader.h"
#include "kernel/unit-job.h"

#define REQUEST_NAME "bootline-request"

struct BootLineRunner {
        sd_event *event;
        UnitJob *job;            /* the helper's unit, while it runs */
        UnitJob *ended;          /* freed at the next start: never from its own callback */
        sd_event_source *child;  /* the helper as a child (fake root) */
        pid_t pid;
        int pidfd;
        Root *root;              /* where the result is read */
        char *unit;
        int64_t started_usec;    /* CLOCK_REALTIME: an older result is not this run's */
        BootLineRunnerDone done;
        void *userdata;
};

BootLineRunner *bootline_runner_new(sd_event *event) {
        BootLineRunner *r = g_new0(BootLineRunner, 1);
        r->event = sd_event_ref(event);
        r->pidfd = -1;
        return r;
}

static void clear_run(BootLineRunner *r) {
        r->child = sd_event_source_disable_unref(r->child);
        if (r->pidfd >= 0)
                close(r->pidfd);
        r->pidfd = -1;
        r->pid = 0;
        g_clear_pointer(&r->root, root_free);
        g_clear_pointer(&r->unit, g_free);
        r->done = NULL;
}

void bootline_runner_free(BootLineRunner *r) {
        if (!r)
                return;
        if (r->pid > 0)
                (void) waitpid(r->pid, NULL, WNOHANG); /* it goes on; its result stays in its folder */
        clear_run(r);
        unit_job_free(r->job);
        unit_job_free(r->ended);
        sd_event_unref(r->event);
        g_free(r);
}

bool bootline_runner_busy(const BootLineRunner *r) {
        return r->done != NULL;
}

/* The helper's result, when this run left one. */
static void finish(BootLineRunner *r, const char *failure) {
        BootLineRunnerDone done = r->done;
        void *userdata = r->userdata;
        g_autofree char *message = NULL, *path = root_path(r->root, BOOTLOADER_STATE_DIR "/result");
        BootLineResult result = BOOTLINE_FAILED;
        struct stat st;
        bool fresh = stat(path, &st) == 0 &&
                     (int64_t) st.st_mtim.tv_sec * G_USEC_PER_SEC + st.st_mtim.tv_nsec / 1000 >= r->started_usec;

        if (!fresh || bootline_result_load(r->root, &result, &message) < 0) {
                g_free(message);
                message = r->unit ? g_strdup_printf("%s; the helper left no word: journalctl -u %s", failure, r->unit)
                                  : g_strdup_printf("%s; the helper left no word", failure);
                result = BOOTLINE_FAILED;
        }
        clear_run(r);
        if (result == BOOTLINE_OK)
                log_info("boot line: %s", message);
        else
                log_warning("boot line: %s", message);
        done(result == BOOTLINE_OK, message, userdata);
}

static void on_unit_done(int error, const char *result, void *userdata) {
        BootLineRunner *r = userdata;
        g_autofree char *failure = error < 0 ? g_strdup_printf("systemd could not run %s: %s", r->unit, g_strerror(-error))
                                             : g_strdup_printf("%s ended \"%s\"", r->unit, result);
        r->ended = r->job;
        r->job = NULL;
        finish(r, failure);
}

static int on_child(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        BootLineRunner *r = userdata;
        int status = 0;
        if (waitpid(r->pid, &status, WNOHANG) == 0)
                return 0;
        r->pid = 0;
        g_autofree char *failure = g_strdup_printf("isolatord-bootline exited with %d",
                                                   WIFEXITED(status) ? WEXITSTATUS(status) : -1);
        finish(r, failure);
        return 0;
}

static const char *helper_path(void) {
        /* Tests run the helper of their build. */
        const char *env = g_getenv("ISOLATORD_BOOTLINE_HELPER");
        return env && *env ? env : ISOLATORD_LIBEXECDIR "/isolatord-bootline";
}

static bool start_child(BootLineRunner *r, const BootLineRun *run, const char *verb, const char *request,
                        GError **error) {
        char *argv[] = { (char *) helper_path(), (char *) "--root", (char *) root_dir(run->root), (char *) verb,
                         request ? (char *) "--request" : NULL, (char *) request, NULL };
        GPid pid;
        int r_;

        if (!g_spawn_async(NULL, argv, NULL, G_SPAWN_DO_NOT_REAP_CHILD, NULL, NULL, &pid, error))
                return false;
        r->pid = pid;
        r->pidfd = (int) syscall(SYS_pidfd_open, pid, 0);
        r_ = r->pidfd < 0 ? -errno : sd_event_add_io(r->event, &r->child, r->pidfd, EPOLLIN, on_child, r);
        if (r_ < 0) {
                (void) waitpid(pid, NULL, 0);
                g_set_error(error, ISO_ERROR, ISO_ERROR_IO, "cannot watch isolatord-bootline: %s", g_strerror(-r_));
                return false;
        }
        return true;
}

bool bootline_runner_start(BootLineRunner *r, const BootLineRun *run, const char *verb, const char *line,
                           BootLineRunnerDone done, void *userdata, GError **error) {
        g_autofree char *request = NULL;

        assert(g_str_equal(verb, "write") || g_str_equal(verb, "revert"));
        if (bootline_runner_busy(r)) {
                g_set_error(error, ISO_ERROR, ISO_ERROR_BUSY, "the boot line is being written or taken back: try again "
                            "once it is done");
                return false;
        }
        g_clear_pointer(&r->ended, unit_job_free);
        if (line) {
                g_autoptr(GError) e = NULL;
                request = g_build_filename(run->runtime_dir, REQUEST_NAME, NULL);
                g_autofree char *text = g_strconcat(line, "\n", NULL);
                /* Root's, written by root alone, as the helper checks. */
                if (g_mkdir_with_parents(run->runtime_dir, 0755) < 0 ||
                    !g_file_set_contents_full(request, text, -1, G_FILE_SET_CONTENTS_CONSISTENT, 0600, &e)) {
                        g_set_error(error, ISO_ERROR, ISO_ERROR_IO, "cannot leave the request for the helper in %s: %s",
                                    run->runtime_dir, e ? e->message : g_strerror(errno));
                        return false;
                }
        }
        r->root = root_new(root_dir(run->root));
        r->started_usec = g_get_real_time() / G_USEC_PER_SEC * G_USEC_PER_SEC; /* mtimes may be coarse */
        if (root_is_host(run->root)) {
                r->unit = g_strdup_printf("isolatord-bootline@%s.service", verb);
                if (unit_job_start(r->event, run->systemd_address, r->unit, on_unit_done, r, &r->job, error) < 0) {
                        clear_run(r);
                        return false;
                }
        } else if (!start_child(r, run, verb, request, error)) {
                clear_run(r);
                return false;
        }
        r->done = done;
        r->userdata = userdata;
        return true;
}
