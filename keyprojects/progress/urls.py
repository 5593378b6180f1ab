from django.urls import path

from keyprojects.progress import forecast_views, views

urlpatterns = [
    # /reports/: the month's reports of the projects the user sees, the overdue list, month locks
    path("reports/", views.report_list, name="report-list"),
    path("reports/overdue/", views.report_overdue, name="report-overdue"),
    path("reports/locks/", views.month_locks, name="month-locks"),
    # One report and its workflow
    path("reports/<int:pk>/", views.report_detail, name="report-detail"),
    path("reports/<int:pk>/edit/", views.report_edit, name="report-edit"),
    path("reports/<int:pk>/restate/", views.report_restate, name="report-restate"),
    path("reports/<int:pk>/photos/", views.photo_add, name="report-photo-add"),
    path("reports/<int:pk>/photos/<int:photo_pk>/", views.photo_file, name="report-photo"),
    path("reports/<int:pk>/photos/<int:photo_pk>/delete/", views.photo_delete, name="report-photo-delete"),
    *(
        path(f"reports/<int:pk>/{action}/", views.report_action, {"action": action}, name=f"report-{action}")
        for action in views.ACTION_FORMS
    ),
    # A project's reports, plan and chart (a tab of the project page)
    path("projects/<int:pk>/reports/", views.project_reports, name="project-reports"),
    path("projects/<int:pk>/reports/new/", views.report_create, name="report-create"),
    path("projects/<int:pk>/plans/<int:year>/", views.annual_plan_save, name="annual-plan-save"),
    # Completion rates and roll-ups
    path("rates/", views.rates_page, name="rates"),
    path("rates/forecast/", forecast_views.forecast_page, name="forecast"),
]
