from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from console.services.teams import api_token_create, team_create, user_create


class Command(BaseCommand):
    help = (
        "Create a user, a team and an owner membership non-interactively. With --print-token, "
        "print an API token for that team alone on the last line."
    )

    def add_arguments(self, parser):
        parser.add_argument("--email", required=True)
        parser.add_argument("--password", required=True)
        parser.add_argument("--team", required=True, help="team slug (letters, digits, '-')")
        parser.add_argument("--team-name", default="", help="display name (default: the slug)")
        parser.add_argument(
            "--staff", action="store_true", help="also make the user platform staff"
        )
        parser.add_argument("--print-token", action="store_true")

    def handle(self, *args, email, password, team, team_name, staff, print_token, **options):
        try:
            with transaction.atomic():
                user = user_create(email=email, password=password)
                if staff:
                    user.is_staff = True
                    user.save(update_fields=["is_staff"])
                created_team = team_create(name=team_name or team, slug=team, owner=user)
                raw_token = None
                if print_token:
                    _, raw_token = api_token_create(
                        user=user, team=created_team, name="create_team_admin"
                    )
        except ValidationError as exc:
            raise CommandError(_format_validation_error(exc)) from exc
        self.stdout.write(f"Created user {user.email} as owner of team '{created_team.slug}'.")
        if raw_token:
            self.stdout.write("API token for this team (shown once), on the next line:")
            self.stdout.write(raw_token)


def _format_validation_error(exc: ValidationError) -> str:
    if hasattr(exc, "error_dict"):
        return "; ".join(f"{field}: {' '.join(msgs)}" for field, msgs in exc.message_dict.items())
    return " ".join(exc.messages)
