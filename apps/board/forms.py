"""The board's filters and the per-doctor summary's, read from the query string (so a view is
bookmarkable and the back button returns to it). Bad input is a form error, never a 500."""

from typing import Any

from django import forms
from django.http import QueryDict
from django.utils.translation import pgettext_lazy

from apps.board.selectors import NUMBER, BoardFilter, SummaryFilter, departments
from apps.board.wording import STATUS_LABELS
from apps.clinic.models import Branch
from apps.scheduling.models import Doctor
from apps.scheduling.names import name_query

MOST_PAGES = 10_000
TOO_SHORT = pgettext_lazy("board", "Type a token, a reference or two letters of a name.")


class BoardFilterForm(forms.Form):
    doctor = forms.IntegerField(
        label=pgettext_lazy("board", "Doctor"), required=False, min_value=1, max_value=2**62
    )
    department = forms.CharField(
        label=pgettext_lazy("board", "Department"), required=False, max_length=120
    )
    status = forms.ChoiceField(
        label=pgettext_lazy("board", "Status"),
        required=False,
        choices=[("", pgettext_lazy("board", "All statuses")), *STATUS_LABELS.items()],
    )
    q = forms.CharField(
        label=pgettext_lazy("board", "Search"),
        required=False,
        max_length=60,
        help_text=pgettext_lazy("board", "Token, reference or patient's name"),
    )
    page = forms.IntegerField(required=False, min_value=1, max_value=MOST_PAGES)

    def __init__(self, data: QueryDict, *, branch: Branch, **kwargs: Any) -> None:
        super().__init__(data, **kwargs)
        self.branch = branch

    def clean_doctor(self) -> int | None:
        doctor: int | None = self.cleaned_data.get("doctor")
        if doctor is not None and not Doctor.objects.filter(branch=self.branch, pk=doctor).exists():
            raise forms.ValidationError(pgettext_lazy("board", "Choose a doctor of this branch."))
        return doctor

    def clean_department(self) -> str:
        department: str = self.cleaned_data.get("department", "")
        if department and department not in departments(self.branch):
            raise forms.ValidationError(pgettext_lazy("board", "Choose a department."))
        return department

    def clean_q(self) -> str:
        """A token, a reference, or a name with a word of at least two letters
        (`names.MIN_PREFIX`; a single letter would match most of the day)."""
        text: str = (self.cleaned_data.get("q") or "").strip()
        if text and not NUMBER.match(text) and not name_query(text).searchable:
            raise forms.ValidationError(TOO_SHORT)
        return text

    def wanted(self) -> BoardFilter:
        """The filters asked for; a field with an error counts as not asked."""
        self.is_valid()
        got = self.cleaned_data
        return BoardFilter(
            doctor=got.get("doctor"),
            department=got.get("department") or "",
            status=got.get("status") or "",
            search=(got.get("q") or "").strip(),
            page=got.get("page") or 1,
        )


class SummaryFilterForm(forms.Form):
    department = forms.CharField(
        label=pgettext_lazy("board", "Department"), required=False, max_length=120
    )
    page = forms.IntegerField(required=False, min_value=1, max_value=MOST_PAGES)

    def __init__(self, data: QueryDict, *, branch: Branch, **kwargs: Any) -> None:
        super().__init__(data, **kwargs)
        self.branch = branch

    def clean_department(self) -> str:
        department: str = self.cleaned_data.get("department", "")
        if department and department not in departments(self.branch):
            raise forms.ValidationError(pgettext_lazy("board", "Choose a department."))
        return department

    def wanted(self) -> SummaryFilter:
        self.is_valid()
        got = self.cleaned_data
        return SummaryFilter(department=got.get("department") or "", page=got.get("page") or 1)
