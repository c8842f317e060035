"""Mail: one SMTP connection per dispatcher batch, or .eml files in a folder when no server is set.

Each mail's Message-ID is made from the outbox row's id, so a mail sent twice (a dispatcher that
died between sending and marking) carries the same id both times and a receiver can drop the copy.
"""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path
from types import TracebackType

from engine.clock import Clock
from engine.config import EngineConfig
from engine.notifications.errors import DeliveryError


class MailBatch:
    """Sends the mails of one batch; connects on the first and quits at the end."""

    def __init__(self, config: EngineConfig, clock: Clock) -> None:
        self._config, self._clock = config, clock
        self._smtp: smtplib.SMTP | None = None

    def __enter__(self) -> MailBatch:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None) -> None:
        self._drop()

    def send(self, *, notification_id: str, to: str, subject: str, body: str) -> None:
        """Raises: DeliveryError (permanent when the server refused the mail for good, 5xx)."""
        message = EmailMessage()
        message["Message-ID"] = f"<{notification_id}@tixi>"
        message["From"] = self._config.mail_from
        message["To"] = to
        message["Subject"] = subject
        message["Date"] = format_datetime(self._clock.now())
        message["X-Tixi-Notification"] = notification_id
        message.set_content(body)
        if not self._config.smtp_host:
            try:
                _write_to_sink(self._config.mail_sink_dir, notification_id, message)
            except OSError as error:
                raise DeliveryError(f"the mail folder {self._config.mail_sink_dir} cannot be written: {error}") from None
            return
        try:
            self._connection().send_message(message)
        except smtplib.SMTPRecipientsRefused as error:
            codes = [code for code, _ in error.recipients.values()]
            raise DeliveryError(f"SMTP refused {to}: {_reasons(error.recipients)}",
                                permanent=all(c >= 500 for c in codes)) from None
        except smtplib.SMTPResponseException as error:
            self._drop()
            raise DeliveryError(f"SMTP answered {error.smtp_code}: {_text(error.smtp_error)}",
                                permanent=error.smtp_code >= 500) from None
        except (smtplib.SMTPException, OSError) as error:
            self._drop()
            raise DeliveryError(f"SMTP server {self._config.smtp_host}:{self._config.smtp_port} failed: "
                                f"{type(error).__name__}: {error}") from None

    def _connection(self) -> smtplib.SMTP:
        if self._smtp is None:
            config = self._config
            timeout = config.smtp_timeout_seconds
            if config.smtp_security == "tls":
                smtp: smtplib.SMTP = smtplib.SMTP_SSL(config.smtp_host, config.smtp_port, timeout=timeout,
                                                      context=ssl.create_default_context())
            else:
                smtp = smtplib.SMTP(config.smtp_host, config.smtp_port, timeout=timeout)
                if config.smtp_security == "starttls":
                    smtp.starttls(context=ssl.create_default_context())
            if config.smtp_username:
                smtp.login(config.smtp_username, config.smtp_password)
            self._smtp = smtp
        return self._smtp

    def _drop(self) -> None:
        if self._smtp is not None:
            try:
                self._smtp.quit()
            except (smtplib.SMTPException, OSError):
                self._smtp.close()
            self._smtp = None


def _write_to_sink(directory: Path, notification_id: str, message: EmailMessage) -> None:
    # One file per row, named after it: a mail written again after a crash replaces its copy.
    directory.mkdir(parents=True, exist_ok=True)
    partial = directory / f".{notification_id}.eml.part"
    partial.write_bytes(bytes(message))
    partial.replace(directory / f"{notification_id}.eml")


def _reasons(recipients: dict[str, tuple[int, bytes]]) -> str:
    return "; ".join(f"{code} {_text(text)}" for code, text in recipients.values())


def _text(value: bytes | str) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
