"""Time the what-if function: investigate a case once, then call ``whatif`` over a grid of
alternative window edges and attacker IPs.

    .venv/bin/python scripts/bench_whatif.py CASE_YML [N]

Prints the investigation's time, the precomputation's and the mean time per what-if call.
"""

from __future__ import annotations

import datetime as dt

from forensics.exposure.whatif import precompute, whatif


def main(argv: list[str] | None = None) -> int:
    """Investigate once, then time ``N`` what-if calls (prints ms per call)."""
    import sys
    import time

    from forensics.case import open_case
    from forensics.findings import investigate

    args = sys.argv[1:] if argv is None else argv
    n = int(args[1]) if len(args) > 1 else 100
    t0 = time.perf_counter()
    inv = investigate(open_case(args[0]))
    t1 = time.perf_counter()
    pre = precompute(inv)
    t2 = time.perf_counter()
    b, s, c = pre.backdoor_start, pre.skimmer_start, pre.containment
    shifts = [dt.timedelta(hours=h) for h in (-24, -6, 0, 6, 24)]
    ips = sorted(pre.attacker_ips)
    t3 = time.perf_counter()
    for i in range(n):
        d = shifts[i % len(shifts)]
        whatif(pre, backdoor_start=b + d if b else None, skimmer_start=s + d if s else None,
               containment=c - d if c else None, attacker_ips=ips[: 1 + i % max(len(ips), 1)])
    t4 = time.perf_counter()
    print(f"investigate: {t1 - t0:.2f} s; precompute: {(t2 - t1) * 1000:.1f} ms; "
          f"whatif: {(t4 - t3) / n * 1000:.2f} ms per call over {n} calls")
    print("base:", whatif(pre))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
