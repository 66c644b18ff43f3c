#!/bin/sh
# bind_vfio.sh: prepare a machine for burst, like DPDK's dpdk-devbind.py and
# dpdk-hugepages.py in one POSIX-shell script.
#
#   bind_vfio.sh status                     network devices, drivers, IOMMU groups
#   bind_vfio.sh bind [--force] BDF...      give devices to vfio-pci
#   bind_vfio.sh unbind BDF...              give devices back to their kernel driver
#   bind_vfio.sh hugepages N [--size 2M|1G] [--dir DIR]
#                                           reserve N hugepages, mount hugetlbfs
#
# BDF is a PCI address, 0000:00:02.0 or 00:02.0. Must run as root except `status`.
set -eu

SYSFS=${SYSFS:-/sys}
PCI=$SYSFS/bus/pci

die() { echo "bind_vfio.sh: $*" >&2; exit 1; }
need_root() { [ "$(id -u)" = 0 ] || die "$1 needs root"; }

# Normalise a BDF to its full domain:bus:dev.fn form.
full_bdf() {
    case $1 in
        ????:??:??.?) echo "$1" ;;
        ??:??.?) echo "0000:$1" ;;
        *) die "'$1' is not a PCI address (expected 0000:00:02.0 or 00:02.0)" ;;
    esac
}

dev_driver() { [ -e "$PCI/devices/$1/driver" ] && basename "$(readlink "$PCI/devices/$1/driver")" || echo "-"; }
dev_group() { [ -e "$PCI/devices/$1/iommu_group" ] && basename "$(readlink "$PCI/devices/$1/iommu_group")" || echo "-"; }
dev_ids() { echo "$(sed 's/^0x//' "$PCI/devices/$1/vendor"):$(sed 's/^0x//' "$PCI/devices/$1/device")"; }

iommu_present() { [ -n "$(ls "$SYSFS/kernel/iommu_groups" 2>/dev/null)" ]; }

