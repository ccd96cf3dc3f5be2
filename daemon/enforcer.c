/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "enforcer.h"

const EnforcerOps *const enforcers[] = {
        &enforcer_boot_params,
        &enforcer_kernel_config,
        NULL,
};
