from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Accounts"

    def ready(self):
        from django.contrib.auth import get_user_model
        from django.db.models.signals import post_save

        from . import schema  # noqa: F401 (registers the OpenAPI security schemes)
        from .signals import user_saved

        post_save.connect(user_saved, sender=get_user_model(), dispatch_uid="accounts-user-saved")
