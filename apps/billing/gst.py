"""GST rules, as data and pure functions: what a supply is, its rate on a day, how a
document is numbered and how its tax is split. The sources of each default are in
docs/BILLING-GST.md.

Prices on a bill are what the patient pays, tax included (medicines are sold at MRP, which
includes GST), so a tax rate never changes a bill: it changes how a document splits the
amount into taxable value and tax.
"""

import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.utils.translation import gettext, gettext_noop

from apps.billing.money import ZERO, money

# GST Rules 2017, rule 46(b) and 49(b): at most 16 characters, consecutive, unique for a
# financial year; letters, digits, "-" and "/" only.
MAX_NUMBER_LENGTH = 16


@dataclass(frozen=True)
class Category:
    label: str
    code: str  # SAC (services, 99…) or HSN (goods)
    goods: bool


# Labels in English (the API's choices); `category_label` gives them in the page's language.
CATEGORIES: dict[str, Category] = {
    "consultation": Category(gettext_noop("Consultation"), "999312", goods=False),
    "diagnostics": Category(gettext_noop("Diagnostics and laboratory"), "999316", goods=False),
    "room_rent": Category(gettext_noop("Room rent (non-ICU)"), "999311", goods=False),
    "pharmacy": Category(gettext_noop("Medicines"), "3004", goods=True),
}

CATEGORY_CHOICES = [(key, category.label) for key, category in CATEGORIES.items()]


def category_label(key: str) -> str:
    """A kind of charge as a page shows it, in the page's language."""
    return gettext(CATEGORIES[key].label)


# The bill's own charge kinds: a consultation, a no-show fee and a cancellation fee are all
# consideration for the clinic's health care service (a no-show or cancellation charge is
# taxed as the principal supply: CBIC circular 178/10/2022-GST), so exempt with it.
KIND_CATEGORY = {
    "fee": "consultation",
    "no_show_fee": "consultation",
    "cancellation_fee": "consultation",
}
ITEM = "item"

# The rates the GST Council has notified (percent of the taxable value).
SLABS = frozenset(Decimal(rate) for rate in ("0", "0.25", "1.5", "3", "5", "12", "18", "28", "40"))


@dataclass(frozen=True)
class Rate:
    category: str
    rate: Decimal  # percent; 0 is an exempt supply
    effective_from: date
    # A supply is taxed only when its price per unit (per day for a room) is above this.
    taxable_above: Decimal | None = None

    def applies_to(self, unit_price: Decimal) -> Decimal:
        """The rate for a supply at `unit_price` (0 when it is exempt)."""
        if self.taxable_above is not None and unit_price <= self.taxable_above:
            return ZERO
        return self.rate


# Defaults every tenant starts with; a tenant's own dated rates come on top of them.
GST_START = date(2017, 7, 1)
DEFAULT_RATES = (
    # Notification 12/2017-Central Tax (Rate), entry 74: health care services by a clinical
    # establishment or an authorised medical practitioner are exempt.
    Rate("consultation", ZERO, GST_START),
    Rate("diagnostics", ZERO, GST_START),
    Rate("room_rent", ZERO, GST_START),
    # Notification 04/2022-Central Tax (Rate): non-ICU room rent above ₹5,000 a day, 5%.
    Rate("room_rent", Decimal("5"), date(2022, 7, 18), taxable_above=Decimal("5000.00")),
    # Notification 1/2017-Central Tax (Rate): medicaments (HSN 3004) at 12%; from
    # 22 September 2025 at 5% (56th GST Council meeting, Notification 9/2025-CT (Rate)).
    Rate("pharmacy", Decimal("12"), GST_START),
    Rate("pharmacy", Decimal("5"), date(2025, 9, 22)),
)


def rate_on(category: str, day: date, tenant_rates: list[Rate]) -> Rate:
    """The rate in force for `category` on `day`: the latest that took effect by then; a
    tenant's own rate wins over a default of the same date."""
    candidates = [
        (rate.effective_from, own, rate)
        for own, rates in ((0, DEFAULT_RATES), (1, tenant_rates))
        for rate in rates
        if rate.category == category and rate.effective_from <= day
    ]
    return max(candidates, key=lambda entry: (entry[0], entry[1]))[2]


