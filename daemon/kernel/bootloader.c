/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/error.h"
#include "base/log.h"
#include "base/macro.h"
#include "base/text.h"
#include "kernel/bootloader.h"
#include "model/bootline.h"
#include "model/bootparams.h"

#define STATE_FILE BOOTLOADER_STATE_DIR "/state"
#define RESULT_FILE BOOTLOADER_STATE_DIR "/result"
/* Files isolatord takes over are small; a larger one is not what it thinks it is. */
#define CONFIG_MAX (64 * 1024)
#define GRUB_CFG_MAX (16 * 1024 * 1024)
#define GRUBENV_MAX (64 * 1024) /* GRUB writes 1024 bytes */
#define STATE_MAX (1024 * 1024)
#define TOOL_OUTPUT_MAX 4000

const char *bootloader_kind_to_string(BootLoaderKind kind) {
        switch (kind) {
        case BOOTLOADER_GRUB: return "grub";
        case BOOTLOADER_KERNEL_INSTALL: return "kernel-install";
        case BOOTLOADER_UNKNOWN: break;
        }
        return "unknown";
}

static BootLoaderKind kind_from_string(const char *s) {
        if (g_strcmp0(s, "grub") == 0)
                return BOOTLOADER_GRUB;
        if (g_strcmp0(s, "kernel-install") == 0)
                return BOOTLOADER_KERNEL_INSTALL;
        return BOOTLOADER_UNKNOWN;
}

const char *bootline_result_to_string(BootLineResult r) {
        switch (r) {
        case BOOTLINE_OK: return "ok";
        case BOOTLINE_FAILED: return "failed";
        case BOOTLINE_REFUSED: return "refused";
        case BOOTLINE_UNKNOWN: return "unknown";
        case BOOTLINE_CHANGED: return "changed";
        }
        return "failed";
}

static bool executable(const Root *root, const char *rel) {
        g_autofree char *path = root_path(root, rel);
        return access(path, X_OK) == 0;
}

