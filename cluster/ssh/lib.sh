# shellcheck shell=bash
# Shared by workers-up, workers-down and workers-status: the hosts file, the ssh command, the remote folder.
# Sourced, not run; the sourcing script sets prog (its name, for messages).
# shellcheck disable=SC2034  # remote_dir, log_dir, names, slots are used by the sourcing scripts

# The ssh command, split into words: override with e.g. SSH="ssh -p 2222 -i ~/.ssh/cluster".
# BatchMode=yes: never stop to ask for a password or a host-key confirmation (fail instead).
read -r -a ssh_cmd <<<"${SSH:-ssh}"
ssh_cmd+=(-o BatchMode=yes)
if [ -n "${SSH_CONNECT_TIMEOUT:-10}" ]; then ssh_cmd+=(-o "ConnectTimeout=${SSH_CONNECT_TIMEOUT:-10}"); fi

# Folder on each worker host, relative to the remote home unless absolute: bin/, keys/, data/, worker.pid, worker.log.
remote_dir="${LTH_REMOTE_DIR:-.lth-worker}"
# Local folder for one transcript per host of what these scripts did there.
log_dir="${LTH_LOG_DIR:-logs}"

die() {
    echo "${prog:-lth}: $*" >&2
    exit 2
}

# parse_hosts FILE: fills hosts[], names[], slots[] from lines "host [slots]"; '#' starts a comment.
# A host may be user@host; its worker name is the host part with other characters than A-Z a-z 0-9 . _ - made '-'.
parse_hosts() {
    local file=$1 line number=0 host count extra name
    [ -f "$file" ] || die "hosts file '$file' not found"
    hosts=() names=() slots=()
    while IFS= read -r line || [ -n "$line" ]; do
        number=$((number + 1))
        line=${line%%#*}
        host='' count='' extra=''
        read -r host count extra <<<"$line" || true
        [ -n "$host" ] || continue
        [ -z "$extra" ] || die "$file:$number: expected 'host [slots]', found '$line'"
        if [ -n "$count" ] && ! [[ $count =~ ^[1-9][0-9]*$ ]]; then
            die "$file:$number: slots must be a positive whole number, found '$count'"
        fi
        name=${host##*@}
        name=${name//[^A-Za-z0-9._-]/-}
        name=${name#.}
        hosts+=("$host") names+=("$name") slots+=("$count")
    done <"$file"
    [ ${#hosts[@]} -gt 0 ] || die "$file: no hosts (one per line: 'host [slots]')"
}

# remote HOST SCRIPT ARGS...: runs the bash SCRIPT on HOST with ARGS. The script goes over ssh's standard input
# (bash -s), so the remote login shell only has to run "bash -s -- ARGS" (sh, bash, zsh, even csh can).
remote() {
    local host=$1 script=$2
    shift 2
    local quoted
    quoted=$(printf ' %q' "$@")
    "${ssh_cmd[@]}" "$host" "bash -s --$quoted" <<<"$script"
}

# remote_put HOST LOCAL_FILE REMOTE_PATH MODE: copies a file over the ssh connection itself (no scp/rsync needed),
# to a temporary name first and renamed into place, so a running binary is never overwritten in place.
remote_put() {
    local host=$1 file=$2 path=$3 mode=$4
    # shellcheck disable=SC2016  # expanded by the remote shell
    local script='umask 077 && mkdir -p "$(dirname "$1")" && cat >"$1.tmp.$$" && chmod "$2" "$1.tmp.$$" && mv -f "$1.tmp.$$" "$1"'
    "${ssh_cmd[@]}" "$host" "sh -c '$script' lth-put $(printf %q "$path") $mode" <"$file"
}

# for_each_host FUNCTION: runs FUNCTION INDEX for every host in parallel; each call prints one summary line
# and appends its transcript to $log_dir/<name>.log. Prints the summary lines in hosts-file order and
# returns 1 if any call failed.
for_each_host() {
    local fn=$1 i status=0 work
    mkdir -p "$log_dir"
    work=$(mktemp -d)
    for i in "${!hosts[@]}"; do
        (
            {
                echo "== $(date '+%Y-%m-%d %H:%M:%S') $prog ${hosts[$i]}"
                if "$fn" "$i" >"$work/$i.line"; then echo 0 >"$work/$i.rc"; else echo 1 >"$work/$i.rc"; fi
                cat "$work/$i.line"
            } >>"$log_dir/${names[$i]}.log" 2>&1
        ) &
    done
    wait
    for i in "${!hosts[@]}"; do
        printf '%-24s %s\n' "${hosts[$i]}" "$(tail -n 1 "$work/$i.line" 2>/dev/null || true)"
        [ "$(cat "$work/$i.rc" 2>/dev/null)" = 0 ] || status=1
    done
    rm -rf "$work"
    return "$status"
}
