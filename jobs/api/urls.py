from config.routers import OptionalSlashRouter

from .views import JobViewSet

router = OptionalSlashRouter()
router.register("jobs", JobViewSet, basename="job")
urlpatterns = router.urls
