/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stdbool.h>
#include <sys/types.h>
#include <systemd/sd-bus.h>

/* Who may change things: everything that is not a read goes through auth_check() before
 * any state changes. Root (the caller's EUID as the bus reports it, never /proc) may;
 * anyone else may when polkit, where it runs on the bus, grants the call's action:
 * org.rtaudio.isolator.manage for what the running system has (undone by a revert or a
 * reboot; Revert also takes back a boot line isolatord wrote), org.rtaudio.isolator.boot-line
 * to write one (asked every time: a grant of manage, to an audio user's tray say, is not
 * one to write the bootloader's files). polkit is asked asynchronously: the method
 * returns and is dispatched again with the original message once the answer arrives.
 * The action is one of these literals: a pending check keeps the pointer. */
#define AUTH_ACTION_MANAGE "org.rtaudio.isolator.manage"
#define AUTH_ACTION_BOOT_LINE "org.rtaudio.isolator.boot-line"

typedef struct Auth Auth;

Auth *auth_new(sd_bus *bus);
Auth *auth_free(Auth *a);

/* The caller's EUID as the bus reports it (never /proc). 1: in *ret. 0: the bus daemon
 * is being asked; return 1 from the method, and again(m, userdata) is called with m once
 * it answers (this then returns 1 at once). Negative errno: failed.
 *
 * The bus daemon fixes a connection's credentials when it connects and never gives its
 * unique name to another, so the answer is kept per unique name until the caller leaves
 * the bus. It is asked asynchronously: a synchronous question would hold the loop for a
 * round trip through a bus daemon that a user's flood of new connections keeps busy. */
int auth_caller_uid(Auth *a, sd_bus_message *m, sd_bus_message_handler_t again, void *userdata, uid_t *ret);

/* 1: go ahead. 0: pending (the bus daemon is asked who the caller is, or polkit whether
 * it may); return 0 from the method and it will be called again.
 * Negative: refused or failed, with error set (org.rtaudio.Isolator1.Error.NotAuthorized). */
int auth_check(Auth *a, sd_bus_message *m, const char *action, sd_bus_message_handler_t handler, void *userdata,
               sd_bus_error *error);
