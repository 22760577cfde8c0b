"""Mail for the embedded default: each message in an owner-only file under SKIFF_HOME/mail.

Replaces Django's console backend, which printed every invitation link into the console's
output for anyone reading it.
"""

import os
from pathlib import Path

from django.core.mail.backends import filebased

from console.owner_only import FILE_MODE, ensure_private_dir


class OwnerOnlyFileBackend(filebased.EmailBackend):
    def __init__(self, *args, file_path=None, **kwargs):
        if file_path is None:
            from django.conf import settings

            file_path = settings.EMAIL_FILE_PATH
        ensure_private_dir(Path(file_path))
        super().__init__(*args, file_path=file_path, **kwargs)

    def open(self):
        if self.stream is None:
            fd = os.open(self._get_filename(), os.O_CREAT | os.O_WRONLY | os.O_APPEND, FILE_MODE)
            self.stream = os.fdopen(fd, "ab")
            return True
        return False
