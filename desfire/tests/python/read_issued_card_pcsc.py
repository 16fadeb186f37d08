"""python-desfire (PyPI, 0.1.5) through pyscard and the real pcscd, against a card issued
by Gatehouse's issuing station flow in a PC/SC reader: the project's virtual card behind
vpcd in CI (`vcard --desfire issued`).

Usage: python read_issued_card_pcsc.py [READER [UID_HEX [READ_KEY_HEX [SITE_HEX]]]]
  READER        PC/SC reader name (default "Virtual PCD 00 00")
  UID_HEX       the card's real UID (default 04782E21801D80)
  READ_KEY_HEX  the site's read key, the base of key 1 (default 22 x16)
  SITE_HEX      the site id the card was issued for, 16 bytes (default all zero)
Needs: pip install pyscard==2.3.1 python-desfire==0.1.5 "pycryptodome>=3.21,<4"

An independent client: EV1 AuthenticateAES to application 474801 with key 1, diversified
(AN10922) here by python-desfire's own diversify_key from the site's read key and the
system identifier "Gatehouse"; GetFileSettings (MACed), ReadData (encrypted, CRC32) of the
record (magic GHC 01, UID length, UID padded to 10 bytes, site id, 0), GetCardUID
(encrypted); a wrong key must be refused. Exits non-zero on any mismatch.
"""

import sys
import time

from desfire import DESFire, DESFireKey, diversify_key
from desfire.devices.pcsc import PCSCDevice
from desfire.enums import DESFireKeyType
from desfire.schemas import KeySettings
from smartcard.Exceptions import CardConnectionException, NoCardException
from smartcard.System import readers

AID = [0x47, 0x48, 0x01]
SYSTEM = list(b"Gatehouse")
FILE_SIZE = 32


def connect(name, timeout=20.0):
    """Connects to the card in reader `name`, waiting for pcscd to see it powered."""
    deadline = time.monotonic() + timeout
    while True:
        found = [r for r in readers() if str(r) == name]
        if found:
            connection = found[0].createConnection()
            try:
                connection.connect()
                return connection
            except (CardConnectionException, NoCardException):
                pass
        if time.monotonic() > deadline:
            raise SystemExit(f"no card in reader {name!r} within {timeout} s")
        time.sleep(0.1)


def aes_key(key):
    return DESFireKey(KeySettings(key_type=DESFireKeyType.DF_KEY_AES), bytes(key))


def main():
    name = sys.argv[1] if len(sys.argv) > 1 else "Virtual PCD 00 00"
    uid = list(bytes.fromhex(sys.argv[2] if len(sys.argv) > 2 else "04782E21801D80"))
    read_base = list(bytes.fromhex(sys.argv[3] if len(sys.argv) > 3 else "22" * 16))
    site = bytes.fromhex(sys.argv[4] if len(sys.argv) > 4 else "00" * 16)
    connection = connect(name)
    print("atr:", bytes(connection.getATR()).hex())
    # PCSCDevice wants pyscard's PCSCCardConnection itself (it reads `hcard`), not the
    # decorator createConnection() wraps it in.
    card = DESFire(PCSCDevice(getattr(connection, "component", connection)))
    print("version:", card.get_card_version())
    card.select_application(AID)
    read_key = diversify_key(read_base, [0x01] + uid + AID + SYSTEM, pad_to_32=True)
    card.authenticate(1, aes_key(read_key))
    settings = card.get_file_settings(1)
    data = bytes(card.read_file_data(1, settings))
    real_uid = card.get_real_uid()
    print("file:", data)
    print("uid:", bytes(real_uid).hex())
    want = b"GHC\x01" + bytes([len(uid)]) + bytes(uid).ljust(10, b"\0") + site + b"\0"
    assert len(want) == FILE_SIZE and data == want, data
    assert real_uid == uid, real_uid
    # A wrong key must not authenticate.
    card.select_application(AID)
    try:
        card.authenticate(1, aes_key(bytes(16)))
    except Exception as e:  # python-desfire raises on the card's 91 AE
        print("wrong key refused:", type(e).__name__)
    else:
        raise SystemExit("wrong key authenticated")
    connection.disconnect()
    print("python-desfire agrees")


if __name__ == "__main__":
    main()
