from django.urls import path

from keyprojects.bulletins import views

urlpatterns = [
    # /bulletins/: the archive of the rhythm's documents, making a draft, one document and its outputs
    path("bulletins/", views.bulletin_list, name="bulletin-list"),
    path("bulletins/new/", views.bulletin_create, name="bulletin-create"),
    path("bulletins/<int:pk>/", views.bulletin_detail, name="bulletin-detail"),
    path("bulletins/<int:pk>/issue/", views.bulletin_issue, name="bulletin-issue"),
    path("bulletins/<int:pk>/meeting/", views.bulletin_meeting, name="bulletin-meeting"),
    path("bulletins/<int:pk>/print/", views.bulletin_print, name="bulletin-print"),
    path("bulletins/<int:pk>/document.docx", views.bulletin_docx, name="bulletin-docx"),
    path("bulletins/<int:pk>/document.xlsx", views.bulletin_xlsx, name="bulletin-xlsx"),
]
