#!/usr/bin/env python3
"""l3fwd_run.py - one timed l3fwd run (DPDK's or burst's), its forwarding rate.

  l3fwd_run.py pcap FILE
      writes the pcap both l3fwds replay: 1024 64-byte IPv4/UDP frames
      198.18.1.1:9 -> 198.18.1.0:9, TTL 64 (port 1 by DPDK's built-in LPM route
      198.18.1.0/24 and by its built-in EM flow of that 5-tuple)
  l3fwd_run.py dpdk --prefix P --seconds S -- CMD...
      runs DPDK's l3fwd (CMD) and reads port 1's TX counter through its
      telemetry socket (/var/run/dpdk/P/dpdk_telemetry.v2, "/ethdev/stats,1")
      after 2 s of warm-up and S s later
  l3fwd_run.py burst --seconds S -- CMD...
      runs burst's l3fwd (CMD, with -T 1) and reads the "Total packets sent"
      printouts as they come, the first one after the 2 s of warm-up and the
      last S s later (timed as they arrive)

Both stop the program with SIGINT and print "l3fwd_rate: <packets per second>"
and the counts; the program's own output goes to stderr. Exit code 1 if the
program failed or no rate could be measured.
"""

import json
import os
import signal
import socket
import struct
import subprocess
import sys
import threading
import time

WARMUP = 2.0


def frame():
    eth = bytes([2, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0x10, 0x08, 0x00])
    ip = bytearray([0x45, 0, 0, 50, 0, 1, 0, 0, 64, 17, 0, 0,
                    198, 18, 1, 1, 198, 18, 1, 0])
    s = sum(struct.unpack("!10H", bytes(ip)))
    while s > 0xffff:
        s = (s & 0xffff) + (s >> 16)
    ip[10:12] = struct.pack("!H", ~s & 0xffff)
    udp = struct.pack("!HHHH", 9, 9, 30, 0)
    f = eth + bytes(ip) + udp
    return f + bytes(64 - len(f))


def write_pcap(path, n=1024):
    f = frame()
    with open(path, "wb") as out:
        out.write(struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, 65535, 1))
        for i in range(n):
            out.write(struct.pack("<IIII", i, 0, len(f), len(f)))
            out.write(f)


def pump(stream, lines=None):
    """Copies the program's output to stderr, keeping (time, line) if asked."""
    for raw in iter(stream.readline, b""):
        line = raw.decode(errors="replace")
        sys.stderr.write(line)
        if lines is not None:
            lines.append((time.monotonic(), line))


def stop(proc):
    proc.send_signal(signal.SIGINT)
    try:
        return proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        return proc.wait()


def telemetry(path, cmd):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    s.connect(path)
    s.recv(16384)  # the greeting
    s.send(cmd.encode())
    reply = json.loads(s.recv(65536).decode())
    s.close()
    return reply


def run_dpdk(prefix, seconds, cmd):
    # DPDK's runtime directory: /var/run/dpdk for root, else $XDG_RUNTIME_DIR/dpdk.
    base = "/var/run/dpdk" if os.geteuid() == 0 else os.path.join(
        os.environ.get("XDG_RUNTIME_DIR", "/tmp"), "dpdk")
    sock = os.path.join(base, prefix, "dpdk_telemetry.v2")
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    t = threading.Thread(target=pump, args=(proc.stdout,), daemon=True)
    t.start()
    deadline = time.monotonic() + 60
    samples = []
    try:
        while proc.poll() is None and time.monotonic() < deadline:
            if os.path.exists(sock):
                break
            time.sleep(0.1)
        else:
            raise RuntimeError("no telemetry socket " + sock)
        start = time.monotonic()
        for at in (WARMUP, WARMUP + seconds):
            time.sleep(max(0.0, start + at - time.monotonic()))
            st = telemetry(sock, "/ethdev/stats,1")["/ethdev/stats"]
            samples.append((time.monotonic(), st["opackets"], st))
    except (OSError, RuntimeError, KeyError, ValueError) as e:
        print(f"l3fwd_run: {e}", file=sys.stderr)
    rc = stop(proc)
    t.join(5)
    return rc, samples


def run_burst(seconds, cmd):
    lines = []
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    t = threading.Thread(target=pump, args=(proc.stdout, lines), daemon=True)
    t.start()
    deadline = time.monotonic() + 60
    while proc.poll() is None and time.monotonic() < deadline:
        if any("Total packets sent" in l for _, l in lines):
            break
        time.sleep(0.05)
    start = time.monotonic()
    time.sleep(WARMUP + seconds + 0.5)
    rc = stop(proc)
    t.join(5)
    sent = [(at, int(l.split(":")[1])) for at, l in lines
            if l.startswith("Total packets sent:") and start + WARMUP <= at]
    # Printouts after the signal are left out; the first and last of the window count.
    sent = [s for s in sent if s[0] <= start + WARMUP + seconds + 0.5]
    samples = [(at, v, None) for at, v in (sent[:1] + sent[-1:])] if len(sent) >= 2 else []
    return rc, samples


def main():
    args = sys.argv[1:]
    if args[:1] == ["pcap"]:
        write_pcap(args[1])
        return 0
    side = args[0]
    opts = {}
    i = 1
    while args[i] != "--":
        opts[args[i]] = args[i + 1]
        i += 2
    cmd = args[i + 1:]
    seconds = float(opts.get("--seconds", "5"))
    if side == "dpdk":
        rc, samples = run_dpdk(opts["--prefix"], seconds, cmd)
    else:
        rc, samples = run_burst(seconds, cmd)
    if len(samples) != 2 or samples[1][0] <= samples[0][0]:
        print(f"l3fwd_run: no rate measured (exit {rc})", file=sys.stderr)
        return 1
    (t0, v0, _), (t1, v1, _) = samples
    rate = (v1 - v0) / (t1 - t0)
    print(f"l3fwd_rate: {rate:.0f} pps ({v1 - v0} packets in {t1 - t0:.2f} s; exit {rc})")
    return 0 if rc in (0, -signal.SIGINT) else 1


if __name__ == "__main__":
    sys.exit(main())