cmd_status() {
    printf '%-14s %-10s %-6s %-12s %-12s %s\n' BDF ID CLASS DRIVER IOMMU_GROUP INTERFACES
    for d in "$PCI"/devices/*; do
        [ -e "$d/class" ] || continue
        class=$(cat "$d/class")
        case $class in 0x02*) ;; *) continue ;; esac
        bdf=$(basename "$d")
        ifs=$(for n in $(dev_netdirs "$bdf"); do basename "$n"; done | tr '\n' ' ')
        printf '%-14s %-10s %-6s %-12s %-12s %s\n' "$bdf" "$(dev_ids "$bdf")" \
            "${class#0x}" "$(dev_driver "$bdf")" "$(dev_group "$bdf")" "${ifs:--}"
    done
    if iommu_present; then echo "IOMMU: enabled"; else echo "IOMMU: none (no /sys/kernel/iommu_groups entries): vfio-pci cannot be used"; fi
    if [ -d "$SYSFS/module/vfio_pci" ]; then echo "vfio-pci: loaded"; else echo "vfio-pci: not loaded"; fi
}

# The device's network interfaces (virtio's sit one level down, under virtioN/).
dev_netdirs() { ls -d "$PCI/devices/$1"/net/* "$PCI/devices/$1"/*/net/* 2>/dev/null || true; }

# True if any of the device's network interfaces is up (in use by the kernel).
dev_active() {
    for n in $(dev_netdirs "$1"); do
        [ -e "$n/operstate" ] || continue
        flags=$(cat "$n/flags")
        [ $((flags & 1)) = 1 ] && return 0
    done
    return 1
}

cmd_bind() {
    need_root bind
    force=0
    [ "${1:-}" = "--force" ] && { force=1; shift; }
    [ $# -gt 0 ] || die "bind: name at least one device (see: bind_vfio.sh status)"
    iommu_present || die "no IOMMU: boot with intel_iommu=on (or amd_iommu=on) and enable VT-d/AMD-Vi; vfio-pci needs it"
    [ -d "$SYSFS/module/vfio_pci" ] || modprobe vfio-pci || die "cannot load vfio-pci (modprobe vfio-pci failed)"
    for b in "$@"; do
        bdf=$(full_bdf "$b")
        [ -d "$PCI/devices/$bdf" ] || die "no PCI device $bdf"
        drv=$(dev_driver "$bdf")
        [ "$drv" = vfio-pci ] && { echo "$bdf already bound to vfio-pci"; continue; }
        if [ "$force" = 0 ] && dev_active "$bdf"; then
            die "$bdf has an active interface ($(for n in $(dev_netdirs "$bdf"); do basename "$n"; done | tr '\n' ' ')): bring it down first or pass --force"
        fi
        [ "$drv" != - ] && echo "$bdf" > "$PCI/devices/$bdf/driver/unbind"
        echo vfio-pci > "$PCI/devices/$bdf/driver_override"
        echo "$bdf" > "$PCI/drivers_probe"
        [ "$(dev_driver "$bdf")" = vfio-pci ] || die "$bdf did not bind to vfio-pci (dmesg may say why)"
        echo "$bdf ($(dev_ids "$bdf")) bound to vfio-pci, IOMMU group $(dev_group "$bdf"): /dev/vfio/$(dev_group "$bdf")"
    done
}

cmd_unbind() {
    need_root unbind
    [ $# -gt 0 ] || die "unbind: name at least one device"
    for b in "$@"; do
        bdf=$(full_bdf "$b")
        [ -d "$PCI/devices/$bdf" ] || die "no PCI device $bdf"
        [ "$(dev_driver "$bdf")" != - ] && echo "$bdf" > "$PCI/devices/$bdf/driver/unbind"
        echo > "$PCI/devices/$bdf/driver_override"
        echo "$bdf" > "$PCI/drivers_probe"
        echo "$bdf now on driver $(dev_driver "$bdf")"
    done
}

cmd_hugepages() {
    need_root hugepages
    n=${1:-}
    case $n in ''|*[!0-9]*) die "hugepages: give a page count, e.g. hugepages 512" ;; esac
    shift
    size=2M
    dir=
    while [ $# -gt 0 ]; do
        case $1 in
            --size) size=${2:-}; shift 2 ;;
            --dir) dir=${2:-}; shift 2 ;;
            *) die "hugepages: unknown option $1" ;;
        esac
    done
    case $size in
        2M|2m|2048k|2048kB) kb=2048 ;;
        1G|1g|1048576k|1048576kB) kb=1048576 ;;
        *) die "hugepages: --size is 2M or 1G, not $size" ;;
    esac
    pool=$SYSFS/kernel/mm/hugepages/hugepages-${kb}kB
    [ -d "$pool" ] || die "this kernel/CPU has no ${size} hugepages ($pool missing)"
    echo "$n" > "$pool/nr_hugepages"
    got=$(cat "$pool/nr_hugepages")
    [ "$got" -ge "$n" ] || die "asked for $n ${size} hugepages, the kernel gave $got (memory fragmented? try at boot: hugepages=$n)"
    [ -n "$dir" ] || { [ $kb = 2048 ] && dir=/dev/hugepages || dir=/dev/hugepages1G; }
    mkdir -p "$dir"
    if ! grep -q " $dir hugetlbfs " /proc/mounts; then
        mount -t hugetlbfs -o pagesize=$size nodev "$dir" || die "cannot mount hugetlbfs on $dir"
    fi
    echo "$got ${size} hugepages reserved ($(cat "$pool/free_hugepages") free), hugetlbfs on $dir"
}

cmd=${1:-}
[ $# -gt 0 ] && shift
case $cmd in
    status) cmd_status ;;
    bind) cmd_bind "$@" ;;
    unbind) cmd_unbind "$@" ;;
    hugepages) cmd_hugepages "$@" ;;
    ''|-h|--help) sed -n '2,/^set/p' "$0" | grep '^#' | sed 's/^# \{0,1\}//' ;;
    *) die "unknown command '$cmd' (status, bind, unbind, hugepages)" ;;
esac
