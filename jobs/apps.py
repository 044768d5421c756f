from django.apps import AppConfig


class JobsConfig(AppConfig):
    name = "jobs"
    verbose_name = "Jobs"

    def ready(self) -> None:
        from config import periodic

        from .handlers import registry

        registry.autodiscover()
        # Beat's leader runs these (scheduling.beat, config.periodic): due delayed jobs every tick, the
        # reconciler of lost messages and dead workers every JOB_RECONCILE_EVERY_S.
        periodic.register("jobs: promote due delayed jobs", 0, _promote)
        periodic.register("jobs: reconcile", _reconcile_every_s, _reconcile)


def _promote(cap: float) -> float:
    from .maintenance import jobs_promote_due

    return jobs_promote_due(cap=cap)


def _reconcile_every_s() -> float:
    from django.conf import settings

    return float(settings.JOB_RECONCILE_EVERY_S)


def _reconcile(cap: float) -> None:
    from .maintenance import jobs_reconcile

    jobs_reconcile()
