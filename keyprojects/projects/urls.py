from django.urls import path

from keyprojects.projects import views

urlpatterns = [
    path("", views.project_list, name="home"),
    # /projects/
    path("projects/", views.project_list, name="project-list"),
    path("projects/new/", views.project_create, name="project-create"),
    # /projects/<pk>/ and its tabs
    path("projects/<int:pk>/", views.project_detail, name="project-detail"),
    path("projects/<int:pk>/stages/", views.project_stages, name="project-stages"),
    path("projects/<int:pk>/approvals/", views.project_approvals, name="project-approvals"),
    path("projects/<int:pk>/approvals/<int:item_pk>/", views.approval_edit, name="approval-edit"),
    path("projects/<int:pk>/approvals/<int:item_pk>/file/", views.approval_file, name="approval-file"),
    path("projects/<int:pk>/history/", views.project_history, name="project-history"),
    path("projects/<int:pk>/batches/", views.project_batches, name="project-batches"),
    path("projects/<int:pk>/edit/", views.project_edit, name="project-edit"),
    path("projects/<int:pk>/delete/", views.project_delete, name="project-delete"),
]
