"""The detectors' outputs, scanned with the card scanner, hold no full card number."""

from __future__ import annotations

import polars as pl

from forensics import cards
from forensics.detectors import admin, backdoor, payment, skim, sqli, tampering

from . import scenario as S
from .frames import access


def test_outputs_hold_no_card_numbers():
    # a customer typing a card number into a search box: the request text carries it
    leaky = access([{"ts": "2018-05-02 02:00:00", "client_ip": S.ATT, "target": f"/p.php?id=1+UNION+SELECT+{S.pan('4')}"}])
    frames = [
        skim.skim_records(pl.DataFrame({"path": [S.SKIM], "content": [S.skim_bytes()]})),
        tampering.tampered_files(S.FS, pl.DataFrame({"path": [S.TEMPLATE], "content": [S.SKIMMER_PHP]})),
        backdoor.backdoors(app_log=S.APP, access=S.ACCESS, fs_files=S.FS, admin_dir=S.ADMIN),
        admin.attacker_admin_requests(S.ACCESS, S.APP, [S.ATT], S.ADMIN),
        payment.card_entries(S.ACCESS),
        sqli.detect_sqli(S.ACCESS).collect(),
    ]
    for f in frames:
        assert cards.scan_text_for_card_data(repr(f.to_dicts()) + str(f)) == [], f.columns
    # a number an attacker put into a URL is in the log (the scanner sees it there, so the check
    # has teeth) but is masked in what the detector returns
    assert [h.kind for h in cards.scan_text_for_card_data(repr(leaky.to_dicts()))][:1] == ["pan"]
    out = sqli.detect_sqli(leaky).collect()
    assert out.height == 1
    assert cards.scan_text_for_card_data(repr(out.to_dicts())) == []
    assert cards.mask_pan(S.pan("4")) in out["target_raw"][0]
