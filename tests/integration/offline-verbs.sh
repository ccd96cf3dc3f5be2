#!/usr/bin/env bash
# isolatord's offline verbs, run as a user runs them, on generated fake machines.
set -euo pipefail

: "${ISOLATORD:?path to the isolatord binary}" "${ISOLATORD_FIXTURES:?folder of generated fake machines}"
work=$(mktemp -d "${TMPDIR:-/tmp}/isolatord-offline-XXXXXX")
trap 'rm -rf "$work"' EXIT

. "$(dirname "$0")/lib-test.sh"

# The shared fake machines are only read here.
for m in ryzen-7700x mini-2cpu server-256; do
  ln -s "$ISOLATORD_FIXTURES/$m" "$work/$m"
done
conf="$work/empty.conf" # empty: the built-in defaults (the seed's partition), whatever /etc holds
: >"$conf"

# --check-config: the seed's partition is right for the 7700X...
expect_exit 0 "check-config on the 7700X" -- "$ISOLATORD" --root "$work/ryzen-7700x" --config "$conf" --check-config
expect_in "7700X table" "hqplayer      3-7,11-15  10     hqplayer.slice"
expect_in "7700X verdict" "The partition is valid (0 warnings)."

# ...and wrong for the 2-CPU machine, naming the missing CPUs.
expect_exit 1 "check-config on the 2-CPU machine" -- "$ISOLATORD" --root "$work/mini-2cpu" --config "$conf" --check-config
expect_in "missing housekeeping CPU" "housekeeping: CPU 8 does not exist on this machine, which has CPUs 0-1"
expect_in "missing diretta CPUs" "group diretta: CPUs 2,9-10 do not exist"
expect_in "missing hqplayer CPUs" "group hqplayer: CPUs 3-7,11-15 do not exist"
expect_in "mini verdict" "The partition is invalid: 3 errors, 0 warnings."

# Warnings alone do not fail it.
expect_exit 0 "check-config on the server" -- "$ISOLATORD" --root "$work/server-256" --config "$conf" --check-config
expect_in "server warning" "warning [smt-split]"

# A broken config file: exit 1 with the file, section, key and position.
printf '[Group hqplayer]\nCPUs=7-3\n' >"$work/bad.conf"
expect_exit 1 "broken config" -- "$ISOLATORD" --root "$work/ryzen-7700x" --config "$work/bad.conf" --check-config
expect_in "broken config names the key" "$work/bad.conf: [Group hqplayer] CPUs \"7-3\" is not a valid CPU list: at position 1"
expect_exit 1 "missing --config" -- "$ISOLATORD" --root "$work/ryzen-7700x" --config "$work/nope.conf" --check-config
expect_in "missing config named" "cannot read $work/nope.conf"

# Drop-ins beside the file.
mkdir -p "$work/good.conf.d"
printf '[Partition]\nHousekeeping=0\n[Group audio]\nCPUs=1\n' >"$work/good.conf"
printf '[Group audio]\nCPUs=1,3\n' >"$work/good.conf.d/50-more.conf"
expect_exit 1 "drop-in applied" -- "$ISOLATORD" --root "$work/mini-2cpu" --config "$work/good.conf" --check-config
expect_in "drop-in value used" "group audio: CPU 3 does not exist"

# --plan writes a config that --check-config accepts on the same machine.
for m in ryzen-7700x mini-2cpu server-256; do
  checks=$((checks + 1))
  "$ISOLATORD" --root "$work/$m" --config "$conf" --plan >"$work/plan-$m.conf" || fail "plan on $m: exit $?"
  expect_exit 0 "planned config valid on $m" -- "$ISOLATORD" --root "$work/$m" --config "$work/plan-$m.conf" --check-config
done
expect_exit 0 "plan on the 7700X" -- "$ISOLATORD" --root "$work/ryzen-7700x" --config "$conf" --plan
expect_in "7700X plan is the seed's" "CPUs=1-2,9-10"

# --boot-params: the seed guide's own command line lacks kthread_cpus and uses io_queue.
expect_exit 1 "boot-params on the 7700X" -- "$ISOLATORD" --root "$work/ryzen-7700x" --config "$conf" --boot-params
expect_in "isolcpus differs" "isolcpus                    managed_irq,domain,1-7,9-15  io_queue,1-7,9-15  different"
expect_in "kthread_cpus missing" "kthread_cpus                0,8"
expect_in "line to paste" "isolcpus=managed_irq,domain,1-7,9-15 nohz_full=1-7,9-15 rcu_nocbs=1-7,9-15 irqaffinity=0,8 kthread_cpus=0,8 skew_tick=1 nosoftlockup"
expect_in "count" "2 required settings missing or different."
expect_exit 1 "boot-params refuses an invalid partition" -- "$ISOLATORD" --root "$work/mini-2cpu" --config "$conf" --boot-params
expect_in "refusal says why" "The partition is invalid; boot parameters for it would be wrong."

# --kernel-audit on the three kernels.
expect_exit 0 "kernel-audit on the RT kernel" -- "$ISOLATORD" --root "$work/ryzen-7700x" --kernel-audit
expect_in "RT kernel ok" "0 required options missing or different."
expect_exit 1 "kernel-audit on Debian's kernel" -- "$ISOLATORD" --root "$work/mini-2cpu" --kernel-audit
expect_in "reads /boot" "boot/config-6.1.0-28-amd64"
expect_in "HZ different" "HZ               >=1000  250      different"
expect_exit 1 "kernel-audit on the server" -- "$ISOLATORD" --root "$work/server-256" --kernel-audit
expect_in "server count" "2 required options missing or different."
mkdir -p "$work/empty"
expect_exit 1 "kernel-audit without a config" -- "$ISOLATORD" --root "$work/empty" --kernel-audit
expect_in "says where it looked" "no kernel configuration found"

expect_exit 0 "kconfig fragment" -- "$ISOLATORD" --kconfig-fragment
expect_in "fragment" "CONFIG_PREEMPT_RT=y"

# Usage errors are exit 2.
expect_exit 2 "unknown option" -- "$ISOLATORD" --frobnicate
expect_exit 2 "two verbs" -- "$ISOLATORD" --plan --check-config
expect_exit 2 "stray argument" -- "$ISOLATORD" --check-config extra
expect_exit 0 "help" -- "$ISOLATORD" --help
expect_in "help names the verbs" "--boot-params"

finish
