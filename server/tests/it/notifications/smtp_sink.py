"""A real SMTP server for the notification tests (aiosmtpd), started by the test.

usage: python smtp_sink.py PORT DIR

Each message received is parsed with Python's own `email` package (an implementation
independent of the server's) and written to DIR/<n>.json: the envelope, the headers the
tests look at, and every leaf part (content type, disposition, filename, Content-ID,
decoded content as base64). Prints "ready" once listening; stops when stdin closes.
"""

import base64
import email
import email.policy
import json
import os
import sys

from aiosmtpd.controller import Controller


class Sink:
    def __init__(self, folder):
        self.folder = folder
        self.count = 0

    async def handle_DATA(self, server, session, envelope):
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        parts = []
        for part in message.walk():
            if part.is_multipart():
                continue
            parts.append({
                "content_type": part.get_content_type(),
                "disposition": part.get_content_disposition(),
                "filename": part.get_filename(),
                "content_id": part.get("Content-ID"),
                "content": base64.b64encode(part.get_payload(decode=True) or b"").decode(),
            })
        record = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "subject": str(message["Subject"]),
            "to": str(message["To"]),
            "from": str(message["From"]),
            "message_id": str(message["Message-ID"]),
            "parts": parts,
        }
        self.count += 1
        path = os.path.join(self.folder, "%d.json" % self.count)
        with open(path + ".tmp", "w") as out:
            json.dump(record, out)
        os.replace(path + ".tmp", path)
        return "250 OK"


def main():
    port, folder = int(sys.argv[1]), sys.argv[2]
    controller = Controller(Sink(folder), hostname="127.0.0.1", port=port)
    controller.start()
    print("ready", flush=True)
    sys.stdin.read()
    controller.stop()


if __name__ == "__main__":
    main()
