from django.urls import path

from keyprojects.evaluation import views

urlpatterns = [
    # 季度观摩
    path("observation/", views.tour_list, name="tour-list"),
    path("observation/new/", views.tour_create, name="tour-create"),
    path("observation/<int:pk>/", views.tour_detail, name="tour-detail"),
    path("observation/<int:pk>/edit/", views.tour_edit, name="tour-edit"),
    path("observation/<int:pk>/projects/", views.tour_add_projects, name="tour-add-projects"),
    path(
        "observation/<int:pk>/projects/<int:project_id>/remove/", views.tour_remove_project, name="tour-remove-project"
    ),  # fmt: skip
    path("observation/<int:pk>/judges/", views.tour_add_judges, name="tour-add-judges"),
    path("observation/<int:pk>/judges/<int:user_id>/remove/", views.tour_remove_judge, name="tour-remove-judge"),
    path("observation/<int:pk>/open/", views.tour_open, name="tour-open"),
    path("observation/<int:pk>/close/", views.tour_close, name="tour-close"),
    path("observation/<int:pk>/score/", views.tour_score_start, name="tour-score-start"),
    path("observation/<int:pk>/score/<int:project_id>/", views.tour_score, name="tour-score"),
    path("observation/<int:pk>/results/", views.tour_results, name="tour-results"),
    # 考评方案 and 半年考评 / 年底总评
    path("evaluation/", views.scheme_list, name="scheme-list"),
    path("evaluation/schemes/<slug:code>/", views.scheme_detail, name="scheme-detail"),
    path("evaluation/<slug:code>/<str:period>/", views.evaluation_result, name="evaluation-result"),
    path("evaluation/<slug:code>/<str:period>/units/<int:unit_id>/", views.evaluation_unit, name="evaluation-unit"),
]
