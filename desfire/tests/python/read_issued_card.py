"""python-desfire (PyPI, 0.1.5) against the crate's virtual card, over a pipe.

Usage: python read_issued_card.py path/to/stdio_card
Needs: pip install python-desfire==0.1.5 "pycryptodome>=3.21,<4"

An independent client: EV1 AuthenticateAES with the AN10922-diversified read key
(diversified here by python-desfire's own diversify_key), GetFileSettings (MACed),
ReadData (encrypted, CRC32) and GetCardUID (encrypted). Exits non-zero on any mismatch.
"""

import subprocess
import sys

from desfire import DESFire, DESFireKey, diversify_key
from desfire.devices.base import Device
from desfire.enums import DESFireKeyType
from desfire.schemas import KeySettings

UID = [0x04, 0x78, 0x2E, 0x21, 0x80, 0x1D, 0x80]
AID = [0x47, 0x48, 0x01]
SYSTEM = list(b"gatehse")


class Pipe(Device):
    def __init__(self, proc):
        self.proc = proc

    def transceive(self, data):
        self.proc.stdin.write(bytes(data).hex().upper() + "\n")
        self.proc.stdin.flush()
        return list(bytes.fromhex(self.proc.stdout.readline().strip()))


def main():
    proc = subprocess.Popen(
        [sys.argv[1]], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    card = DESFire(Pipe(proc))
    version = card.get_card_version()
    print("version:", version)
    card.select_application(AID)
    read_key = diversify_key([0x22] * 16, [0x01] + UID + AID + SYSTEM, pad_to_32=True)
    key = DESFireKey(KeySettings(key_type=DESFireKeyType.DF_KEY_AES), bytes(read_key))
    card.authenticate(1, key)
    settings = card.get_file_settings(1)
    data = bytes(card.read_file_data(1, settings))
    uid = card.get_real_uid()
    print("file:", data)
    print("uid:", bytes(uid).hex())
    assert data == b"gh:credential:0123456789abcdef\x00\x00", data
    assert uid == UID, uid
    # A wrong key must not authenticate.
    card.select_application(AID)
    wrong = DESFireKey(KeySettings(key_type=DESFireKeyType.DF_KEY_AES), bytes(16))
    try:
        card.authenticate(1, wrong)
    except Exception as e:  # python-desfire raises on the card's 91 AE
        print("wrong key refused:", type(e).__name__)
    else:
        raise SystemExit("wrong key authenticated")
    proc.stdin.close()
    proc.wait()
    print("python-desfire agrees")


if __name__ == "__main__":
    main()
