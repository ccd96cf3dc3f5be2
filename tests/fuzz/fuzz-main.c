/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Replays a corpus through the fuzz target without libFuzzer: every file named. */
#include <glib.h>
#include <stdint.h>
#include <stdio.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int main(int argc, char *argv[]) {
        for (int i = 1; i < argc; i++) {
                g_autofree char *data = NULL;
                size_t len;
                if (!g_file_get_contents(argv[i], &data, &len, NULL)) {
                        fprintf(stderr, "cannot read %s\n", argv[i]);
                        return 1;
                }
                LLVMFuzzerTestOneInput((const uint8_t *) data, len);
        }
        printf("%d passed, 0 failed\n", argc - 1);
        return 0;
}
