from config.routers import OptionalSlashRouter

from .views import ScheduleViewSet

router = OptionalSlashRouter()
router.register("jobs/schedule", ScheduleViewSet, basename="schedule")
urlpatterns = router.urls
