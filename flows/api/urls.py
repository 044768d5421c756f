from config.routers import OptionalSlashRouter

from .views import FlowViewSet

router = OptionalSlashRouter()
router.register("flows", FlowViewSet, basename="flow")
urlpatterns = router.urls