# State and union territory codes (the first two digits of a GSTIN; CBIC's list), names in
# English (the API's and the documents' stored form); `state_name` gives the page's language.
STATES = {
    "01": gettext_noop("Jammu and Kashmir"),
    "02": gettext_noop("Himachal Pradesh"),
    "03": gettext_noop("Punjab"),
    "04": gettext_noop("Chandigarh"),
    "05": gettext_noop("Uttarakhand"),
    "06": gettext_noop("Haryana"),
    "07": gettext_noop("Delhi"),
    "08": gettext_noop("Rajasthan"),
    "09": gettext_noop("Uttar Pradesh"),
    "10": gettext_noop("Bihar"),
    "11": gettext_noop("Sikkim"),
    "12": gettext_noop("Arunachal Pradesh"),
    "13": gettext_noop("Nagaland"),
    "14": gettext_noop("Manipur"),
    "15": gettext_noop("Mizoram"),
    "16": gettext_noop("Tripura"),
    "17": gettext_noop("Meghalaya"),
    "18": gettext_noop("Assam"),
    "19": gettext_noop("West Bengal"),
    "20": gettext_noop("Jharkhand"),
    "21": gettext_noop("Odisha"),
    "22": gettext_noop("Chhattisgarh"),
    "23": gettext_noop("Madhya Pradesh"),
    "24": gettext_noop("Gujarat"),
    "26": gettext_noop("Dadra and Nagar Haveli and Daman and Diu"),
    "27": gettext_noop("Maharashtra"),
    "29": gettext_noop("Karnataka"),
    "30": gettext_noop("Goa"),
    "31": gettext_noop("Lakshadweep"),
    "32": gettext_noop("Kerala"),
    "33": gettext_noop("Tamil Nadu"),
    "34": gettext_noop("Puducherry"),
    "35": gettext_noop("Andaman and Nicobar Islands"),
    "36": gettext_noop("Telangana"),
    "37": gettext_noop("Andhra Pradesh"),
    "38": gettext_noop("Ladakh"),
    "97": gettext_noop("Other Territory"),
}


def state_name(code: str) -> str:
    """A state's name as a page shows it, in the page's language ("27" → "महाराष्ट्र")."""
    return gettext(STATES[code]) if code in STATES else code


# Union territories without a legislature levy UTGST in place of SGST.
UTGST_STATES = frozenset({"04", "26", "31", "35", "38"})

GSTIN_CHARS = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
GSTIN_SHAPE = re.compile(r"^[0-9]{2}[A-Z]{5}[0-9]{4}[A-Z][1-9A-Z]Z[0-9A-Z]$")


def gstin_check_char(first14: str) -> str:
    """The GSTIN's 15th character: a Luhn mod 36 check over the first fourteen."""
    total = 0
    for index, char in enumerate(first14):
        product = GSTIN_CHARS.index(char) * (2 if index % 2 else 1)
        total += product // 36 + product % 36
    return GSTIN_CHARS[(36 - total % 36) % 36]


def gstin_problem(gstin: str) -> str | None:
    """Why `gstin` is not a GSTIN, or None when it is one."""
    if not GSTIN_SHAPE.match(gstin):
        return "A GSTIN is 15 characters: state code, PAN, entity number, Z, check character."
    if gstin[:2] not in STATES:
        return f"{gstin[:2]} is not a state code."
    if gstin_check_char(gstin[:14]) != gstin[14]:
        return "The GSTIN's check character does not match: check it for a typo."
    return None


def financial_year(day: date) -> int:
    """The year in which the financial year of `day` starts (April to March)."""
    return day.year if day.month >= 4 else day.year - 1


def document_number(series: str, year: int, sequence: int) -> str:
    """`TI/2627/000001`: series, financial year 2026-27, then the sequence."""
    return f"{series}/{year % 100:02d}{(year + 1) % 100:02d}/{sequence:06d}"


@dataclass(frozen=True)
class Split:
    """What a tax-inclusive amount is made of, at one rate and place of supply."""

    taxable: Decimal
    cgst: Decimal
    sgst: Decimal
    igst: Decimal

    @property
    def tax(self) -> Decimal:
        return self.cgst + self.sgst + self.igst

    @property
    def total(self) -> Decimal:
        return self.taxable + self.tax

    def __add__(self, other: "Split") -> "Split":
        return Split(
            self.taxable + other.taxable,
            self.cgst + other.cgst,
            self.sgst + other.sgst,
            self.igst + other.igst,
        )

    def __sub__(self, other: "Split") -> "Split":
        return Split(
            self.taxable - other.taxable,
            self.cgst - other.cgst,
            self.sgst - other.sgst,
            self.igst - other.igst,
        )


NOTHING = Split(ZERO, ZERO, ZERO, ZERO)


def split(amount: Decimal, rate: Decimal, *, inter_state: bool) -> Split:
    """Taxable value = amount × 100 / (100 + rate), rounded to the paisa; the rest is tax,
    IGST across states, else CGST and SGST half each (CGST rounded, SGST the rest)."""
    taxable = money(amount * 100 / (100 + rate))
    tax = amount - taxable
    if inter_state:
        return Split(taxable, ZERO, ZERO, tax)
    cgst = money(tax / 2)
    return Split(taxable, cgst, tax - cgst, ZERO)


ONES = [
    "Zero",
    "One",
    "Two",
    "Three",
    "Four",
    "Five",
    "Six",
    "Seven",
    "Eight",
    "Nine",
    "Ten",
    "Eleven",
    "Twelve",
    "Thirteen",
    "Fourteen",
    "Fifteen",
    "Sixteen",
    "Seventeen",
    "Eighteen",
    "Nineteen",
]
TENS = ["_", "_", "Twenty", "Thirty", "Forty", "Fifty", "Sixty", "Seventy", "Eighty", "Ninety"]