static bool is_dir(const Root *root, const char *rel) {
        g_autofree char *path = root_path(root, rel);
        struct stat st;
        return lstat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static const char *kernel_install_tool(const Root *root) {
        /* Debian 12 ships it in /usr/bin; /bin is the same folder on a merged /usr. */
        return executable(root, "usr/bin/kernel-install") ? "usr/bin/kernel-install" : NULL;
}

/* install.conf's layout= (kernel-install's own setting), or NULL. */
static char *kernel_install_layout(const Root *root) {
        g_autofree char *text = NULL;
        char *layout = NULL;
        if (root_read_regular(root, "etc/kernel/install.conf", CONFIG_MAX, &text, NULL, NULL) < 0)
                return NULL;
        g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
        for (char **l = lines; *l; l++) {
                g_strstrip(*l);
                if (g_str_has_prefix(*l, "layout=")) {
                        g_free(layout);
                        layout = g_strdup(*l + strlen("layout="));
                }
        }
        return layout;
}

BootLoader *bootloader_detect(const Root *root) {
        static const char *const boot_roots[] = { "efi", "boot", "boot/efi" }; /* kernel-install's order */
        BootLoader *bl = g_new0(BootLoader, 1);
        bool grub = executable(root, "usr/sbin/update-grub") && root_exists(root, BOOTLOADER_GRUB_CFG);
        const char *tool = kernel_install_tool(root);
        g_autofree char *layout = kernel_install_layout(root);
        const char *entries = NULL;

        for (size_t i = 0; i < G_N_ELEMENTS(boot_roots) && !entries; i++) {
                g_autofree char *rel = g_strconcat(boot_roots[i], "/loader/entries", NULL);
                if (is_dir(root, rel))
                        entries = boot_roots[i];
        }
        bool bls = tool && entries && (!layout || g_str_equal(layout, "bls"));
        if (grub && bls) {
                bl->why = g_strdup_printf("both GRUB (/%s) and kernel-install's entries (/%s/loader/entries) are here, "
                                          "and which of them boots is not a file's to say",
                                          BOOTLOADER_GRUB_CFG, entries);
        } else if (grub) {
                bl->kind = BOOTLOADER_GRUB;
        } else if (bls) {
                bl->kind = BOOTLOADER_KERNEL_INSTALL;
                bl->boot_root = g_strdup(entries);
        } else if (tool && entries && layout) {
                bl->why = g_strdup_printf("kernel-install is set to layout=%s in /etc/kernel/install.conf, "
                                          "not the Boot Loader Specification's entries isolatord writes for", layout);
        } else {
                bl->why = g_strdup("neither GRUB (update-grub and a generated /boot/grub/grub.cfg) nor kernel-install's "
                                   "entries (kernel-install and loader/entries under /efi, /boot or /boot/efi) are here");
        }
        return bl;
}

void bootloader_free(BootLoader *bl) {
        if (!bl)
                return;
        g_free(bl->boot_root);
        g_free(bl->why);
        g_free(bl);
}

void next_boot_free(NextBoot *nb) {
        if (!nb)
                return;
        g_free(nb->source);
        g_free(nb->title);
        g_free(nb->chosen);
        g_free(nb->cmdline);
        g_strfreev(nb->lacks);
        g_free(nb->configured);
        g_free(nb->error);
        g_free(nb);
}

static char *first_line(const char *text) {
        const char *nl = strchr(text, '\n');
        return nl ? g_strndup(text, (gsize) (nl - text)) : g_strdup(text);
}

static int entry_name_compare(const void *a, const void *b) {
        /* systemd-boot puts the newest version first: the default, unless loader.conf says. */
        return -strverscmp(*(char *const *) a, *(char *const *) b);
}

/* The BLS entry files of kernel-install's entries folder, the newest first. */
static GPtrArray *bls_entry_names(const Root *root, const char *dir_rel, int *error) {
        GPtrArray *names = g_ptr_array_new_with_free_func(g_free);
        int fd = root_open_dir(root, dir_rel);
        DIR *d;
        struct dirent *de;

        *error = 0;
        if (fd < 0 || !(d = fdopendir(fd))) {
                *error = fd < 0 ? fd : -errno;
                if (fd >= 0)
                        close(fd);
                return names;
        }
        while ((de = readdir(d)))
                if (de->d_name[0] != '.' && g_str_has_suffix(de->d_name, ".conf"))
                        g_ptr_array_add(names, g_strdup(de->d_name));
        closedir(d);
        g_ptr_array_sort(names, entry_name_compare);
        return names;
}

static void count_entry(NextBoot *nb, const BootEntry *e, char *const *params) {
        if (e->recovery)
                return;
        nb->entries++;
        if (params) {
                g_auto(GStrv) lacks = bootline_lacks(params, e->cmdline);
                nb->entries_with += !lacks[0];
        }
}

static void take_default(NextBoot *nb, const BootEntry *e, char *const *params) {
        nb->title = text_printable(e->title ? e->title : "");
        nb->recovery = e->recovery;
        nb->cmdline = g_strdup(e->cmdline);
        if (params)
                nb->lacks = bootline_lacks(params, e->cmdline);
}

NextBoot *bootloader_next_boot(const Root *root, const BootLoader *bl, char *const *params) {
        NextBoot *nb = g_new0(NextBoot, 1);
        g_autofree char *text = NULL;
        int r;

        switch (bl->kind) {
        case BOOTLOADER_UNKNOWN:
                nb->error = g_strdup(bl->why);
                break;
        case BOOTLOADER_GRUB: {
                nb->source = g_strdup(BOOTLOADER_GRUB_CFG);
                r = root_read_regular(root, BOOTLOADER_GRUB_CFG, GRUB_CFG_MAX, &text, NULL, NULL);
                if (r < 0) {
                        nb->error = g_strdup_printf("cannot read /%s: %s", BOOTLOADER_GRUB_CFG, g_strerror(-r));
                        break;
                }
                /* GRUB's environment block: the saved entry and grub-reboot's next one.
                 * None is normal (nothing saved), and so is a folder or another file that
                 * is not a regular one, which GRUB's header skips too ([ -s ]). One that
                 * is there and cannot be read (a symbolic link, which GRUB follows and
                 * isolatord does not; an I/O error) is not read as empty when the default
                 * depends on it: the entry GRUB boots would be a guess. */
                g_autofree char *env = NULL;
                r = root_read_regular(root, BOOTLOADER_GRUBENV, GRUBENV_MAX, &env, NULL, NULL);
                if (r < 0 && r != -ENOENT && r != -EISDIR && r != -EINVAL && bootline_grub_default_reads_env(text)) {
                        nb->error = g_strdup_printf("cannot read /%s, which holds GRUB's saved and next entry: %s",
                                                    BOOTLOADER_GRUBENV,
                                                    r == -ELOOP ? "a symbolic link, not followed" : g_strerror(-r));
                        nb->unknown = true;
                        break;
                }
                g_autoptr(GPtrArray) entries = bootline_grub_cfg_entries(text);
                for (unsigned i = 0; i < entries->len; i++)
                        count_entry(nb, entries->pdata[i], params);
                g_autofree char *chosen = NULL;
                int at = entries->len > 0 ? bootline_grub_default(text, env, &chosen) : -1;
                nb->chosen = chosen ? text_printable(chosen) : NULL; /* grubenv's words */
                if (at >= 0)
                        take_default(nb, entries->pdata[at], params);
                else if (entries->len > 0)
                        nb->error = g_strdup_printf("GRUB's default is not a Linux entry (%s)", nb->chosen);
                else
                        nb->error = g_strdup_printf("/%s has no kernel entry", BOOTLOADER_GRUB_CFG);
                break;
        }
        case BOOTLOADER_KERNEL_INSTALL: {
                g_autofree char *dir = g_strconcat(bl->boot_root, "/loader/entries", NULL);
                g_autofree char *configured = NULL;
                g_autoptr(GPtrArray) names = bls_entry_names(root, dir, &r);

                if (root_read_regular(root, BOOTLOADER_KERNEL_CMDLINE, CONFIG_MAX, &configured, NULL, NULL) >= 0)
                        nb->configured = g_strstrip(first_line(configured));
                nb->source = g_strdup(dir);
                if (r < 0) {
                        nb->error = g_strdup_printf("cannot read /%s: %s", dir, g_strerror(-r));
                        break;
                }
                for (unsigned i = 0; i < names->len; i++) {
                        g_autofree char *rel = g_strconcat(dir, "/", names->pdata[i], NULL);
                        g_autofree char *entry_text = NULL;
                        if (root_read_regular(root, rel, CONFIG_MAX, &entry_text, NULL, NULL) < 0)
                                continue;
                        g_autoptr(BootEntry) e = bootline_bls_entry(entry_text);
                        if (!e)
                                continue;
                        count_entry(nb, e, params);
                        if (!nb->cmdline && !e->recovery) {
                                take_default(nb, e, params);
                                g_free(nb->source);
                                nb->source = g_steal_pointer(&rel);
                        }
                }
                if (!nb->cmdline)
                        nb->error = g_strdup_printf("/%s holds no entry", dir);
                break;
        }
        }
        return nb;
}

/* --- the helper's state: the originals, and what it wrote --- */

static char *machine_identity(const Root *root) {
        g_autofree char *id = NULL;
        /* A boot line is the installation's, not the boot's: the machine-id, not boot_id. */
        if (root_read_line(root, "etc/machine-id", &id) < 0 || !*g_strstrip(id))
                return g_strdup("none");
        return g_steal_pointer(&id);
}

static int state_read(const Root *root, GKeyFile **out, GError **error) {
        g_autofree char *text = NULL;
        g_autoptr(GKeyFile) kf = g_key_file_new();
        g_autofree char *id = NULL, *mine = machine_identity(root);
        size_t len;
        int r;

        *out = NULL;
        r = root_read_regular(root, STATE_FILE, STATE_MAX, &text, &len, NULL);
        if (r == -ENOENT)
                return 0;
        if (r < 0) {
                g_set_error(error, ISO_ERROR, ISO_ERROR_IO, "cannot read /%s: %s", STATE_FILE, g_strerror(-r));
                return r;
        }
        if (!g_key_file_load_from_data(kf, text, len, G_KEY_FILE_NONE, error)) {
                g_prefix_error(error, "/%s: ", STATE_FILE);
                return -EBADMSG;
        }
        id = g_key_file_get_string(kf, "Bootline", "MachineId", NULL);
        if (!id || !g_str_equal(id, mine)) {
                g_set_error(error, ISO_ERROR, ISO_ERROR_IO,
                            "/%s belongs to another installation (machine-id %s, this one is %s): it is never applied "
                            "here; look at it, then remove it", STATE_FILE, id ? id : "(none)", mine);
                return -EXDEV;
        }
        *out = g_steal_pointer(&kf);
        return 0;
}

static int state_write(const Root *root, GKeyFile *kf) {
        gsize len;
        g_autofree char *data = g_key_file_to_data(kf, &len, NULL);
        return root_replace_file(root, STATE_FILE, data, len, 0600);
}

static char *file_group(const char *rel) {
        return g_strconcat("File ", rel, NULL);
}

/* A saved content (base64: a file's bytes need not be text). */
static GBytes *get_bytes(GKeyFile *kf, const char *group, const char *key) {
        g_autofree char *b64 = g_key_file_get_string(kf, group, key, NULL);
        gsize len = 0;
        guchar *data;
        if (!b64)
                return NULL;
        data = g_base64_decode(b64, &len);
        return g_bytes_new_take(data, len);
}

static void set_bytes(GKeyFile *kf, const char *group, const char *key, const char *data, size_t len) {
        g_autofree char *b64 = g_base64_encode((const guchar *) data, len);
        g_key_file_set_string(kf, group, key, b64);
}

static bool same_bytes(GBytes *saved, const char *data, size_t len) {
        gsize n = 0;
        const void *p = saved ? g_bytes_get_data(saved, &n) : NULL;
        return saved && n == len && (len == 0 || memcmp(p, data, len) == 0);
}

int bootline_state_load(const Root *root, BootLineState **out, GError **error) {
        g_autoptr(GKeyFile) kf = NULL;
        g_autoptr(GPtrArray) files = g_ptr_array_new_with_free_func(g_free);
        g_auto(GStrv) groups = NULL;
        g_autofree char *params = NULL, *loader = NULL;
        int r;

        *out = NULL;
        r = state_read(root, &kf, error);
        if (r < 0 || !kf)
                return r;
        BootLineState *s = g_new0(BootLineState, 1);
        loader = g_key_file_get_string(kf, "Bootline", "Loader", NULL);
        s->kind = kind_from_string(loader);
        params = g_key_file_get_string(kf, "Bootline", "Params", NULL);
        if (params && *params)
                s->params = bootline_parse(params, NULL); /* NULL should it not parse */
        s->written_usec = g_key_file_get_int64(kf, "Bootline", "WrittenUsec", NULL);
        groups = g_key_file_get_groups(kf, NULL);
        for (char **g = groups; *g; g++)
                if (g_str_has_prefix(*g, "File "))
                        g_ptr_array_add(files, g_strdup(*g + strlen("File ")));
        g_ptr_array_add(files, NULL);
        s->files = (char **) g_ptr_array_free(g_steal_pointer(&files), false);
        *out = s;
        return 0;
}

void bootline_state_free(BootLineState *s) {
        if (!s)
                return;
        g_strfreev(s->params);
        g_strfreev(s->files);
        g_free(s);
}

int bootline_result_save(const Root *root, BootLineResult r, const char *message) {
        g_autofree char *text = g_strdup_printf("%s\n%s\n", bootline_result_to_string(r), message ? message : "");
        return root_replace_file(root, RESULT_FILE, text, strlen(text), 0644);
}

int bootline_result_load(const Root *root, BootLineResult *r, char **message) {
        g_autofree char *text = NULL;
        int ret = root_read_regular(root, RESULT_FILE, CONFIG_MAX, &text, NULL, NULL);
        if (ret < 0)
                return ret;
        char *nl = strchr(text, '\n');
        if (!nl)
                return -EBADMSG;
        *nl = '\0';
        *r = BOOTLINE_FAILED;
        for (int i = BOOTLINE_OK; i <= BOOTLINE_CHANGED; i++)
                if (g_str_equal(text, bootline_result_to_string(i)))
                        *r = i;
        *message = g_strchomp(g_strdup(nl + 1));
        return 0;
}

/* --- the tools --- */

/* The root's own tool with a clean environment, in the root's folder. Its output goes
 * to the journal; the last lines come back for the message. */
static int run_tool(const Root *root, char **argv, char **tail) {
        static const char *const env[] = { "PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C.UTF-8", "LC_ALL=C.UTF-8", NULL };
        g_autofree char *out = NULL, *err = NULL;
        g_autoptr(GError) e = NULL;
        g_autofree char *cmd = g_strjoinv(" ", argv);
        int status;

        log_info("running %s", cmd);
        if (!g_spawn_sync(root_dir(root), argv, (char **) env, G_SPAWN_DEFAULT, NULL, NULL, &out, &err, &status, &e)) {
                *tail = g_strdup_printf("%s could not run: %s", argv[0], e->message);
                return -ENOEXEC;
        }
        g_autofree char *all = g_strconcat(out ? out : "", err ? err : "", NULL);
        if (*all)
                log_info("%s said: %s", argv[0], g_strchomp(all));
        if (!g_spawn_check_wait_status(status, &e)) {
                size_t n = strlen(all);
                *tail = g_strdup_printf("%s failed (%s)%s%s", cmd, e->message, n ? ": " : "",
                                        n > TOOL_OUTPUT_MAX ? all + n - TOOL_OUTPUT_MAX : all);
                return -EIO;
        }
        return 0;
}

/* The kernels kernel-install has entries for, and their images in /boot: what Debian's
 * /etc/kernel/postinst.d/zz-systemd-boot hands it for each kernel, again. */
static int kernel_install_all(const Root *root, const BootLoader *bl, char **why) {
        g_autofree char *dir = g_strconcat(bl->boot_root, "/loader/entries", NULL);
        g_autoptr(GHashTable) done = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
        g_autofree char *tool = root_path(root, kernel_install_tool(root));
        int r;
        g_autoptr(GPtrArray) names = bls_entry_names(root, dir, &r);

        if (r < 0) {
                *why = g_strdup_printf("cannot read /%s: %s", dir, g_strerror(-r));
                return r;
        }
        for (unsigned i = 0; i < names->len; i++) {
                g_autofree char *rel = g_strconcat(dir, "/", names->pdata[i], NULL);
                g_autofree char *text = NULL, *version = NULL;
                if (root_read_regular(root, rel, CONFIG_MAX, &text, NULL, NULL) < 0)
                        continue;
                g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
                for (char **l = lines; *l; l++)
                        if (g_str_has_prefix(*l, "version ")) {
                                g_free(version);
                                version = g_strstrip(g_strdup(*l + strlen("version ")));
                        }
                /* A version names files under /boot: nothing but a kernel release's characters. */
                if (!version || !*version || strlen(version) > 128 || strspn(version,
                    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.+-_~") != strlen(version) ||
                    g_hash_table_contains(done, version))
                        continue;
                g_autofree char *image_rel = g_strconcat("boot/vmlinuz-", version, NULL);
                g_autofree char *initrd_rel = g_strconcat("boot/initrd.img-", version, NULL);
                if (!root_exists(root, image_rel))
                        continue; /* an entry of a kernel Debian no longer has: left alone */
                g_autofree char *image = root_path(root, image_rel);
                g_autofree char *initrd = root_exists(root, initrd_rel) ? root_path(root, initrd_rel) : NULL;
                char *argv[] = { tool, (char *) "add", version, image, initrd, NULL };
                if ((r = run_tool(root, argv, why)) < 0)
                        return r;
                g_hash_table_add(done, g_steal_pointer(&version));
        }
        if (g_hash_table_size(done) == 0) {
                *why = g_strdup_printf("no entry in /%s is of a kernel in /boot", dir);
                return -ENOENT;
        }
        return 0;
}

static int run_bootloader(const Root *root, const BootLoader *bl, char **why) {
        switch (bl->kind) {
        case BOOTLOADER_GRUB: {
                g_autofree char *tool = root_path(root, "usr/sbin/update-grub");
                char *argv[] = { tool, NULL };
                return run_tool(root, argv, why);
        }
        case BOOTLOADER_KERNEL_INSTALL:
                return kernel_install_all(root, bl, why);
        case BOOTLOADER_UNKNOWN:
                break;
        }
        *why = g_strdup("no bootloader isolatord knows");
        return -EOPNOTSUPP;
}

static const char *tool_name(BootLoaderKind kind) {
        return kind == BOOTLOADER_GRUB ? "update-grub" : "kernel-install";
}

/* --- write and revert --- */

/* A file isolatord takes over, read as it is: absent (NULL, 0), or its bytes. A symlink,
 * a folder or a file too large for what it should be is refused. */
static int read_target(const Root *root, const char *rel, char **data, size_t *len, mode_t *mode, char **why) {
        int r = root_read_regular(root, rel, CONFIG_MAX, data, len, mode);
        if (r == -ENOENT) {
                *data = NULL;
                *len = 0;
                return 0;
        }
        if (r < 0)
                *why = g_strdup_printf("/%s is not a file isolatord writes (%s): refused",
                                       rel, r == -ELOOP ? "a symlink on its way" : g_strerror(-r));
        return r;
}

/* The parameters a GRUB default entry still needs: those its line lacks once isolatord's
 * own snippet is taken out of it. One it has with another value is a conflict: the
 * kernel takes the first isolcpus= and nohz_full= it meets, so appending cannot fix it. */
static bool grub_missing(const Root *root, char *const *params, const char *snippet, char ***out, char **why) {
        g_autoptr(BootLoader) bl = bootloader_detect(root);
        g_autoptr(NextBoot) nb = bootloader_next_boot(root, bl, NULL);
        g_auto(GStrv) ours = snippet ? bootline_grub_parse(snippet, NULL) : NULL;
        g_autoptr(GPtrArray) kept = g_ptr_array_new_with_free_func(g_free);
        g_autoptr(GPtrArray) missing = g_ptr_array_new_with_free_func(g_free);

        if (nb->unknown) {
                /* Appending would be unchecked against a line that cannot be told. */
                *why = g_strdup_printf("the next boot cannot be told (%s): nothing written", nb->error);
                return false;
        }
        if (!nb->cmdline) {
                *out = g_strdupv((char **) params); /* no entry yet: all of it */
                return true;
        }
        g_auto(GStrv) tokens = bootline_split_raw(nb->cmdline);
        /* The snippet's parameters are the last of GRUB_CMDLINE_LINUX_DEFAULT: the line's
         * last occurrences of them are isolatord's. */
        for (guint n = g_strv_length(tokens); n-- > 0;) {
                if (ours && g_strv_contains((const char *const *) ours, tokens[n])) {
                        char **p = ours;
                        while (*p && !g_str_equal(*p, tokens[n]))
                                p++;
                        g_free(*p);
                        memmove(p, p + 1, sizeof(char *) * g_strv_length(p + 1) + sizeof(char *)); /* each taken once */
                        continue;
                }
                g_ptr_array_insert(kept, 0, g_strdup(tokens[n]));
        }
        g_ptr_array_add(kept, NULL);
        g_autofree char *theirs = g_strjoinv(" ", (char **) kept->pdata);
        g_auto(GStrv) lacks = bootline_lacks(params, theirs);
        g_auto(GStrv) their_tokens = bootparams_tokenize(theirs);
        for (char **l = lacks; *l; l++) {
                g_autofree char *key = bootline_token_key(*l);
                for (char **t = their_tokens; *t; t++) {
                        g_autofree char *k = bootline_token_key(*t);
                        if (g_str_equal(k, key)) {
                                *why = g_strdup_printf("the default entry of /%s already has %s, another value than %s, "
                                                       "from /etc/default/grub or a file in /etc/default/grub.d: "
                                                       "remove it there, then write again",
                                                       BOOTLOADER_GRUB_CFG, *t, *l);
                                return false;
                        }
                }
                g_ptr_array_add(missing, g_strdup(*l));
        }
        g_ptr_array_add(missing, NULL);
        *out = (char **) g_ptr_array_free(g_steal_pointer(&missing), false);
        return true;
}

static char *kernel_cmdline_base(const Root *root, GKeyFile *kf, const char *group, const char *current) {
        g_autoptr(GBytes) original = get_bytes(kf, group, "Original");
        g_autofree char *text = NULL, *proc = NULL;

        /* Written before: the parameters go onto the original again, not onto the last write. */
        if (original && g_key_file_get_boolean(kf, group, "Existed", NULL))
                return g_strndup(g_bytes_get_data(original, NULL), g_bytes_get_size(original));
        if (current && !g_key_file_has_group(kf, group))
                return g_strdup(current);
        /* As kernel-install does without /etc/kernel/cmdline. */
        if (root_read_regular(root, "usr/lib/kernel/cmdline", CONFIG_MAX, &text, NULL, NULL) >= 0)
                return g_steal_pointer(&text);
        if (root_read_line(root, "proc/cmdline", &proc) >= 0)
                return bootline_cmdline_from_proc(proc);
        return g_strdup("");
}

/* Puts rel back as the group saved it: its original bytes and mode, or no file. */
static int restore_original(const Root *root, GKeyFile *kf, const char *group, const char *rel) {
        g_autoptr(GBytes) original = get_bytes(kf, group, "Original");
        if (!g_key_file_get_boolean(kf, group, "Existed", NULL)) {
                int r = root_remove(root, rel);
                return r == -ENOENT ? 0 : r;
        }
        mode_t mode = (mode_t) g_key_file_get_integer(kf, group, "Mode", NULL) & 07777;
        return root_replace_file(root, rel, original ? g_bytes_get_data(original, NULL) : "",
                                 original ? g_bytes_get_size(original) : 0, mode ? mode : 0644);
}

/* The titles of a grub.cfg's entries (NULL for another bootloader): update-grub run
 * in a sandbox must not lose one (os-prober's, say) that a run by hand would keep. */
static GHashTable *grub_titles(const Root *root, BootLoaderKind kind) {
        g_autofree char *text = NULL;
        if (kind != BOOTLOADER_GRUB ||
            root_read_regular(root, BOOTLOADER_GRUB_CFG, GRUB_CFG_MAX, &text, NULL, NULL) < 0)
                return NULL;
        GHashTable *titles = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
        g_auto(GStrv) all = bootline_grub_cfg_titles(text);
        for (char **t = all; *t; t++)
                g_hash_table_add(titles, g_strdup(*t));
        return titles;
}

/* One title of before that after lacks, or NULL. */
static const char *lost_title(GHashTable *before, GHashTable *after) {
        GHashTableIter it;
        gpointer title;
        if (!before)
                return NULL;
        g_hash_table_iter_init(&it, before);
        while (g_hash_table_iter_next(&it, &title, NULL))
                if (!after || !g_hash_table_contains(after, title))
                        return title;
        return NULL;
}

static char *describe_next_boot(const NextBoot *nb) {
        if (!nb->cmdline || nb->recovery)
                return g_strdup_printf("%u of %u entries carry it; the next boot is not one of them (%s)",
                                       nb->entries_with, nb->entries, nb->cmdline ? nb->title : nb->error);
        return g_strdup_printf("the next boot (\"%s\" in /%s) has it; %u of %u entries carry it", nb->title,
                               nb->source, nb->entries_with, nb->entries);
}

bool bootloader_next_boot_has(const NextBoot *nb) {
        if (nb->cmdline && !nb->recovery)
                return !nb->lacks || !nb->lacks[0];
        /* The default boots another system, or a recovery entry (grub-reboot's, say),
         * which never gets the line: every kernel entry that would is what counts. */
        return nb->entries > 0 && nb->entries_with == nb->entries;
}

BootLineResult bootline_write(const Root *root, char *const *params, char **message) {
        g_autoptr(BootLoader) bl = bootloader_detect(root);
        g_autoptr(GKeyFile) kf = NULL;
        g_autoptr(GError) e = NULL;
        g_autofree char *current = NULL, *content = NULL, *why = NULL, *group = NULL, *line = NULL;
        g_autofree char *written = NULL, *next = NULL;
        g_autoptr(NextBoot) nb = NULL;
        g_autoptr(GHashTable) titles_before = NULL, titles_after = NULL;
        g_autofree char *cfg_before = NULL;
        size_t cfg_len = 0;
        mode_t cfg_mode = 0644;
        g_auto(GStrv) to_write = NULL;
        const char *lost;
        const char *rel;
        size_t len = 0;
        mode_t mode = 0644;
        bool new_group;
        int r;

        assert(params && params[0]);
        line = g_strjoinv(" ", (char **) params);
        if (bl->kind == BOOTLOADER_UNKNOWN) {
                *message = g_strdup_printf("no bootloader isolatord writes for: %s. Nothing was written; add to your "
                                           "bootloader's kernel command line by hand: %s", bl->why, line);
                return BOOTLINE_UNKNOWN;
        }
        if (state_read(root, &kf, &e) < 0) {
                *message = g_strdup(e->message);
                return BOOTLINE_REFUSED;
        }
        if (!kf) {
                g_autofree char *id = machine_identity(root);
                kf = g_key_file_new();
                g_key_file_set_string(kf, "Bootline", "MachineId", id);
        } else {
                g_autofree char *loader = g_key_file_get_string(kf, "Bootline", "Loader", NULL);
                if (loader && kind_from_string(loader) != bl->kind) {
                        *message = g_strdup_printf("isolatord wrote the boot line for %s, and this machine now boots "
                                                   "with %s: isoctl revert first", loader,
                                                   bootloader_kind_to_string(bl->kind));
                        return BOOTLINE_REFUSED;
                }
        }
        rel = bl->kind == BOOTLOADER_GRUB ? BOOTLOADER_GRUB_SNIPPET : BOOTLOADER_KERNEL_CMDLINE;
        group = file_group(rel);
        if (read_target(root, rel, &current, &len, &mode, message) < 0)
                return BOOTLINE_REFUSED;
        new_group = !g_key_file_has_group(kf, group);
        if (!new_group) {
                g_autoptr(GBytes) wrote = get_bytes(kf, group, "Wrote");
                if (!current || !same_bytes(wrote, current, len)) {
                        *message = g_strdup_printf("/%s changed since isolatord wrote it: isoctl revert (which leaves "
                                                   "it as it is and keeps its original in /%s), then write again",
                                                   rel, BOOTLOADER_STATE_DIR);
                        return BOOTLINE_REFUSED;
                }
        } else {
                /* The original, before the first write: a file of someone else's, an
                 * isolatord.cfg of an older installation, or its absence. */
                g_key_file_set_boolean(kf, group, "Existed", current != NULL);
                g_key_file_set_integer(kf, group, "Mode", current ? (int) mode : 0644);
                set_bytes(kf, group, "Original", current ? current : "", len);
        }

        if (bl->kind == BOOTLOADER_GRUB) {
                if (!grub_missing(root, params, current, &to_write, message))
                        return BOOTLINE_REFUSED;
                if (!to_write[0]) {
                        *message = g_strdup_printf("the next boot's default entry in /%s already has every parameter: "
                                                   "nothing written", BOOTLOADER_GRUB_CFG);
                        return BOOTLINE_OK;
                }
                content = bootline_grub_render(to_write);
                mode = 0644;
        } else {
                g_autofree char *text = current ? g_strndup(current, len) : NULL;
                g_autofree char *base = kernel_cmdline_base(root, kf, group, text);
                to_write = g_strdupv((char **) params);
                content = bootline_cmdline_merge(base, params);
                if (!current)
                        mode = 0644;
        }
        written = g_strjoinv(" ", to_write);
        set_bytes(kf, group, "Wrote", content, strlen(content));
        g_key_file_set_string(kf, "Bootline", "Loader", bootloader_kind_to_string(bl->kind));
        g_key_file_set_string(kf, "Bootline", "Params", written);
        g_key_file_set_int64(kf, "Bootline", "WrittenUsec", g_get_real_time());
        /* The original on disk before the file changes: nothing is ever lost. */
        if ((r = state_write(root, kf)) < 0) {
                *message = g_strdup_printf("cannot save the original of /%s in /%s: %s; nothing was written", rel,
                                           BOOTLOADER_STATE_DIR, g_strerror(-r));
                return BOOTLINE_FAILED;
        }
        titles_before = grub_titles(root, bl->kind);
        /* What update-grub made before: put back as it was should anything fail, rather
         * than made again by a run that may fail the same way. */
        if (bl->kind == BOOTLOADER_GRUB &&
            root_read_regular(root, BOOTLOADER_GRUB_CFG, GRUB_CFG_MAX, &cfg_before, &cfg_len, &cfg_mode) < 0)
                g_clear_pointer(&cfg_before, g_free);
        if ((r = root_replace_file(root, rel, content, strlen(content), mode)) < 0) {
                *message = g_strdup_printf("cannot write /%s: %s", rel, g_strerror(-r));
                goto undo;
        }
        if (run_bootloader(root, bl, &why) < 0) {
                *message = g_strdup_printf("%s; /%s is put back", why, rel);
                goto undo;
        }
        titles_after = grub_titles(root, bl->kind);
        if ((lost = lost_title(titles_before, titles_after))) {
                *message = g_strdup_printf("update-grub, run in isolatord-bootline's sandbox, dropped the entry \"%s\"; "
                                           "/%s is put back: write the line by hand and run update-grub yourself", lost,
                                           rel);
                goto undo;
        }
        nb = bootloader_next_boot(root, bl, to_write);
        if (!bootloader_next_boot_has(nb)) {
                g_autofree char *lacks = nb->lacks ? g_strjoinv(" ", nb->lacks) : NULL;
                *message = g_strdup_printf("%s ran, but the next boot's default entry %s%s%s; /%s is put back",
                                           tool_name(bl->kind), nb->cmdline ? "lacks " : "cannot be read: ",
                                           nb->cmdline ? lacks : nb->error, nb->cmdline ? " (another setting overrides it)" : "",
                                           rel);
                goto undo;
        }
        next = describe_next_boot(nb);
        *message = g_strdup_printf("wrote %s to /%s and ran %s: %s. Reboot to take it.", written, rel,
                                   tool_name(bl->kind), next);
        return BOOTLINE_OK;

undo:
        /* Everything as before: the file, the generated configuration, the state. */
        if ((r = restore_original(root, kf, group, rel)) < 0) {
                g_autofree char *m = *message;
                *message = g_strdup_printf("%s; putting /%s back failed too (%s): its original is kept in /%s", m, rel,
                                           g_strerror(-r), BOOTLOADER_STATE_DIR);
                return BOOTLINE_FAILED;
        }
        g_clear_pointer(&why, g_free);
        if (cfg_before) {
                if ((r = root_replace_file(root, BOOTLOADER_GRUB_CFG, cfg_before, cfg_len, cfg_mode)) < 0)
                        log_warning_errno(r, "cannot put /%s back: %m", BOOTLOADER_GRUB_CFG);
        } else if (run_bootloader(root, bl, &why) < 0)
                log_warning("running the bootloader's tool again after putting /%s back failed: %s", rel, why);
        if (new_group) {
                g_key_file_remove_group(kf, group, NULL);
                g_key_file_remove_key(kf, "Bootline", "Loader", NULL);
                g_key_file_remove_key(kf, "Bootline", "Params", NULL);
        }
        if (new_group && (r = root_remove(root, STATE_FILE)) < 0 && r != -ENOENT)
                log_warning_errno(r, "cannot remove /%s: %m", STATE_FILE);
        else if (!new_group && (r = state_write(root, kf)) < 0)
                log_warning_errno(r, "cannot update /%s: %m", STATE_FILE);
        return BOOTLINE_FAILED;
}

BootLineResult bootline_revert(const Root *root, char **message) {
        g_autoptr(GKeyFile) kf = NULL;
        g_autoptr(GError) e = NULL;
        g_autoptr(GString) said = g_string_new(NULL);
        g_autoptr(BootLoader) bl = bootloader_detect(root);
        g_auto(GStrv) groups = NULL;
        g_autofree char *why = NULL;
        unsigned restored = 0, changed = 0;
        int r;

        if (state_read(root, &kf, &e) < 0) {
                *message = g_strdup(e->message);
                return BOOTLINE_REFUSED;
        }
        if (!kf) {
                *message = g_strdup("isolatord wrote no boot line here: nothing to take back");
                return BOOTLINE_OK;
        }
        groups = g_key_file_get_groups(kf, NULL);
        for (char **g = groups; *g; g++) {
                const char *rel;
                g_autofree char *current = NULL, *err = NULL;
                g_autoptr(GBytes) wrote = NULL, original = NULL;
                size_t len;
                mode_t mode;

                if (!g_str_has_prefix(*g, "File "))
                        continue;
                rel = *g + strlen("File ");
                if (!g_str_equal(rel, BOOTLOADER_GRUB_SNIPPET) && !g_str_equal(rel, BOOTLOADER_KERNEL_CMDLINE)) {
                        g_string_append_printf(said, "%s/%s is no file isolatord writes: ignored", said->len ? "; " : "", rel);
                        g_key_file_remove_group(kf, *g, NULL);
                        continue;
                }
                wrote = get_bytes(kf, *g, "Wrote");
                original = get_bytes(kf, *g, "Original");
                if (read_target(root, rel, &current, &len, &mode, &err) < 0) {
                        g_string_append_printf(said, "%s%s", said->len ? "; " : "", err);
                        changed++;
                        continue;
                }
                bool existed = g_key_file_get_boolean(kf, *g, "Existed", NULL);
                bool as_written = current && same_bytes(wrote, current, len);
                bool as_original = existed ? current && same_bytes(original, current, len) : !current;
                if (as_written) {
                        if ((r = restore_original(root, kf, *g, rel)) < 0) {
                                g_string_append_printf(said, "%scannot put /%s back: %s", said->len ? "; " : "", rel,
                                                       g_strerror(-r));
                                changed++;
                                continue;
                        }
                        g_string_append_printf(said, "%s/%s %s", said->len ? "; " : "", rel,
                                               existed ? "has its original back" : "is removed");
                        restored++;
                } else if (!as_original) {
                        /* Someone changed it after isolatord: theirs now, never overwritten. */
                        g_autofree char *aside = g_strconcat(BOOTLOADER_STATE_DIR, "/", strrchr(rel, '/') + 1,
                                                             ".original", NULL);
                        if (existed && original)
                                (void) root_replace_file(root, aside, g_bytes_get_data(original, NULL),
                                                         g_bytes_get_size(original), 0600);
                        g_string_append_printf(said, "%s/%s changed since isolatord wrote it and is left as it is%s%s; "
                                               "remove isolatord's parameters from it by hand", said->len ? "; " : "",
                                               rel, existed ? ": its original is /" : "", existed ? aside : "");
                        changed++;
                        continue;
                }
                g_key_file_remove_group(kf, *g, NULL);
        }
        if (restored > 0) {
                if (bl->kind == BOOTLOADER_UNKNOWN)
                        g_string_append_printf(said, "; no bootloader isolatord knows is here to run again (%s)", bl->why);
                else if (run_bootloader(root, bl, &why) < 0) {
                        g_string_append_printf(said, "; %s: run %s by hand", why, tool_name(bl->kind));
                        changed++;
                } else
                        g_string_append_printf(said, "; %s ran", tool_name(bl->kind));
        }
        if (changed == 0) {
                r = root_remove(root, STATE_FILE);
                if (r < 0 && r != -ENOENT)
                        log_warning_errno(r, "cannot remove /%s: %m", STATE_FILE);
        } else if ((r = state_write(root, kf)) < 0)
                log_warning_errno(r, "cannot update /%s: %m", STATE_FILE);
        *message = g_strdup(said->len ? said->str : "nothing isolatord wrote was left to take back");
        return changed ? BOOTLINE_CHANGED : BOOTLINE_OK;
}

char *bootline_status_text(const Root *root) {
        g_autoptr(BootLoader) bl = bootloader_detect(root);
        g_autoptr(BootLineState) s = NULL;
        g_autoptr(GError) e = NULL;
        GString *out = g_string_new(NULL);

        g_string_append_printf(out, "Bootloader: %s%s%s\n", bootloader_kind_to_string(bl->kind), bl->why ? ": " : "",
                               bl->why ? bl->why : "");
        if (bootline_state_load(root, &s, &e) < 0)
                g_string_append_printf(out, "Written:    %s\n", e->message);
        else if (!s)
                g_string_append(out, "Written:    nothing\n");
        else {
                g_autofree char *params = s->params ? g_strjoinv(" ", s->params) : g_strdup("(unreadable)");
                g_autofree char *files = g_strjoinv(", /", s->files);
                g_string_append_printf(out, "Written:    %s (for %s, in /%s)\n", params, bootloader_kind_to_string(s->kind),
                                       files);
        }
        g_autoptr(NextBoot) nb = bootloader_next_boot(root, bl, s ? s->params : NULL);
        if (nb->cmdline)
                g_string_append_printf(out, "Next boot:  %s (\"%s\", /%s)\n", nb->cmdline, nb->title, nb->source);
        else
                g_string_append_printf(out, "Next boot:  unknown (%s)\n", nb->error);
        if (nb->configured)
                g_string_append_printf(out, "Configured: %s (/%s)\n", nb->configured, BOOTLOADER_KERNEL_CMDLINE);
        return g_string_free(out, false);
}
