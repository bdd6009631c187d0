"""An email backend for bench/nurture.py: one line per delivered message, its Message-ID, appended
with a single write(2) on an O_APPEND file (whole lines, even from several processes; written before
send_messages returns, so a kill right after a send cannot lose it)."""

import os

from django.core.mail.backends.base import BaseEmailBackend


class RecordingBackend(BaseEmailBackend):
    def send_messages(self, email_messages):
        fd = os.open(os.environ["NURTURE_BENCH_MAILLOG"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            for message in email_messages:
                message.message()  # render it as SMTP would
                os.write(fd, (message.extra_headers["Message-ID"] + "\n").encode())
        finally:
            os.close(fd)
        return len(email_messages)
