from django.apps import AppConfig


class ConsoleConfig(AppConfig):
    name = "console"
    verbose_name = "Console: teams, members, tokens"

    def ready(self):
        from django.contrib.auth.signals import user_logged_in

        from console.middleware import session_mark_signed_in

        user_logged_in.connect(session_mark_signed_in, dispatch_uid="skiff-session-signed-in")
