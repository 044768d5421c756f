from django.apps import AppConfig


class FlowsConfig(AppConfig):
    name = "flows"
    verbose_name = "Flows"

    def ready(self) -> None:
        from jobs.realtime import subscribe

        from .events import flow_job_event

        # A flow's record follows its jobs' events: registered here, so jobs imports nothing of ours.
        subscribe(flow_job_event)
