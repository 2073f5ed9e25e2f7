# bash completion for vstunadm(1). Install: source this file, or copy it to
# /usr/share/bash-completion/completions/vstunadm. Needs nothing but bash.
# After -t/-u it offers the services the director has now (vstunadm -S -n, 2 s at most).

_vstunadm_services() {
  # $1: -t or -u. Prints VIP:PORT of the running director's services of that protocol.
  local control=() w i
  for ((i = 1; i < ${#COMP_WORDS[@]}; i++)); do
    [[ ${COMP_WORDS[i]} == --control ]] && control=(--control "${COMP_WORDS[i + 1]}")
  done
  timeout 2 vstunadm "${control[@]}" -S -n 2>/dev/null | while read -r w proto addr _; do
    [[ $w == -A && $proto == "$1" ]] && printf '%s\n' "$addr"
  done
}

_vstunadm() {
  local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD - 1]} first=${COMP_WORDS[1]}
  local commands='-A -E -D -a -e -d -L -l -C -Z -S -R --set --queues -h --help explain counters reload announce drain undrain import-keepalived'
  local schedulers='rr wrr lc wlc sed nq sh dh lblc lblcr fo ovf mh twos'
  local flags='sh-fallback sh-port mh-fallback mh-port'
  COMPREPLY=()

  if [[ $first == import-keepalived ]]; then
    case $prev in
      -o | --output) COMPREPLY=($(compgen -f -- "$cur")) ;;
      *)
        if [[ $cur == -* ]]; then COMPREPLY=($(compgen -W '-o --output -q --quiet -h --help' -- "$cur"))
        else COMPREPLY=($(compgen -f -- "$cur")); fi
        ;;
    esac
    return 0
  fi

  case $prev in
    -s | --scheduler) COMPREPLY=($(compgen -W "$schedulers" -- "$cur")); return 0 ;;
    -b | --sched-flags) COMPREPLY=($(compgen -W "$flags" -- "$cur")); return 0 ;;
    -t | --tcp-service) COMPREPLY=($(compgen -W "$(_vstunadm_services -t)" -- "$cur")); return 0 ;;
    -u | --udp-service) COMPREPLY=($(compgen -W "$(_vstunadm_services -u)" -- "$cur")); return 0 ;;
    --control) COMPREPLY=($(compgen -f -- "$cur")); return 0 ;;
    -w | --weight | -x | --u-threshold | -y | --l-threshold | -p | --persistent | -M | --netmask | -r | --real-server | --client | --set) return 0 ;;
  esac

  if ((COMP_CWORD == 1)); then
    COMPREPLY=($(compgen -W "$commands --control" -- "$cur"))
    return 0
  fi

  local opts
  case $first in
    -A | --add-service | -E | --edit-service) opts='-t -u -s -b -p -M -o' ;;
    -D | --delete-service) opts='-t -u' ;;
    -a | --add-server | -e | --edit-server) opts='-t -u -r -i -w -x -y' ;;
    -d | --delete-server) opts='-t -u -r' ;;
    -L | -l | --list) opts='-t -u -n -c --stats --rate --thresholds --exact --persistent-conn --tun-info --timeout --sort --nosort --json' ;;
    -S | --save) opts='-n --json' ;;
    -Z | --zero) opts='-t -u' ;;
    explain) opts='-t -u --client --json' ;;
    counters | announce | --queues) opts='--json' ;;
    --control) COMPREPLY=($(compgen -W "$commands" -- "$cur")); return 0 ;;
    *) opts='' ;;
  esac
  COMPREPLY=($(compgen -W "$opts --control" -- "$cur"))
  return 0
}

complete -F _vstunadm vstunadm
