from django import forms
from django.utils.translation import gettext_lazy as _

from apps.queue.models import DisplayLink


class DisplayLinkForm(forms.Form):
    name = forms.CharField(
        label=_("Screen name"), max_length=80, help_text=_("e.g. Waiting hall TV")
    )
    language = forms.ChoiceField(label=_("Language"), choices=DisplayLink.Language.choices)


class RoomForm(forms.Form):
    room = forms.CharField(label=_("Room"), max_length=40)
