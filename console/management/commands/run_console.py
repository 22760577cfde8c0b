"""The embedded default behind `make run`: a local cell plus the console in one terminal."""

import secrets
from pathlib import Path

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from console import background
from console.models import User
from console.owner_only import ensure_private_dir, write_private_file
from console.periodic import EmbeddedScheduler
from console.services.teams import team_create, user_create
from fleet.kafka.connection import preload_kafka_python
from fleet.kafka.errors import KafkaGatewayError
from fleet.runtime.launcher import CellError
from fleet.services.cells import fleet_down, fleet_up
from fleet.services.sampler import SamplerThread
from fleet.services.supervisor import SupervisorThread

FIRST_ADMIN_EMAIL = "admin@skiff.local"


class Command(BaseCommand):
    help = "Start the local cell and serve the console; Ctrl-C stops both."

    def add_arguments(self, parser):
        parser.add_argument("--addrport", default="127.0.0.1:8000")
        parser.add_argument("--nodes", type=int, default=3)
        parser.add_argument("--no-fleet", action="store_true", help="do not start a local cell")

    def handle(self, *args, addrport, nodes, no_fleet, **options):
        cell_name = settings.SKIFF_LOCAL_CELL_NAME
        if not no_fleet:
            self.stdout.write(f"Starting local cell '{cell_name}' ({nodes} KRaft nodes)…")
            try:
                cell = fleet_up(name=cell_name, nodes=nodes, heap_mb=settings.SKIFF_BROKER_HEAP_MB)
            except (CellError, KafkaGatewayError) as exc:
                raise CommandError(f"The local Kafka cell did not start: {exc}") from exc
            self.stdout.write(f"Cell '{cell.name}' ready: bootstrap {cell.bootstrap_servers}")
        self._print_login(addrport)
        self._print_mail()
        scheduler = None
        if settings.CELERY_TASK_ALWAYS_EAGER:
            # No worker or beat in the embedded default: periodic tasks run in this process,
            # and queued ones (provisioning, deletion) in a pool, not in the request's thread.
            scheduler = EmbeddedScheduler()
            scheduler.start()
            background.start(workers=settings.SKIFF_EMBEDDED_TASK_WORKERS)
            preload_kafka_python()  # what provisioning sends its requests with
        # Live throughput: without a channel layer shared between processes (no Redis), the
        # sampler must run where the WebSocket consumers are, i.e. in this process.
        # Issue 13: a broker of the local cell that dies is started again within seconds.
        supervisor = None
        if not no_fleet:
            supervisor = SupervisorThread()
            supervisor.start()
        sampler = None
        if not settings.REDIS_URL or settings.SKIFF_EMBEDDED_SAMPLER:
            sampler = SamplerThread()
            sampler.start()
        try:
            call_command("runserver", addrport, use_reloader=False)
        finally:
            if supervisor is not None:
                supervisor.stop()
            if sampler is not None:
                sampler.stop()
            if scheduler is not None:
                scheduler.stop()
                background.stop(wait=False)
            if not no_fleet:
                self.stdout.write(f"Stopping local cell '{cell_name}'…")
                fleet_down(name=cell_name)

    def _print_login(self, addrport: str) -> None:
        host = f"http://{addrport}"
        if User.objects.exists():
            self.stdout.write(f"Console: {host}/  (sign in with your account)")
            return
        # First run: make one owner so the console is usable at once. The password is
        # shown once here and kept in an owner-only file under SKIFF_HOME.
        password = secrets.token_urlsafe(12)
        user = user_create(email=FIRST_ADMIN_EMAIL, password=password, validate=False)
        user.is_staff = user.is_superuser = True
        user.save(update_fields=["is_staff", "is_superuser"])
        team_create(name="Default team", slug="default", owner=user)
        password_file = write_private_file(
            Path(settings.SKIFF_HOME) / "console-admin-password", password + "\n"
        )
        # The password goes to a terminal only: output sent to a file or a log collector is
        # read by others, so there it is the owner-only file's path.
        shown = (
            f"with password {password}\n  (saved in {password_file}"
            if self._stdout_is_terminal()
            else f"with the password in {password_file}\n  (readable by this user only"
        )
        self.stdout.write(
            f"Console: {host}/\n"
            f"  Sign in as {FIRST_ADMIN_EMAIL} {shown}; more users: "
            "python manage.py create_team_admin --email … --password … --team …)"
        )

    def _stdout_is_terminal(self) -> bool:
        stream = getattr(self.stdout, "_out", self.stdout)
        try:
            return bool(stream.isatty())
        except (AttributeError, ValueError):
            return False

    def _print_mail(self) -> None:
        backend = settings.EMAIL_BACKEND
        if backend == "console.mail.OwnerOnlyFileBackend":
            folder = ensure_private_dir(Path(settings.EMAIL_FILE_PATH))
            self.stdout.write(f"Mail (invitations, password resets): files in {folder}/")
        else:
            self.stdout.write(f"Mail is sent with {backend}")
