"""Finding patients by name without storing a name in clear: a keyed blind index of word
prefixes.

Names are sealed (`Patient`), so PostgreSQL cannot search them. Instead each name is folded
(`fold`: Unicode compatibility forms, case, Latin diacritics, apostrophes and joiners; any run
of letters, marks and digits is a word, so Devanagari words keep their vowel signs) and every
prefix of each word, from `MIN_PREFIX` to `MAX_PREFIX` characters, is stored as an HMAC keyed
by a key derived from the tenant key (`crypto.name_digest`): a `PatientNameToken` row per
patient and prefix. A search folds the typed words the same way and asks for the patients
that have a token of every word: "asha r" is "asha" (indexed) and "r" (one letter: too short
to index, so checked by opening the few names the other words found).

The table holds numbers only; without the tenant key nobody can tell which name a number
stands for, and destroying the tenant key (`apps.core.keystore.destroy`) leaves no way to
compute one again. Each tenant has its own key, so the same name gives other numbers in
another tenant.

The index is a read model: the `patient-names` projection (`apps.scheduling.projections`)
keeps it from the patients' events (registered, name changed, erased), and a replay rebuilds
it. A key rotation re-keys a patient's tokens in the batch that re-wraps the patient
(`apps.scheduling.keyrotation`). Being a projection, it may lag the event log; a reader that
must not lag (FHIR, which has no "as of" to show) asks `named_as_of_now`, which checks the
patients of the events the index has not applied yet by opening their names.
"""

import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

from django.db.models import Q, QuerySet

from apps.core import crypto, keys
from apps.eventstore.models import Event, ProjectionState
from apps.scheduling.events import PATIENT_ERASED, PATIENT_REGISTERED, PATIENT_UPDATED
from apps.scheduling.models import Patient, PatientNameToken

# The projection that keeps the index, and the events it follows.
PROJECTION = "patient-names"
NAME_EVENTS = frozenset({PATIENT_REGISTERED, PATIENT_UPDATED, PATIENT_ERASED})

# A receptionist types at least two letters of a word; one letter would match most names.
MIN_PREFIX = 2
# Longer words are looked up by their first MAX_PREFIX characters and checked by opening.
MAX_PREFIX = 24
# Inside a word, not between words: apostrophes (D'Souza), zero-width (non-)joiners, which
# Devanagari text may or may not carry, and soft hyphens.
_INSIDE_WORD = dict.fromkeys(map(ord, "'’`ʼ\u200c\u200d\u00ad"), None)
_LATIN_END = 0x0250  # Latin letters (basic, supplement, extended A and B) end here


def _latin(char: str) -> bool:
    return char.isascii() or ord(char) < _LATIN_END


def fold(text: str) -> str:
    """`text` as it is compared: compatibility forms, case and Latin diacritics folded
    ("JOSÉ" → "jose"); marks of other scripts (Devanagari vowel signs, virama, nukta) kept."""
    folded = unicodedata.normalize("NFKC", text).casefold().translate(_INSIDE_WORD)
    kept: list[str] = []
    for char in unicodedata.normalize("NFD", folded):
        if unicodedata.combining(char) and kept and _latin(kept[-1]):
            continue
        kept.append(char)
    return unicodedata.normalize("NFC", "".join(kept))


def words(text: str) -> list[str]:
    """The folded words of `text`: runs of letters, marks and digits; anything else
    (spaces, dots, hyphens, commas) separates them."""
    spaced = "".join(char if unicodedata.category(char)[0] in "LMN" else " " for char in fold(text))
    return spaced.split()


def prefixes(name: str) -> set[str]:
    """Every prefix of `MIN_PREFIX` to `MAX_PREFIX` characters of every word of `name`."""
    return {
        word[:size]
        for word in words(name)
        for size in range(MIN_PREFIX, min(len(word), MAX_PREFIX) + 1)
    }


def starts_words(name: str | None, wanted: list[str]) -> bool:
    """Every wanted (folded) word starts a word of `name` ("asha r" finds "Asha Rao")."""
    if not name:
        return False
    parts = words(name)
    return all(any(part.startswith(word) for part in parts) for word in wanted)


@dataclass(frozen=True)
class NameQuery:
    """What was typed to find a name, folded into words."""

    words: list[str]

    @property
    def indexed(self) -> list[str]:
        """The words the index can answer (at least `MIN_PREFIX` characters), as looked up."""
        return [word[:MAX_PREFIX] for word in self.words if len(word) >= MIN_PREFIX]

    @property
    def searchable(self) -> bool:
        return bool(self.indexed)

    @property
    def needs_opening(self) -> bool:
        """Whether a word is outside what the index answers exactly (one letter, or longer
        than `MAX_PREFIX`): the names found must then be opened and checked."""
        return any(not MIN_PREFIX <= len(word) <= MAX_PREFIX for word in self.words)


