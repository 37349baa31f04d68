"""``SmtpNotifier``: implements ``orchestrator.engine.ports.notifier.Notifier`` by email, through
the site's SMTP server (``notifications.smtp``).

    send(notice, to)    one message to one person: a plain-text email, ``Auto-Submitted:
                        auto-generated``; STARTTLS (certificate and name checked) before anything
                        else is said when the site asks for it, and before any login
    check()             connects, says EHLO, STARTTLS and logs in as ``send`` would, sends
                        nothing (``site check``)

The password is resolved when a message is sent, handed to ``smtplib`` only, and never in a log
line, a record or an error. Errors, translated at the edge: ``Unreachable`` (refused, reset,
disconnected), ``TimedOut``, ``ServerError`` (a 4xx answer: try later), ``Refused`` (a 5xx
answer, a rejected login, no STARTTLS on offer, a certificate that does not verify).
"""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formataddr, formatdate, make_msgid
from pathlib import Path

from orchestrator import __version__
from orchestrator.engine.errors import (
    OrchestratorError,
    Refused,
    ServerError,
    TimedOut,
    Unreachable,
)
from orchestrator.engine.ports.notifier import Notice, Recipient

DEFAULT_TIMEOUT = 10.0


@dataclass(frozen=True, slots=True)
class SmtpSettings:
    """How to reach the site's SMTP server; ``password`` is called when a message is sent."""

    host: str
    sender: str
    port: int = 587
    starttls: bool = True
    ca: Path | None = None  # CA bundle the server's certificate must chain to; else the system's
    username: str | None = None
    password: Callable[[], str] | None = field(default=None, repr=False)
    timeout: float = DEFAULT_TIMEOUT

    @property
    def where(self) -> str:
        """``host:port``, as messages name the server."""
        return f"{self.host}:{self.port}"


def email_of(notice: Notice, to: tuple[Recipient, ...], sender: str) -> EmailMessage:
    """The email of ``notice`` to ``to``: plain text, marked as sent by a machine."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = ", ".join(formataddr((person.name, person.email)) for person in to)
    message["Subject"] = notice.subject
    message["Date"] = formatdate(localtime=False, usegmt=True)
    message["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or None)
    message["Auto-Submitted"] = "auto-generated"
    message["X-Orchestrator-Delivery"] = notice.delivery
    message["X-Orchestrator-Event"] = notice.event.value
    message["User-Agent"] = f"orchestrator/{__version__}"
    message.set_content(notice.text())
    return message


@dataclass(frozen=True, slots=True)
class SmtpNotifier:
    """Email through the SMTP server ``settings`` names, one message per person."""

    settings: SmtpSettings

    @property
    def channel(self) -> str:
        return "email"

    @property
    def target(self) -> str:
        return f"smtp {self.settings.where}"

    @property
    def per_person(self) -> bool:
        return True

    def send(self, notice: Notice, to: Recipient | None) -> None:
        addressees = (to,) if to is not None else notice.who
        message = email_of(notice, addressees, self.settings.sender)
        with self._session() as smtp:
            smtp.send_message(message)

    def check(self) -> str:
        """What a session does short of sending, in words; the errors ``send`` raises."""
        with self._session() as smtp:
            smtp.noop()
        tls = "STARTTLS" if self.settings.starttls else "no TLS"
        login = f", logged in as {self.settings.username}" if self.settings.username else ""
        return f"{self.settings.where} answers ({tls}{login})"

    @contextmanager
    def _session(self) -> Iterator[smtplib.SMTP]:
        settings = self.settings
        with translated(settings.where):
            smtp = smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout)
            try:
                self._greet(smtp)
                yield smtp
            finally:
                _quit(smtp)

    def _greet(self, smtp: smtplib.SMTP) -> None:
        settings = self.settings
        smtp.ehlo()
        if settings.starttls:
            if not smtp.has_extn("starttls"):
                raise Refused(f"SMTP server {settings.where} does not offer STARTTLS")
            smtp.starttls(context=_tls_context(settings.ca))
            smtp.ehlo()
        if settings.username is not None and settings.password is not None:
            smtp.login(settings.username, settings.password())


def _tls_context(ca: Path | None) -> ssl.SSLContext:
    """Certificates verified, names checked: against ``ca`` when given, the system's otherwise."""
    return ssl.create_default_context(cafile=str(ca) if ca is not None else None)


def _quit(smtp: smtplib.SMTP) -> None:
    """Say goodbye if the connection still stands; a server already gone is no error."""
    try:
        smtp.quit()
    except (smtplib.SMTPException, OSError):
        smtp.close()


@contextmanager
def translated(where: str) -> Iterator[None]:
    """``smtplib``'s and the socket's errors as the orchestrator's, naming the server."""
    try:
        yield
    except OrchestratorError:
        raise
    except smtplib.SMTPRecipientsRefused as exc:
        raise _refusal(where, *next(iter(exc.recipients.values()))) from exc
    except smtplib.SMTPResponseException as exc:
        raise _refusal(where, exc.smtp_code, exc.smtp_error) from exc
    except smtplib.SMTPServerDisconnected as exc:
        raise Unreachable(f"SMTP server {where} hung up: {exc or 'no reason given'}") from exc
    except smtplib.SMTPException as exc:  # no STARTTLS or no login method on offer, ...
        raise Refused(f"SMTP server {where}: {exc}") from exc
    except ssl.SSLCertVerificationError as exc:
        raise Refused(
            f"SMTP server {where}: certificate not trusted: {exc.verify_message}"
        ) from exc
    except ssl.SSLError as exc:
        raise Refused(f"SMTP server {where}: TLS failed: {exc.reason or exc}") from exc
    except TimeoutError as exc:
        raise TimedOut(f"SMTP server {where} did not answer in time") from exc
    except OSError as exc:
        raise Unreachable(
            f"SMTP server {where} could not be reached: {exc.strerror or exc}"
        ) from exc


def _refusal(where: str, code: int, text: bytes | str) -> Refused | ServerError:
    """A 4xx answer is "try later" (retried), anything else a no."""
    said = text.decode("utf-8", "replace") if isinstance(text, bytes) else text
    message = f"SMTP server {where} answered {code} {said}".strip()
    return ServerError(message) if 400 <= code < 500 else Refused(message)
