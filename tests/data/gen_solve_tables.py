#!/usr/bin/env python3
"""Write the small synthetic tables tests/cli/solve.sh uses, in the authors'
LayerMerge CSV layouts, from `layermerge entries GRAPH` output:
latency grows with the merged kernel, channels and input size; importance
(normalised) falls with the merged kernel. Deterministic.

usage: gen_solve_tables.py ENTRIES.csv OUT_PREFIX"""
import csv
import math
import sys

entries, prefix = sys.argv[1], sys.argv[2]
rows = list(csv.DictReader(open(entries)))
with open(prefix + "_latency.csv", "w") as lat, \
        open(prefix + "_importance.csv", "w") as imp:
    lat.write("id,st,end,ker,str,is_dw,time,stdev\n")
    imp.write("id,st,end,ker,str,is_dw,conv_comb,importance\n")
    for r in rows:
        k, s, dw = int(r["ker"]), int(r["str"]), int(r["is_dw"])
        work = k * k * int(r["out_ch"]) * int(r["in_h"]) * int(r["in_w"]) / (s * s)
        if not dw:
            work *= int(r["in_ch"])
        ms = 0.0 if k == 0 else round(0.02 + work * 2.5e-8, 6)
        kept = r["convs"].split()
        span = int(r["end"]) - int(r["st"])
        value = math.exp(-0.004 * k - 0.01 * (span - len(kept)))
        key = ",".join(r[c] for c in ("id", "st", "end", "ker", "str", "is_dw"))
        lat.write(f"{key},{ms!r},0.0\n")
        imp.write(f"{key},\"{','.join(kept)}\",{value!r}\n")
n = max(int(r["end"]) for r in rows)
with open(prefix + "_convs.csv", "w") as convs:
    convs.write("conv,importance\n")
    for c in range(1, n + 1):
        convs.write(f"{c},{1.0 + 0.1 * (c % 5)!r}\n")
