"""Django's own wordings that the signed-out pages and the password forms show, whose Hindi
Django's catalogue leaves empty (the password rules) or words as no front desk says it (its
"कूटशब्द" for password). Listed here so `makemessages` keeps them in our catalogue, which
`LOCALE_PATHS` puts before Django's: the same msgid, our Hindi."""

from django.utils.translation import gettext_noop, ngettext_lazy

PASSWORD_RULES = (
    ngettext_lazy(
        "This password is too short. It must contain at least %d character.",
        "This password is too short. It must contain at least %d characters.",
        "min_length",
    ),
    gettext_noop("This password is too common."),
    gettext_noop("This password is entirely numeric."),
    gettext_noop("The password is too similar to the %(verbose_name)s."),
    gettext_noop("The two password fields didn’t match."),
)
# The rules as the set-new-password form lists them under its field.
PASSWORD_HELP = (
    gettext_noop("Your password can’t be too similar to your other personal information."),
    ngettext_lazy(
        "Your password must contain at least %(min_length)d character.",
        "Your password must contain at least %(min_length)d characters.",
        "min_length",
    ),
    gettext_noop("Your password can’t be a commonly used password."),
    gettext_noop("Your password can’t be entirely numeric."),
)
FIELDS = (
    gettext_noop("Enter a valid email address."),
    gettext_noop("New password confirmation"),
    gettext_noop("Enter the same password as before, for verification."),
)
SIGN_IN = (
    gettext_noop(
        "Please enter a correct %(username)s and password. Note that both fields may be "
        "case-sensitive."
    ),
    gettext_noop("This account is inactive."),
)
