#!/usr/bin/env python3
"""Writes gen-<reals>.cf files shaped like benches/parse.rs's generator: usage DIR VIRTUALS..."""
import sys


def generate(virtuals: int, reals: int) -> str:
    out = ['checktimeout=3\nnegotiatetimeout=5\ncheckinterval=5\nautoreload=yes\nquiescent=yes\nlogfile="local0"\n\n']
    for v in range(virtuals):
        a, b = v // 250, v % 250
        out.append(f"# service {v}\nvirtual=10.{a}.{b}.1:80\n")
        for r in range(reals):
            out.append(f"\treal=172.16.{v % 250}.{r + 2}:80 gate {1 + r % 3}\n")
        out.append('\tservice=http\n\trequest="/health"\n\treceive="OK"\n\tscheduler=wlc\n\tprotocol=tcp\n\tchecktype=negotiate\n\n')
    return "".join(out)


if __name__ == "__main__":
    directory = sys.argv[1]
    for v in map(int, sys.argv[2:]):
        with open(f"{directory}/gen-{v * 10}.cf", "w") as f:
            f.write(generate(v, 10))
