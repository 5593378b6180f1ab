from django.urls import path

from keyprojects.dashboard import views

urlpatterns = [
    # /dashboard/: the cockpit (驾驶舱) and its figures as JSON
    path("dashboard/", views.cockpit, name="dashboard"),
    path("dashboard/data.json", views.cockpit_json, name="dashboard-data"),
    # /dashboard/map/: the map (一张图), its points, outlines and project cards
    path("dashboard/map/", views.map_page, name="dashboard-map"),
    path("dashboard/map/points.json", views.map_points, name="dashboard-map-points"),
    path("dashboard/map/outlines/<int:pk>.geojson", views.outline, name="dashboard-outline"),
    path("dashboard/map/projects/<int:pk>/card/", views.project_card, name="dashboard-project-card"),
    # /dashboard/screen/: the big screen (大屏), 1920×1080
    path("dashboard/screen/", views.screen, name="dashboard-screen"),
]
