/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stdbool.h>
#include <systemd/sd-bus.h>

/* Who may change things: everything that is not a read goes through auth_check() before
 * any state changes. Root (the caller's EUID as the bus reports it, never /proc) may;
 * anyone else may when polkit, where it runs on the bus, grants the action
 * org.rtaudio.isolator.manage. polkit is asked asynchronously: the method returns and
 * is dispatched again with the original message once the answer arrives. */
#define AUTH_POLKIT_ACTION "org.rtaudio.isolator.manage"

typedef struct Auth Auth;

Auth *auth_new(sd_bus *bus);
Auth *auth_free(Auth *a);

/* Whether the caller's EUID, as the bus reports it, is 0. */
bool auth_caller_is_root(sd_bus_message *m);

/* 1: go ahead. 0: pending; return 0 from the method and it will be called again.
 * Negative: refused or failed, with error set (org.rtaudio.Isolator1.Error.NotAuthorized). */
int auth_check(Auth *a, sd_bus_message *m, sd_bus_message_handler_t handler, void *userdata,
               sd_bus_error *error);
