from django.urls import re_path

from bigledger.api.viewsets import OptionalSlashRouter

from . import views

router = OptionalSlashRouter()
router.register("items", views.ItemViewSet, basename="item")
router.register("locations", views.LocationViewSet, basename="location")
router.register("stock-adjustments", views.StockAdjustmentViewSet, basename="stock-adjustment")

urlpatterns = [
    *router.urls,
    re_path(
        r"^reports/stock-valuation/?$",
        views.StockValuationView.as_view(),
        name="stock-valuation",
    ),
]
