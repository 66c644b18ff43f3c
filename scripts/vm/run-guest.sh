#!/usr/bin/env bash
# Boots burst's test guest under QEMU (TCG) with emulated NICs behind a vIOMMU and
# runs a command in it. Each NIC's wire is a pair of unix datagram sockets: the
# guest's side is QEMU's, the host's side is at SOCKDIR/<i>.host (one datagram = one
# Ethernet frame), for a test to bind and talk through.
#
# Usage: scripts/vm/run-guest.sh GUESTDIR SOCKDIR 'COMMAND' NIC...
#   GUESTDIR  made by build-initrd.sh (vmlinuz, initrd.img)
#   COMMAND   shell run in the guest's /burst, after the NICs are bound to vfio-pci
#   NIC       e1000e or virtio; NIC i sits at PCI 0000:00:0<3+i>.0, MAC 52:54:00:12:34:5<i>
# The guest's console is this script's stdin and stdout: a test can write lines for the
# command to `read`. QEMU's QMP monitor listens at SOCKDIR/qmp.sock (for `set_link nI
# off|on`: netdev nI is NIC i's wire). Prints the guest's console; exits with the
# command's exit status (99 if the guest did not report one). GUEST_TIMEOUT (seconds,
# default 300) bounds the run; GUEST_IOMMU=off boots without the vIOMMU (no IOMMU
# groups, so vfio-pci cannot take the NICs).
set -euo pipefail

guest=${1:?usage: run-guest.sh GUESTDIR SOCKDIR COMMAND NIC...}
sockdir=${2:?}
cmd=${3:?}
shift 3
command -v qemu-system-x86_64 >/dev/null || { echo "run-guest.sh: qemu-system-x86_64 missing: apt-get install qemu-system-x86" >&2; exit 1; }

mkdir -p "$sockdir"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

netargs=()
nics=()
i=0
for nic in "$@"; do
    slot=$((3 + i))
    bdf=$(printf '0000:00:%02x.0' "$slot")
    mac=$(printf '52:54:00:12:34:%02x' $((0x50 + i)))
    q="$sockdir/$i.qemu"
    h="$sockdir/$i.host"
    rm -f "$q"
    netargs+=(-netdev "dgram,id=n$i,local.type=unix,local.path=$q,remote.type=unix,remote.path=$h")
    case $nic in
        e1000e) netargs+=(-device "e1000e,netdev=n$i,mac=$mac,addr=$slot") ;;
        virtio) netargs+=(-device "virtio-net-pci,netdev=n$i,mac=$mac,addr=$slot,disable-legacy=on,iommu_platform=on") ;;
        *) echo "run-guest.sh: NIC '$nic' is e1000e or virtio" >&2; exit 2 ;;
    esac
    nics+=("$bdf")
    i=$((i + 1))
done

# The command and the NIC list, as a second cpio archive appended to the initrd.
mkdir -p "$work/root/burst"
printf '%s\n' "$cmd" > "$work/root/burst/run.sh"
printf '%s\n' "${nics[@]}" > "$work/root/burst/nics"
(cd "$work/root" && find . | cpio -o -H newc --quiet | gzip -1) > "$work/extra.img"
cat "$guest/initrd.img" "$work/extra.img" > "$work/initrd.img"

iommu=(-device intel-iommu,intremap=on,caching-mode=on,aw-bits=48)
iommu_append="intel_iommu=on iommu=pt"
if [ "${GUEST_IOMMU:-on}" = off ]; then
    iommu=()
    iommu_append="intel_iommu=off"
fi
rm -f "$sockdir/qmp.sock"

# no_timer_check: on a loaded host the emulated timer can miss the kernel's boot-time
# check through the remapped IO-APIC, which then panics ("timer doesn't work").
status=99
while IFS= read -r line; do
    printf '%s\n' "$line"
    case $line in BURST-EXIT\ *) status=${line#BURST-EXIT }; status=${status%$'\r'} ;; esac
done < <(timeout "${GUEST_TIMEOUT:-300}" qemu-system-x86_64 -accel tcg -machine q35,kernel-irqchip=split \
    -cpu max -m 1536 -smp 2 -nodefaults -display none -no-reboot -serial stdio \
    "${iommu[@]}" -qmp "unix:$sockdir/qmp.sock,server=on,wait=off" \
    "${netargs[@]}" \
    -kernel "$guest/vmlinuz" -initrd "$work/initrd.img" \
    -append "console=ttyS0 $iommu_append panic=-1 init_on_alloc=0 no_timer_check quiet" 2>&1)
exit "$status"
