# shellcheck shell=bash
# Shared by the netns-* scripts (sourced). The test bed: network namespaces lth-c (coordinator) and lth-w1 … lth-wN
# (workers), each with one interface eth0 on 10.213.0.0/24, cabled by veth pairs to a bridge br0 that lives in a
# namespace of its own, lth-sw. Nothing is added to the root namespace: no bridge, no route, no NAT.
# Addresses: lth-c 10.213.0.1, lth-wK 10.213.0.(10+K).
# Exit status 77 (the automake/ctest "skipped" code) means: network namespaces cannot be made here; the reason
# is printed on stderr.

SKIP=77
# LTH_NETNS_BED=NAME (default lth) names a second, independent test bed: NAME-c, NAME-w1 …, NAME-sw, so that
# scripts/chaos (bed "lthchaos") and the integration tests (bed "lth") never remove each other's namespaces.
bed=${LTH_NETNS_BED:-lth}
if ! [[ $bed =~ ^[a-z][a-z0-9]{0,7}$ ]]; then
    echo "${prog:-netns}: LTH_NETNS_BED must be 1-8 lower-case letters and digits, got '$bed'" >&2
    exit 2
fi
switch_ns=$bed-sw
subnet_prefix=10.213.0

skip() {
    echo "${prog:-netns}: skipped: $*" >&2
    exit "$SKIP"
}

die() {
    echo "${prog:-netns}: $*" >&2
    exit 1
}

# require_netns: exits 77 with the reason unless this process may create network namespaces.
require_netns() {
    command -v ip >/dev/null 2>&1 || skip "the 'ip' command is missing (apt-get install iproute2)"
    [ "$(id -u)" -eq 0 ] || skip "creating network namespaces needs root (run as root or under sudo)"
    local probe="lth-probe-$$" err
    if ! err=$(ip netns add "$probe" 2>&1); then
        skip "'ip netns add' is not permitted in this environment: $err"
    fi
    if ! err=$(ip -n "$probe" link add lth-probe type bridge 2>&1); then
        ip netns del "$probe" 2>/dev/null
        skip "cannot create a bridge inside a network namespace: $err"
    fi
    ip netns del "$probe"
}

# address NS: the IPv4 address of a test-bed host (lth-c or lth-wK).
address() {
    case $1 in
    "$bed-c") echo "$subnet_prefix.1" ;;
    "$bed"-w[0-9]*)
        local k=${1#"$bed"-w}
        if ! [[ $k =~ ^[0-9]+$ ]] || [ "$k" -lt 1 ] || [ "$k" -gt 200 ]; then die "no such test-bed host '$1'"; fi
        echo "$subnet_prefix.$((10 + k))"
        ;;
    *) die "no such test-bed host '$1' ($bed-c, $bed-w1 … $bed-wN)" ;;
    esac
}

# bed_namespaces: the test bed's namespaces that exist now, hosts first, the switch last.
bed_namespaces() {
    ip netns list 2>/dev/null | awk '{print $1}' | grep -E "^$bed-(c|w[0-9]+)\$" | sort -V
    if ip netns list 2>/dev/null | awk '{print $1}' | grep -qx "$switch_ns"; then echo "$switch_ns"; fi
}

# require_host NS: exits 1 unless NS is an existing test-bed host.
require_host() {
    address "$1" >/dev/null
    ip netns list 2>/dev/null | awk '{print $1}' | grep -qx -- "$1" || die "test-bed host '$1' does not exist (run netns-up first)"
}
