"""Settings for bench/nurture.py's fault run: the real settings, with an email backend that appends
each Message-ID to the file named by NURTURE_BENCH_MAILLOG — what a recipient's server would see,
and it survives the worker being killed."""

from config.settings import *  # noqa: F403

EMAIL_BACKEND = "nurture_mailrecorder.RecordingBackend"  # bench/nurture_mailrecorder.py
