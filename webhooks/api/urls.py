from config.routers import OptionalSlashRouter

from .views import WebhookViewSet

router = OptionalSlashRouter()
router.register("webhooks", WebhookViewSet, basename="webhook")
urlpatterns = router.urls
