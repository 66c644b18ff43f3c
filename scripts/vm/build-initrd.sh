#!/usr/bin/env bash
# Builds burst's test guest: a Debian kernel (fetched with apt-get download, unpacked,
# not installed) and an initramfs of busybox, the VFIO modules, scripts/bind_vfio.sh,
# DPDK's dpdk-testpmd with its e1000/virtio PMDs (when installed), and the given
# binaries, each with the shared libraries it needs.
#
# Usage: scripts/vm/build-initrd.sh OUTDIR [BINARY...]
#   writes OUTDIR/vmlinuz and OUTDIR/initrd.img; binaries land in the guest's /burst/bin.
# Needs: apt-get (root), busybox-static, cpio, gzip, dpkg-deb; the kernel package is
# cached in OUTDIR/cache.
set -euo pipefail

out=${1:?usage: build-initrd.sh OUTDIR [BINARY...]}
shift
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
mkdir -p "$out/cache"
out=$(cd "$out" && pwd)

for tool in busybox cpio gzip dpkg-deb; do
    command -v "$tool" >/dev/null || { echo "build-initrd.sh: $tool missing: apt-get install busybox-static cpio gzip dpkg" >&2; exit 1; }
done
file /bin/busybox 2>/dev/null | grep -q "statically linked" || [ -x /bin/busybox ] || { echo "build-initrd.sh: need busybox-static" >&2; exit 1; }

# The kernel: the package linux-image-amd64 depends on, fetched once.
kpkg=${KERNEL_PKG:-$(apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-/ && !f {print $2; f=1}')}
[ -n "$kpkg" ] || { echo "build-initrd.sh: cannot resolve linux-image-amd64 (run apt-get update)" >&2; exit 1; }
if ! ls "$out/cache/$kpkg"_*.deb >/dev/null 2>&1; then
    (cd "$out/cache" && apt-get download "$kpkg" 2>/dev/null) || { echo "build-initrd.sh: apt-get download $kpkg failed" >&2; exit 1; }
fi
kroot="$out/cache/kernel"
if [ ! -d "$kroot" ]; then
    dpkg-deb -x "$out/cache/$kpkg"_*.deb "$kroot.tmp" && mv "$kroot.tmp" "$kroot"
fi
cp "$kroot"/boot/vmlinuz-* "$out/vmlinuz"

root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
mkdir -p "$root"/{bin,sbin,lib/modules,lib64,proc,sys,dev,tmp,burst/bin,usr/bin}
cp /bin/busybox "$root/bin/busybox"
cp "$here/init" "$root/init"
chmod +x "$root/init"
for m in irqbypass vfio vfio_virqfd vfio_iommu_type1 vfio-pci-core vfio-pci; do
    f=$(find "$kroot/lib/modules" -name "$m.ko*" | head -n1)
    [ -n "$f" ] || continue
    case $f in
        *.xz) xz -dc "$f" > "$root/lib/modules/$m.ko" ;;
        *.zst) zstd -dqc "$f" > "$root/lib/modules/$m.ko" ;;
        *) cp "$f" "$root/lib/modules/$m.ko" ;;
    esac
done
cp "$repo/scripts/bind_vfio.sh" "$root/burst/bin/bind_vfio.sh"

# Copies a file and the shared libraries it loads, at their own paths.
add_with_libs() {
    local f=$1 dest=$2
    mkdir -p "$root$(dirname "$dest")"
    cp -L "$f" "$root$dest"
    ldd "$f" 2>/dev/null | grep -o '/[^ ]*' | while read -r lib; do
        [ -e "$root$lib" ] && continue
        mkdir -p "$root$(dirname "$lib")"
        cp -L "$lib" "$root$lib"
    done
}

for b in "$@"; do
    add_with_libs "$b" "/burst/bin/$(basename "$b")"
done

# DPDK's testpmd and the plugins it loads from its PMD directory: the reference
# peer inside the guest.
if [ -x /usr/bin/dpdk-testpmd ]; then
    add_with_libs /usr/bin/dpdk-testpmd /usr/bin/dpdk-testpmd
    # glibc loads libgcc_s itself (pthread_cancel, unwinding): ldd does not list it.
    gcc_s=$(ldconfig -p | awk '/libgcc_s.so.1 .*x86-64/ && !f {print $NF; f=1}')
    [ -n "$gcc_s" ] && add_with_libs "$gcc_s" "$gcc_s"
    pmds=$(ls -d /usr/lib/x86_64-linux-gnu/dpdk/pmds-* 2>/dev/null | head -n1)
    if [ -n "$pmds" ]; then
        for p in bus_pci bus_vdev mempool_ring net_e1000 net_virtio; do
            for f in "$pmds"/librte_$p.so*; do
                # Keep the symlinks: a copy under each name would load twice.
                if [ -L "$f" ]; then
                    mkdir -p "$root$pmds" && cp -a "$f" "$root$f"
                else
                    add_with_libs "$f" "$f"
                fi
            done
        done
    fi
fi

(cd "$root" && find . | cpio -o -H newc --quiet | gzip -1) > "$out/initrd.img"
echo "guest: $out/vmlinuz $out/initrd.img ($(du -h "$out/initrd.img" | cut -f1))"