def _below_hundred(n: int) -> str:
    if n < 20:
        return ONES[n]
    tens, ones = divmod(n, 10)
    return TENS[tens] + (f"-{ONES[ones]}" if ones else "")


def _below_thousand(n: int) -> str:
    hundreds, rest = divmod(n, 100)
    words = [f"{ONES[hundreds]} Hundred"] if hundreds else []
    if rest:
        words.append(_below_hundred(rest))
    return " ".join(words)


def _indian(n: int) -> str:
    """An integer in words, grouped as India counts: crore, lakh, thousand."""
    if n == 0:
        return ONES[0]
    words = []
    crores, n = divmod(n, 10_000_000)
    if crores:
        words.append(f"{_indian(crores)} Crore")
    for size, name in ((100_000, "Lakh"), (1_000, "Thousand")):
        count, n = divmod(n, size)
        if count:
            words.append(f"{_below_hundred(count)} {name}")
    if n:
        words.append(_below_thousand(n))
    return " ".join(words)


def amount_in_words(amount: Decimal, language: str = "en") -> str:
    """`Rupees Seven Hundred Ten and Fifty Paise only`, as Indian invoices write totals; in
    Hindi (`language="hi"`) `सात सौ दस रुपये और पचास पैसे मात्र`. The stored documents and the
    API keep the English; a page in Hindi shows the Hindi."""
    rupees, paise = divmod(int(money(amount) * 100), 100)
    if language == "hi":
        return _in_words_hindi(rupees, paise)
    words = f"Rupees {_indian(rupees)}"
    if paise:
        words += f" and {_below_hundred(paise)} Paise"
    return f"{words} only"


# 0 to 99 in Hindi: each number has its own word (इक्कीस, not "बीस एक").
HINDI_BELOW_HUNDRED = [
    "शून्य", "एक", "दो", "तीन", "चार", "पाँच", "छह", "सात", "आठ", "नौ",
    "दस", "ग्यारह", "बारह", "तेरह", "चौदह", "पंद्रह", "सोलह", "सत्रह", "अठारह", "उन्नीस",
    "बीस", "इक्कीस", "बाईस", "तेईस", "चौबीस", "पच्चीस", "छब्बीस", "सत्ताईस", "अट्ठाईस", "उनतीस",
    "तीस", "इकतीस", "बत्तीस", "तैंतीस", "चौंतीस", "पैंतीस", "छत्तीस", "सैंतीस", "अड़तीस", "उनतालीस",
    "चालीस", "इकतालीस", "बयालीस", "तैंतालीस", "चवालीस",
    "पैंतालीस", "छियालीस", "सैंतालीस", "अड़तालीस", "उनचास",
    "पचास", "इक्यावन", "बावन", "तिरपन", "चौवन", "पचपन", "छप्पन", "सत्तावन", "अट्ठावन", "उनसठ",
    "साठ", "इकसठ", "बासठ", "तिरसठ", "चौंसठ", "पैंसठ", "छियासठ", "सड़सठ", "अड़सठ", "उनहत्तर",
    "सत्तर", "इकहत्तर", "बहत्तर", "तिहत्तर", "चौहत्तर", "पचहत्तर", "छिहत्तर", "सतहत्तर", "अठहत्तर", "उन्यासी",
    "अस्सी", "इक्यासी", "बयासी", "तिरासी", "चौरासी", "पचासी", "छियासी", "सत्तासी", "अट्ठासी", "नवासी",
    "नब्बे", "इक्यानबे", "बानबे", "तिरानबे", "चौरानबे", "पचानबे", "छियानबे", "सत्तानबे", "अट्ठानबे", "निन्यानबे",
]  # fmt: skip


def _indian_hindi(n: int) -> str:
    """An integer in Hindi words, grouped as India counts: करोड़, लाख, हज़ार, सौ."""
    if n == 0:
        return HINDI_BELOW_HUNDRED[0]
    words = []
    crores, n = divmod(n, 10_000_000)
    if crores:
        words.append(f"{_indian_hindi(crores)} करोड़")
    for size, name in ((100_000, "लाख"), (1_000, "हज़ार"), (100, "सौ")):
        count, n = divmod(n, size)
        if count:
            words.append(f"{HINDI_BELOW_HUNDRED[count]} {name}")
    if n:
        words.append(HINDI_BELOW_HUNDRED[n])
    return " ".join(words)


def _in_words_hindi(rupees: int, paise: int) -> str:
    words = f"{_indian_hindi(rupees)} {'रुपया' if rupees == 1 else 'रुपये'}"
    if paise:
        words += f" और {HINDI_BELOW_HUNDRED[paise]} {'पैसा' if paise == 1 else 'पैसे'}"
    return f"{words} मात्र"
