"""A DNS server for tests: answers A queries for names under a suffix with one address, NXDOMAIN otherwise.

Usage: tiny_dns.py LISTEN_ADDR SUFFIX ANSWER_ADDR
"""
import socket
import struct
import sys

LISTEN, SUFFIX, ANSWER = sys.argv[1], sys.argv[2].lower().strip("."), sys.argv[3]


def parse_name(data, at):
    labels = []
    while data[at]:
        n = data[at]
        labels.append(data[at + 1:at + 1 + n].decode("ascii", "replace"))
        at += 1 + n
    return ".".join(labels).lower(), at + 1


sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sock.bind((LISTEN, 53))
print("ready", flush=True)
while True:
    data, peer = sock.recvfrom(512)
    try:
        (qid, _flags, qd) = struct.unpack("!HHH", data[:6])
        name, end = parse_name(data, 12)
        qtype, _qclass = struct.unpack("!HH", data[end:end + 4])
        question = data[12:end + 4]
        ours = name == SUFFIX or name.endswith("." + SUFFIX)
        if not ours:
            sock.sendto(struct.pack("!HHHHHH", qid, 0x8183, 1, 0, 0, 0) + question, peer)
        elif qtype == 1:
            answer = struct.pack("!HHHIH", 0xC00C, 1, 1, 60, 4) + socket.inet_aton(ANSWER)
            sock.sendto(struct.pack("!HHHHHH", qid, 0x8180, 1, 1, 0, 0) + question + answer, peer)
        else:
            sock.sendto(struct.pack("!HHHHHH", qid, 0x8180, 1, 0, 0, 0) + question, peer)
    except (struct.error, IndexError):
        continue
