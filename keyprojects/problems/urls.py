from django.urls import path

from keyprojects.problems import views
from keyprojects.problems.forms import ACTION_FORMS

urlpatterns = [
    path("problems/", views.problem_list, name="problem-list"),
    path("problems/new/", views.problem_create, name="problem-create"),
    path("problems/figures/", views.problem_figures, name="problem-figures"),
    path("problems/<int:pk>/", views.problem_detail, name="problem-detail"),
    path("problems/<int:pk>/edit/", views.problem_edit, name="problem-edit"),
    path("problems/<int:pk>/files/<int:event_pk>/", views.problem_evidence, name="problem-evidence"),
    # One POST route per action of the detail page: /problems/<pk>/assign/, …/deploy/, …
    *(
        path(f"problems/<int:pk>/{action}/", views.problem_action, {"action": action}, name=f"problem-{action}")
        for action in ACTION_FORMS
    ),
]
