from django.apps import AppConfig
from django.db.models.signals import post_delete


class SchedulingConfig(AppConfig):
    name = "scheduling"
    verbose_name = "Scheduling"

    def ready(self) -> None:
        from . import projection
        from .models import Schedule

        # A schedule's django-celery-beat projection goes with it on every deleting path, the cascade
        # from a deleted owner included (a queryset or cascade delete sends post_delete per row).
        post_delete.connect(projection.schedule_deleted, sender=Schedule, dispatch_uid="schedule_projection")
