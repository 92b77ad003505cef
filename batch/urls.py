from django.urls import path

from .views import BatchView

urlpatterns = [
    path("batch/<slug:entity>", BatchView.as_view(), name="batch"),
]