def name_query(text: str) -> NameQuery:
    return NameQuery(words(text))


def named(patients: QuerySet[Patient], query: NameQuery) -> QuerySet[Patient]:
    """The patients of `patients` (not erased) with a word starting with each indexed word of
    `query`: one SQL statement, whatever the tenant holds. Reads the tenant's keys (once inside
    `keys.remembered()`). When `query.needs_opening`, callers check the names found."""
    index_keys = [key for _, key in keys.name_index_keys()]
    for word in query.indexed:
        digests = sorted({crypto.name_digest(key, word) for key in index_keys})
        patients = patients.filter(
            pk__in=PatientNameToken.objects.filter(digest__in=digests).values("patient_id")
        )
    return patients.filter(erased__isnull=True)


@dataclass(frozen=True)
class Candidates:
    """What `named_as_of_now` found: the index's answer, and the patients it cannot answer
    for yet (their names must be opened and checked with `starts_words`)."""

    indexed: QuerySet[Patient]
    unindexed: frozenset[int]


def named_as_of_now(patients: QuerySet[Patient], query: NameQuery) -> Candidates:
    """`named`, current with the event log. The index is as of its projection's position;
    the patients of the name events after it (normally none, or the last second's; more while
    the worker is down or the projection is parked) are left out of its answer and handed
    back in `unindexed`, so a patient registered or renamed a moment ago is found by the new
    name and never by the old one. Reads the position first: rows the projection writes
    meanwhile are at least that new. The cost grows with the lag, and at most it opens every
    patient in reach, as a search without the index did."""
    position = (
        ProjectionState.objects.filter(name=PROJECTION).values_list("position", flat=True).first()
    ) or 0
    renamed = Q(type=PATIENT_UPDATED, data__changed__contains=["name"])
    changed = set(
        Event.objects.filter(position__gt=position)
        .filter(Q(type__in=NAME_EVENTS - {PATIENT_UPDATED}) | renamed)
        .values_list("data__id", flat=True)
    )
    unindexed = (
        patients.filter(pk__in=changed, erased__isnull=True).values_list("pk", flat=True)
        if changed
        else []
    )
    return Candidates(named(patients.exclude(pk__in=changed), query), frozenset(unindexed))


def tokens_of(patient: Patient, index_key: bytes) -> list[PatientNameToken]:
    """The patient's index rows under `index_key` (its key version's): none once erased."""
    if patient.erased is not None or patient.wrapped_key is None:
        return []
    return [
        PatientNameToken(
            patient_id=patient.pk,
            digest=crypto.name_digest(index_key, prefix),
            key_version=patient.key_version,
        )
        for prefix in sorted(prefixes(patient.name or ""))
    ]


def reindex(patient_ids: Iterable[int]) -> int:
    """Replaces the index rows of these patients with their names as they stand now, under
    each patient's key version. Takes no lock, so a replay never holds up the desk; a run
    that read a patient just before a rotation re-wrapped it leaves rows of the old version,
    which searches still find, `retire` keeps the version for, and `rewrap_patients` re-keys
    at its end. Returns the rows made."""
    ids = sorted(set(patient_ids))
    if not ids:
        return 0
    with keys.remembered():
        patients = list(
            Patient.objects.filter(pk__in=ids)
            .only("pk", "uid", "sealed", "wrapped_key", "key_version", "erased")
            .order_by("pk")
        )
        index_keys = dict(keys.name_index_keys())
        rows = [
            row
            for patient in patients
            for row in tokens_of(patient, index_keys[patient.key_version])
        ]
    PatientNameToken.objects.filter(patient_id__in=ids).delete()
    # Another run re-indexing the patient at the same moment made the same rows, or will.
    PatientNameToken.objects.bulk_create(rows, batch_size=5000, ignore_conflicts=True)
    return len(rows)


def behind(version: int) -> list[int]:
    """The patients re-wrapped under `version` whose index rows are of an older one."""
    return sorted(
        PatientNameToken.objects.filter(
            key_version__lt=version,
            patient_id__in=Patient.objects.filter(key_version=version).values("pk"),
        )
        .values_list("patient_id", flat=True)
        .distinct()
    )


def rekey(patients: list[Patient], index_key: bytes) -> None:
    """Re-keys these (locked, re-wrapped) patients' rows under their new key version."""
    PatientNameToken.objects.filter(patient_id__in=[p.pk for p in patients]).delete()
    PatientNameToken.objects.bulk_create(
        [row for patient in patients for row in tokens_of(patient, index_key)],
        batch_size=5000,
        ignore_conflicts=True,
    )
