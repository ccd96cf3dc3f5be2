# bash completion for isoctl(1): commands, options, and the groups of the running
# isolatord for "isoctl set GROUP".
_isoctl() {
        local cur prev words cword
        _init_completion 2>/dev/null || {
                cur=${COMP_WORDS[COMP_CWORD]}
                prev=${COMP_WORDS[COMP_CWORD - 1]}
                words=("${COMP_WORDS[@]}")
                cword=$COMP_CWORD
        }
        local commands="status verify apply reload set revert boot-params kernel-audit plan workloads irqs latency reset-latency sampler noise metrics watch"
        local options="--json --no-color --no-ask-password --help --version"
        local i command=
        for ((i = 1; i < cword; i++)); do
                case ${words[i]} in
                -*) ;;
                *) command=${words[i]}; break ;;
                esac
        done
        case $command in
        "")
                if [[ $cur == -* ]]; then
                        COMPREPLY=($(compgen -W "$options" -- "$cur"))
                else
                        COMPREPLY=($(compgen -W "$commands" -- "$cur"))
                fi
                ;;
        set)
                # The group names, from the daemon; nothing when it does not answer.
                if [[ $prev == set ]]; then
                        local groups
                        groups=$(isoctl status --json 2>/dev/null |
                                sed -n 's/.*"groups" *: *\[\(.*\)\].*/\1/p' |
                                grep -o '"name" *: *"[^"]*"' | sed 's/.*"\([^"]*\)"$/\1/')
                        COMPREPLY=($(compgen -W "$groups" -- "$cur"))
                fi
                ;;
        latency)
                COMPREPLY=($(compgen -W "--histogram --format=cyclictest --json" -- "$cur"))
                ;;
        sampler)
                [[ $prev == sampler ]] && COMPREPLY=($(compgen -W "start stop" -- "$cur"))
                ;;
        *)
                COMPREPLY=($(compgen -W "--json" -- "$cur"))
                ;;
        esac
}
complete -F _isoctl isoctl
