"""Follow-up questions rewritten into stand-alone ones, without an LLM.

« Qu'est-ce qu'un conseil citoyen ? » then « Et qui en fait partie ? » becomes « Qui fait partie
d'un conseil citoyen ? »; « Que publie-t-il chaque année ? » after a question on the
Observatoire becomes « Que publie l'Observatoire … chaque année ? »; « Et en 2024 ? » after
« Combien de participants … en 2022 ? » becomes the same question for 2024.

The antecedent is a noun phrase of the previous question, built from spaCy's tags
(`fr_core_news_md`: names whole, « de … » complements included, each complement also a phrase
of its own), chosen for gender and number agreement with the pronoun, for its role, and for
« y » a place; the pronoun (il, elle, le, la, les, en, y, leur, son / sa / ses, celle-ci, ces
derniers…) is replaced where it stands. A fragment without a verb (« Et pour les conseils
citoyens ? ») replaces the part of the previous question it corresponds to: a year, a date, a
preposition group, a place, or the subject."""

import re
from functools import lru_cache

_LEAD = re.compile(r"^\s*(?:et|mais|ou|alors|puis|aussi|idem|même question)\b[\s,]*", re.I)
_GROUPS = [
    r"sur|pour|concernant|quant à|s'agissant de|à propos de|en ce qui concerne",
    r"en|dans|à|au|aux|chez",
]
_PRONOUNS = re.compile(r"\b(?:il|elle|ils|elles|le|la|les|l'|en|y|leur|leurs|son|sa|ses|"
                       r"celui-ci|celle-ci|ceux-ci|celles-ci|celui|celle|ceux|celles|"
                       r"ce|cet|cette|ces)\b|"
                       r"-t-(?:il|elle)\b|-(?:il|elle|ils|elles)\b|^qu'y\b", re.I)
_YEAR = re.compile(r"\b(?:19|20)\d{2}\b")
_MONTHS = "janvier|février|mars|avril|mai|juin|juillet|août|septembre|octobre|novembre|décembre"
_DATE = re.compile(rf"\b\d{{1,2}}(?:er)?\s+(?:{_MONTHS})(?:\s+(?:19|20)\d{{2}})?\b", re.I)
_DEFINED = re.compile(r"^\s*(?:qu'est[- ]ce qu(?:e|')|c'est quoi|que (?:signifie|désigne)|"
                      r"qu'appelle-t-on|que sont|à quoi sert|à quoi servent)\s*(?P<term>.+?)"
                      r"\s*\??\s*$", re.I)
_SHORT_WORDS = 5
# (gender, number) a pronoun agrees with; None: any
_AGREEMENT = {
    "il": ("Masc", "Sing"), "le": ("Masc", "Sing"), "celui-ci": ("Masc", "Sing"),
    "celui": ("Masc", "Sing"), "elle": ("Fem", "Sing"), "la": ("Fem", "Sing"),
    "celle-ci": ("Fem", "Sing"), "celle": ("Fem", "Sing"), "ils": (None, "Plur"),
    "ceux-ci": (None, "Plur"), "ceux": (None, "Plur"), "elles": ("Fem", "Plur"),
    "celles-ci": ("Fem", "Plur"), "celles": ("Fem", "Plur"), "les": (None, "Plur"),
    "leurs": (None, "Plur"), "leur": (None, None), "en": (None, None), "y": (None, None),
    "l'": (None, "Sing"),
}


@lru_cache(maxsize=1)
def _nlp():
    import spacy

    return spacy.load("fr_core_news_md", disable=["lemmatizer"])


@lru_cache(maxsize=2048)
def _parse(text: str):
    return _nlp()(text)


def is_follow_up(question: str) -> bool:
    words = question.split()
    return bool(_LEAD.match(question)) or len(words) <= _SHORT_WORDS or (
        len(words) <= 5 * _SHORT_WORDS and bool(_PRONOUNS.search(_without_fixed(question)))
    )


def _without_fixed(question: str) -> str:
    """Pronoun-like words that are not pronouns here: « qu'est-ce que », « en 2024 », « il y a »,
    « y a-t-il », « le/la/les » before a noun."""
    text = re.sub(r"est-ce qu|-t-on\b|\bil y a\b|\by a-t-il\b|\ben (?=\d)|\ben (?:tant|cas|"
                  r"matière|faveur|lien|place|charge|particulier|outre|plus|moyenne|ce qui)\b",
                  " ", question, flags=re.I)
    doc = _parse(text)
    # « ce N », « leur N » stay: they refer back
    articles = {"le", "la", "les", "l'"}
    return " ".join(t.text for t in doc if not (t.lower_ in articles and t.pos_ == "DET"))


def standalone_turns(turns: list[str]) -> list[str]:
    """Raw user turns (OpenAI messages, eval conversations) made stand-alone one after another."""
    resolved: list[str] = []
    for turn in turns:
        resolved.append(rewrite(turn, resolved))
    return resolved


def rewrite(question: str, history: list[str]) -> str:
    """A stand-alone version of `question` given the previous stand-alone questions."""
    if not history or not is_follow_up(question):
        return question
    previous = history[-1].strip().rstrip("?").strip()
    body = _LEAD.sub("", question).strip().rstrip("?").strip()
    if not body:
        return question
    counted = _counted_follow_up(body, previous)
    if counted:
        return _capital(counted) + " ?"
    doc = _parse(body)
    # « Et combien de quartiers prioritaires ? » after « Combien de territoires … compte la
    # région ? »: the same question for another count
    recount = re.match(r"^combien\s+(d(?:e\s+|')\S.*)$", body, re.I)
    before = _counted(previous)
    if recount and before and not any(t.pos_ in {"VERB", "AUX"} for t in doc):
        return _capital(previous[:before[0]] + recount.group(1) + previous[before[1]:]) + " ?"
    asks = re.match(r"^(?:qui|que|qu'|quel|quelle|quels|quelles|combien|où|quand|comment|"
                    r"pourquoi|à qui|avec qui|par qui|dans quel|est-ce|"
                    # « Jusqu'à quand court leur garantie ? » asks, even if spaCy sees no verb
                    r"(?:jusqu'à|jusqu’à|depuis|à partir de|en|à hauteur de|pendant)\s+"
                    r"(?:quand|combien))\b", body, re.I)
    verbless = not any(t.pos_ in {"VERB", "AUX"} for t in doc) and not asks and \
        not re.search(r"-(?:t-)?(?:il|elle|ils|elles)\b", body, re.I)
    if verbless or re.match(r"^(?:celui|celle|ceux|celles)\s+d", body, re.I):
        return _capital(_ellipsis(body, previous)) + " ?"
    replaced = _replace_pronouns(body, previous)
    if replaced is None:  # a short question leans on the previous one; a long one stands alone
        return f"{_capital(body)} ? ({previous})" if len(body.split()) <= 6 else question
    return _capital(replaced) + " ?"


# what a count question counts: « combien de quartiers prioritaires » before its verb
_COUNTED = re.compile(r"\bcombien\s+(d(?:e\s+|')[^?]+?)\s+(?=(?:compte|y|sont|a|ont|existe|"
                      r"faut|[a-zé]+ent)\b)", re.I)


def _counted(previous: str) -> tuple[int, int, int] | None:
    """Where the counted phrase of a count question starts and ends (« de quartiers
    prioritaires »), and where the inverted subject that may follow it ends (« Combien de
    demi-journées | l'IREV | a-t-il… »)."""
    match = _COUNTED.search(previous)
    if not match:
        return None
    start, end = match.span(1)
    for article in re.finditer(r"\s(?:l['’]|(?:le|la|les)\s)", previous[start:end]):
        before = previous[start:start + article.start()]
        if not re.search(r"\b(?:de|d['’]|du|des|à|au|aux|en)$", before):
            return start, start + article.start(), end
    return start, end, end


def _counted_words(previous: str, span: tuple[int, int, int]) -> str:
    """The counted phrase at `span` (`_counted`), owned by the subject that followed it: « de
    demi-journées de l'IREV » for « Combien de demi-journées l'IREV a-t-il… »."""
    start, cut, end = span
    subject = previous[cut:end].strip()
    return f"{previous[start:cut]} {_contract('de', subject)}" if subject else \
        previous[start:cut]


def _counted_follow_up(body: str, previous: str) -> str | None:
    """« combien en compte le Nord » after « Combien de quartiers prioritaires compte… »."""
    if not re.match(r"^combien\s+en\b", body, re.I):
        return None
    # « Combien en compte le Nord ? » has its own subject; « Combien en étaient consacrées… »
    # keeps the previous one's
    own_subject = re.match(r"^(?i:combien\s+en)\s+\S+\s+(?:(?i:le|la|les|l['’]|un|une|ce|"
                           r"cet|cette|ces)\b|[A-Z])", body)
    span = _counted(previous)
    if span:
        what = previous[span[0]:span[1]] if own_subject else _counted_words(previous, span)
    else:  # « Combien en étaient en place ? » after « … au sujet des conseils citoyens »
        plural = _antecedent(previous, (None, "Plur"), as_subject=None)
        if not plural or not re.match(r"^(?:les|des)\s", plural, re.I):
            return None
        what = _contract("de", plural[4:])
    return re.sub(r"^combien\s+en\b", f"combien {what}", body, flags=re.I)


# -- ellipsis ----------------------------------------------------------------------------------

def _ellipsis(fragment: str, previous: str) -> str:
    for pattern in (_DATE, _YEAR):
        new = pattern.search(fragment)
        old = list(pattern.finditer(previous))
        if new and old:
            last = old[-1]
            return previous[:last.start()] + new.group(0) + previous[last.end():]
    for group in _GROUPS:
        new = re.match(rf"^(?P<prep>{group})\s+(?P<topic>.+)$", fragment, re.I)
        if not new:
            continue
        same = list(re.finditer(rf"\b{re.escape(new.group('prep'))}\s+", previous, re.I))
        old = same[-1] if same else next(
            (m for m in re.finditer(rf"\b(?:{group})\s+", previous, re.I)), None)
        if old and not previous[old.end():old.end() + 1].isdigit():  # « en 2014 » stays
            rest = previous[old.end():]
            tail = re.search(r"\s(?:et|ou|qui|que|dont|pour|dans|sur|en|à|au|aux)\s", rest)
            end = old.end() + (tail.start() if tail else len(rest))
            # the replaced phrase stops at its verb: « en QPV | est sans emploi »
            verb = next((t for t in _parse(previous) if t.idx >= old.end() and
                         t.pos_ in {"VERB", "AUX"}), None)
            if verb is not None:
                end = min(end, verb.idx - 1)
            # a topic keeps the previous preposition (« sur » for « pour »); a place takes the
            # fragment's own: « dans le reste des agglomérations » replaces « en … »
            kept = previous[:old.end()] + new.group("topic") if group == _GROUPS[0] else \
                previous[:old.start()] + fragment
            return kept + previous[end:]
        return f"{previous} {fragment}"
    place = [e for e in _parse(fragment).ents if e.label_ == "LOC"]
    old_places = [e for e in _parse(previous).ents if e.label_ == "LOC"]
    if place and old_places:
        old = old_places[-1]
        # spaCy's entity may hold its preposition (« de Lille »): the fragment's place takes it
        kept = re.match(r"(?:de|à|en)\s+|d['’]", old.text, re.I)
        start = old.start_char + (kept.end() if kept else 0)
        return _substitute(previous, start, old.end_char, fragment)
    # « Et le PRU 1 ? » stands in for « la seconde phase du NPNRU »: its gender need not agree
    phrase = _antecedent(previous, (None, _agreement_of(fragment)[1]))
    # only a noun phrase stands in for one (« Et le PRU 1 ? », not « Sous l'égide de qui ? »)
    first = _parse(fragment)[0]
    if phrase and first.pos_ in {"DET", "PROPN", "NOUN"} and \
            not re.match(r"^(?:celui|celle|ceux|celles)\b", fragment, re.I):
        start = previous.find(phrase)
        if start >= 0:
            return _substitute(previous, start, start + len(phrase), fragment)
    return f"{fragment} ({previous})"


_CONTRACTED = {"du": "de", "des": "de", "au": "à", "aux": "à"}


def _substitute(previous: str, start: int, end: int, fragment: str) -> str:
    """`previous` with `fragment` in place of previous[start:end]. A fragment with its own
    article drops the one before the replaced words, and its preposition contracts:
    « … de la MEL » with « le PRU 1 » → « … du PRU 1 », not « … de la le PRU 1 »."""
    head = previous[:start]
    if re.match(r"^(?:le|la|les|l['’]|un|une|des)\b", fragment, re.I):
        head = re.sub(r"(?:\b(?:le|la|les)\s+|\bl['’])$", "", head, flags=re.I)
        joined = re.search(r"\b(de|à|du|des|au|aux)\s+$", head, re.I)
        if joined:
            preposition = _CONTRACTED.get(joined.group(1).lower(), joined.group(1).lower())
            return head[:joined.start()] + _contract(preposition, fragment) + previous[end:]
    return head + fragment + previous[end:]


def _agreement_of(phrase: str) -> tuple[str | None, str | None]:
    doc = _parse(phrase)
    nouns = [t for t in doc if t.pos_ in {"NOUN", "PROPN"}]
    if not nouns:
        return (None, None)
    morph = nouns[0].morph
    return ((morph.get("Gender") or [None])[0], (morph.get("Number") or [None])[0])


# -- antecedents -------------------------------------------------------------------------------

@lru_cache(maxsize=256)  # a rewrite asks for the same question's phrases several times
def _phrases(previous: str) -> tuple[tuple[str, str | None, str | None, bool | None], ...]:
    """Noun phrases of the previous question, widened over their « de … » complements and a
    quoted name (« les contrats « quartiers 2030 » »):
    (text, gender, number, is_subject), the defined term of « qu'est-ce que X » first (and
    standing for a subject or an object: is_subject None)."""
    found = []
    defined = _DEFINED.match(previous + " ?")
    doc = _parse(previous)
    if defined:  # what the conversation is about: subject or object of the follow-up alike
        term = defined.group("term").strip()
        gender, number = _agreement_of(term)
        found.append((term, gender, number, None))
    inverted = _INVERTED.match(previous)
    # the phrases first, then their complements alone (« la politique » of « l'Observatoire
    # national de la politique de la ville » is not what a follow-up is about, unless nothing
    # else agrees)
    for start, end, root, preposition, _ in sorted(_groups(doc), key=lambda g: g[4]):
        if start and doc[start].pos_ == "NOUN" and doc[start - 1].pos_ in {"VERB", "AUX"} \
                and not _named(doc[start]):
            continue  # « a eu lieu », « fait partie »: an idiom, not a thing
        if inverted and doc[start].idx < inverted.end("subject") < doc[end - 1].idx + 1:
            # « Le contrat de ville dure-t-il… »: the subject ends before its verb
            end = next(t.i for t in doc[start:end] if t.idx >= inverted.end("subject"))
        span = doc[start:end]
        text = span.text
        first = span[0].lower_
        before = doc[start - 1].lower_ if start else ""
        counted = before in _BARE_DE and start > 1 and \
            doc[start - 2].lower_ == "combien"  # « combien d' » + « axes opérationnels »
        if preposition in _BARE_DE and span[0].pos_ != "DET" and not counted and \
                not _is_name(root):
            continue  # a bare noun after « de » names no thing: « les piliers d'intervention »
        if before == "combien" or counted:
            text = "les " + re.sub(r"^(?:de\s+|d')", "", text)
        elif first == "combien":  # « Combien de quartiers prioritaires » as one chunk
            text = "les " + re.sub(r"^combien\s+(?:de\s+|d')", "", text, flags=re.I)
        elif before == "des" and span[0].pos_ != "DET" and start > 1 and \
                doc[start - 2].pos_ in {"VERB", "AUX", "PRON"}:  # « ont-elles des conseils »
            text = f"des {text}"
        elif span[0].pos_ != "DET" and (preposition or before) in _ARTICLE_OF:
            text = f"{_ARTICLE_OF[preposition or before]} {text}"  # « des conseils » → « les … »
        elif first in {"quel", "quelle", "quels", "quelles"}:
            text = _definite(span)
            if end < len(doc) and doc[end].pos_ in {"VERB", "AUX"}:  # « Quelle loi a créé X »
                text = f"{text} qui {doc[end:].text}"
        morph = root.morph
        name = _is_name(root)
        # a name is one thing unless its article says otherwise (« aux ARS »); spaCy's gender
        # for names is a guess (« Valenciennes Métropole » masculine)
        plural = re.match(r"^(?:les|des|aux)\s", text, re.I) or before in {"les", "des", "aux"}
        number = (morph.get("Number") or ["Plur" if plural else "Sing" if name else None])[0]
        gender = None if name else (morph.get("Gender") or [None])[0]
        subject, owner = _roles(inverted, span)
        if subject is None:
            subject = root.dep_.startswith("nsubj") and preposition is None
        if owner:  # « Le CNV a-t-il des vice-présidents ? »: « les vice-présidents du CNV »
            text = f"{text} {_contract('de', _without_article_case(owner))}"
        found.append((text, gender, number, subject))
    return tuple(found)


_DE = {"de", "du", "des", "d'", "d’"}
_BARE_DE = {"de", "d'", "d’"}  # « de » without an article of its own
_PUT = {"prise", "prises", "mise", "mises"}
_INVERTED_PRONOUNS = {"t", "il", "elle", "ils", "elles", "on"}
_PUT_WHERE = {"compte", "charge", "œuvre", "oeuvre", "place", "valeur", "relation", "réseau",
              "situation", "cohérence"}
_WHICH = {"quel", "quelle", "quels", "quelles"}
_ARTICLE_OF = {"des": "les", "du": "le", "au": "le", "aux": "les"}
_LOCUTIONS = {"sujet", "propos", "matière", "faveur", "titre", "niveau", "égard", "cœur", "cadre"}
_NOT_NAMES = {"VERB", "AUX", "PRON", "ADP", "DET", "CCONJ", "SCONJ", "ADV", "PUNCT", "NUM"}


def _named(token) -> bool:
    """A capitalised word inside the question: part of a name (« Pays et Quartiers de
    Nouvelle-Aquitaine », « France Médiation »), whatever its tag."""
    return token.i > 0 and token.text[:1].isupper() and token.is_alpha and \
        token.pos_ not in _NOT_NAMES


def _is_name(token) -> bool:
    return token.pos_ == "PROPN" or _named(token)


def _core(doc, i: int) -> int | None:
    """The end of the noun group starting at token i (article, adjectives, nouns and names,
    hyphenated names joined), or None if none starts there."""
    asking = doc[i].lower_ in _WHICH
    j = i + (doc[i].pos_ == "DET" or asking)
    while j < len(doc) and (doc[j].pos_ == "ADJ" and not _named(doc[j]) or
                            doc[j].pos_ == "NUM" and j + 1 < len(doc) and
                            doc[j + 1].pos_ == "NOUN"):
        j += 1  # « la seconde phase », « du 13 juin »
    if j >= len(doc) or not (doc[j].pos_ in {"NOUN", "PROPN"} or _named(doc[j])):
        return None
    j += 1
    while j < len(doc):
        token = doc[j]
        glued = token.text == "-" and not doc[j - 1].whitespace_ and not token.whitespace_
        joined = token.lower_ == "et" and _named(doc[j - 1]) and j + 1 < len(doc) and \
            _named(doc[j + 1])  # « Pays et Quartiers »
        if j + 1 < len(doc) and doc[j + 1].text.startswith("-") and not token.whitespace_ \
                and doc[j + 1].lower_.lstrip("-") in _INVERTED_PRONOUNS:
            break  # « la métropole finance-t-elle »: a word glued to « -t-elle » is its verb
        if asking and _named(token) and doc[j - 1].pos_ == "NOUN":
            break  # « Sur quels programmes Valenciennes Métropole s'appuie-t-elle »: its subject
        if glued or joined or _named(token) or token.pos_ in {"NOUN", "PROPN", "ADJ"} or \
                token.pos_ == "NUM" and doc[j - 1].pos_ in {"NOUN", "PROPN"}:
            j += 1
        elif token.lower_ == "en" and doc[j - 1].lower_ in _PUT and j + 1 < len(doc) and \
                doc[j + 1].lower_ in _PUT_WHERE:
            j += 2  # one noun: « la prise en compte de l'EFH », « la mise en œuvre »
        else:
            break
    return j


def _groups(doc):
    """(start, end, head, preposition, level) of each noun phrase of the question, widened over
    its « de … » complements (« la Maison du projet et de l'habitat des Quatre-Chemins ») and a
    quoted name (level 0); each complement again on its own, up to the same end (level 1;
    preposition: the « de » it came after). « au sujet des conseils citoyens »: the complement
    is the phrase."""
    i = 0
    while i < len(doc):
        end = _core(doc, i) if doc[i].pos_ in {"DET", "NOUN", "PROPN", "ADJ"} or \
            _named(doc[i]) or doc[i].lower_ in _WHICH else None
        if end is None:
            i += 1
            continue
        parts = []
        while end < len(doc):
            k = end + (doc[end].lower_ == "et" and end + 1 < len(doc) and
                       doc[end + 1].lower_ in _DE)
            if doc[k].lower_ in _DE and k + 1 < len(doc) and (sub := _core(doc, k + 1)):
                parts.append((k + 1, sub, _head(doc, k + 1, sub), doc[k].lower_, 1))
                end = sub
            elif doc[end].text == "«" and (close := next(
                    (t.i for t in doc[end + 1:] if t.text == "»"), None)):
                end = close + 1  # a quoted name: « quartiers 2030 »
            else:
                break
        # a complement runs on over the complements after it: « les QPV des Hauts-de-France »
        parts = [(start, end, root, preposition, level)
                 for start, _, root, preposition, level in parts]
        head = _head(doc, i, end)
        if parts and head.lower_ in _LOCUTIONS and i and doc[i - 1].pos_ == "ADP":
            first = parts[0]
            yield first[0], end, first[2], first[3], 0
            yield from parts[1:]
        else:
            yield i, end, head, None, 0
            yield from parts
        i = end


def _head(doc, start: int, end: int):
    return next((t for t in doc[start:end] if t.pos_ in {"NOUN", "PROPN"} or _named(t)),
                doc[end - 1])


# « Le CNV a-t-il des vice-présidents ? »: an inverted question whose subject is named first
# (spaCy's parse of those is unreliable; their shape is not)
_INVERTED = re.compile(r"^\s*(?P<subject>(?:le|la|les|l'|un|une|ce|cet|cette|ces)\s*[^?]+?|"
                       r"(?!(?:quel|quelle|quels|quelles|combien|comment|pourquoi|quand|que|qui|"
                       r"où)\b)[A-ZÀ-Ý][^?]*?)\s+(?P<verb>[\wéèêàç]+)(?:-t)?-(?:il|elle|ils|elles)\b",
                       re.I)
# … and owns what follows « avoir » (« compter », « comporter »…)
_HAVE = {"a", "ont", "compte", "comptent", "possède", "possèdent", "comporte", "comportent",
         "comprend", "comprennent"}


def _roles(match: re.Match | None, span) -> tuple[bool | None, str | None]:
    """Whether the phrase is the subject of an inverted question (`match`: `_INVERTED` on it;
    None: not one), and, for the object of « avoir », its owner."""
    if not match:
        return None, None
    if span.start_char < match.end("subject"):
        return True, None
    return False, match.group("subject") if match.group("verb").lower() in _HAVE else None


def _definite(span) -> str:
    """« Quelle loi » → « la loi », « quels organismes » → « les organismes »."""
    rest = span[1:].text
    number = (span.root.morph.get("Number") or ["Sing"])[0]
    gender = (span.root.morph.get("Gender") or ["Masc"])[0]
    return _article(number == "Plur", gender == "Fem", rest) + rest


def _article(plural: bool, feminine: bool, word: str) -> str:
    """The definite article before `word`, elided before a vowel: « les », « l' », « la »,
    « le »."""
    if plural:
        return "les "
    if word[:1].lower() in "aeiouéèêhâî":
        return "l'"
    return "la " if feminine else "le "


def _antecedent(previous: str, agreement: tuple[str | None, str | None],
                as_subject: bool | None = True, place: bool = False,
                last: bool = False) -> str | None:
    """The phrase of `previous` a pronoun stands for: it agrees, has the pronoun's role
    (`as_subject`; None: either), is a place for « y » (`place`), comes first (last for « ces
    derniers »: `last`, whatever its role)."""
    gender, number = agreement
    best = None
    for rank, (text, g, n, subject) in enumerate(_phrases(previous)):
        fits = (gender is None or g in (None, gender)) and (number is None or n in (None, number))
        # a phrase whose number is known and agrees beats one of unknown number (« Lamy »)
        # « y »: a place, or what « qu'est-ce que… » asked about (« Qui y siège ? »)
        score = (fits, not place or subject is None or _is_place(text),
                 last or as_subject is None or subject in (None, as_subject),
                 number is not None and n == number, rank if last else -rank)
        if best is None or score > best[0]:
            best = (score, text)
    return best[1] if best and best[0][0] else None


_PLACES = re.compile(r"\b(?:quartiers?|qpv|villes?|communes?|territoires?|maisons?|sites?|"
                     r"plateformes?|départements?|régions?|métropoles?|agglomérations?|"
                     r"résidences?|centres?|lieux?|établissements?|écoles?|France|[A-Z][a-zé]+-"
                     r"[A-Z][a-zé]+)\b", re.I)


def _is_place(phrase: str) -> bool:
    """Whether the phrase's head names a place (« la maison du projet », not « l'organisme qui
    gère la maison… »)."""
    head = re.sub(r"^(?:(?:les|le|la|une|un|des|du|aux|au)\s+|l')", "", phrase, flags=re.I)
    # « ville » of « contrats de ville » is no place: a place has its article, or is a name
    return (head != phrase or phrase[:1].isupper()) and bool(_PLACES.match(head))


# -- pronoun replacement -----------------------------------------------------------------------

def _referent(previous: str, agreement: tuple[str | None, str | None],
              as_subject: bool | None = True, place: bool = False,
              last: bool = False) -> str | None:
    """The antecedent as it reads in place of a pronoun: a definite phrase in lower case inside
    the question (« À qui les bailleurs sociaux doivent-ils… », not « À qui Les… »; « Qui
    désigne les vice-présidents… ? », not « … des vice-présidents… »)."""
    phrase = _antecedent(previous, agreement, as_subject, place, last)
    if phrase is None:
        return None
    phrase = _without_article_case(phrase)
    return re.sub(r"^des\s+", "les ", phrase, flags=re.I)


def _contract(preposition: str, phrase: str) -> str:
    """de + le → du, de + les → des, à + le → au, de + un → d'un."""
    lowered = phrase.lower()
    for article, forms in (("le ", {"de": "du ", "à": "au "}), ("les ", {"de": "des ",
                                                                      "à": "aux "})):
        if lowered.startswith(article):
            return forms[preposition] + phrase[len(article):]
    if preposition == "de" and lowered[:1] in "aeiouéèêhâîy":
        return "d'" + phrase
    return f"{preposition} {phrase}"


def _replace_pronouns(body: str, previous: str) -> str | None:
    """`body` with its pronoun replaced by the antecedent; None if nothing was replaced."""
    text = body
    # « celle-ci », « ceux-ci »…, « cette loi », « ce dispositif »: the antecedent itself
    demo = re.search(r"\b(celui-ci|celle-ci|ceux-ci|celles-ci)\b", text, re.I)
    if demo:
        x = _referent(previous, _AGREEMENT[demo.group(1).lower()])
        if x:
            return _at(text, demo, x)
    # « ces derniers », « cette dernière »: the last phrase that agrees
    demo = re.search(r"\b(?:ce|cet|cette|ces)\s+(derni(?:er|ère|ers|ères))\b", text, re.I)
    if demo:
        word = demo.group(1).lower()
        x = _referent(previous, ("Fem" if "è" in word else None,
                                 "Plur" if word.endswith("s") else "Sing"), last=True)
        if x:
            return _at(text, demo, x)
    demo = re.search(r"\b(ce|cet|cette|ces)\s+([\wéèêàç-]+)", text, re.I)
    if demo:
        x = _referent(previous, _agreement_of(demo.group(2)))
        head = demo.group(2).lower().rstrip("s")
        if x and head[:5] in x.lower():
            return _at(text, demo, x)
        # « ce dispositif » after « les Cités de l'emploi »
        named = _named_phrase(previous) if head in _KINDS_OF_THING else None
        if named:
            word = demo.group(2)
            article = _article(demo.group(1).lower() == "ces",
                               _agreement_of(word)[0] == "Fem", word)
            return _at(text, demo, f"{article}{word} {_contract('de', named)}")
    # « Quel budget l'État leur consacre-t-il ? »: « leur » before a verb is « à eux »
    doc = _parse(text)
    dative = next((t for t in doc if t.lower_ == "leur" and t.i + 1 < len(doc)
                   and doc[t.i + 1].pos_ in {"VERB", "AUX"}), None)
    if dative is not None:
        x = _referent(previous, (None, "Plur"), as_subject=False)
        if x:
            return _drop_and_insert(text, doc, dative.i, _contract("à", x))
    # « leur rôle » → « le rôle des conseils citoyens »
    leur = re.search(r"\b(leurs?)\s+([\wéèêàç-]+)", text, re.I)
    if leur and not _has_plural_owner(text[:leur.start()]):  # « les communes … leur budget »
        x = _referent(previous, (None, "Plur"))
        if x:
            plural = leur.group(1).lower() == "leurs"
            gender = _agreement_of(leur.group(2))[0]
            article = _article(plural, gender == "Fem", leur.group(2))
            return _at(text, leur, f"{article}{leur.group(2)} {_contract('de', x)}")
    # « son montant » → « le montant de la convention … », unless the question names its owner
    # first (« Comment un habitant fait-il valoir ses droits »)
    owned = None  # the question with its possessive resolved, if it had one
    own = re.search(r"\b(son|sa|ses)\s+([\wéèêàç-]+)", text, re.I)
    if own and not _has_subject(text[:own.start()]):
        x = _referent(previous, (None, "Sing"))
        if x:
            owner, word = own.group(1).lower(), own.group(2)
            article = _article(owner == "ses", owner == "sa", word)
            # the owner comes after the whole phrase: « son montant d'investissement total » →
            # « le montant d'investissement total du programme »
            doc = _parse(text)
            last = max(t.i for t in doc if t.idx < own.end(2))  # « mise-à-jour »: its last part
            tail = doc[_owned_end(doc, last) - 1]
            ends = max(own.end(2), tail.idx + len(tail))
            text = text[:own.start()] + \
                f"{article}{text[own.start(2):ends]} {_contract('de', x)}" + text[ends:]
            owned = text
    # subject pronoun after the verb: « Que publie-t-il », « Combien … doit-il se réunir »
    inverted = re.search(r"\b([\wéèêàç]+)(-t)?-(il|elle|ils|elles)\b", text, re.I)
    if inverted and _has_subject(text[:inverted.start()]):
        inverted = None  # « Dans quelles communes le maire doit-il… »: the subject is there
    if inverted:
        x = _referent(previous, _AGREEMENT[inverted.group(3).lower()])
        if x:
            before = text[:inverted.start()].strip()
            rest = text[inverted.end():].strip()
            if inverted.group(1).lower() in {"est", "sont"} and not rest:
                # « Quels sont-ils ? » names nothing but the antecedent: the previous question
                # says which ones
                return f"{before} {inverted.group(1)} {x} ({previous})"
            if re.match(r"^(?:que|qu')$", before, re.I) or re.fullmatch(
                    r"(?:quels?|quelles?)", before, re.I):
                return f"{before} {inverted.group(1)} {x}{text[inverted.end():]}"
            # the subject goes before the verb's clitics: « … les quartiers se trouvent-ils »
            clitics = re.search(r"(?:\b(?:ne|n'|se|s'|en|y|le|la|les|l'|lui|leur)\s*)+$",
                                text[:inverted.start()], re.I)
            at = clitics.start() if clitics else inverted.start()
            return f"{text[:at]}{x} {text[at:]}"
    # subject pronoun first: « Elle dure combien de temps »
    subject = re.match(r"^(il|elle|ils|elles)\b", text, re.I)
    if subject:
        x = _referent(previous, _AGREEMENT[subject.group(1).lower()])
        if x:
            return x + text[subject.end():]
    doc = _parse(text)
    for i, token in enumerate(doc):
        word = token.lower_
        nxt = doc[i + 1] if i + 1 < len(doc) else None
        # « la décompose-t-elle », « les cible-t-il »: what an inverted subject follows is a
        # verb, whatever spaCy says
        inverted_next = i + 2 < len(doc) and doc[i + 2].text.startswith("-")
        verb_next = nxt is not None and (nxt.pos_ in {"VERB", "AUX"} or inverted_next)
        after_qui = i == 1 and doc[0].lower_ in {"qui", "que", "qu'"}
        if nxt is not None and i > 0 and (doc[i - 1].pos_ in {"VERB", "AUX"} or
                                          doc[i - 1].text.startswith("-")) \
                and re.search(r"(?:er|ir|re|oir)$", nxt.lower_):
            verb_next = True  # « doit-il le présider »: an infinitive, whatever spaCy says
        if word in {"le", "la", "les", "l'"} and nxt is not None and (
                verb_next and (token.pos_ == "PRON" or doc[i - 1].pos_ in {"VERB", "AUX"}
                               or doc[i - 1].text.startswith("-") or inverted_next)
                or after_qui):
            x = _referent(previous, _AGREEMENT[word], as_subject=False)
            if x:
                return _drop_and_insert(text, doc, i, x, verb_at_least=True)
        if word == "en" and (verb_next or token.pos_ == "PRON") and nxt is not None:
            counted = _counted(previous)
            if i > 0 and doc[i - 1].lower_ == "combien" and counted:
                return text[:token.idx] + previous[counted[0]:counted[1]] + \
                    text[token.idx + len(token):]
            x = _referent(previous, (None, None))
            if x:
                return _drop_and_insert(text, doc, i, _contract("de", x), after_object=True)
        if word == "y" and (verb_next or token.pos_ == "PRON"):
            x = _referent(previous, (None, None), as_subject=None, place=True)
            if x:
                cut = text[:token.idx] + text[token.idx + len(token):]
                return re.sub(r"\bqu'\s*", "que ", re.sub(r"\s{2,}", " ", cut),
                              flags=re.I).strip() + \
                    f" dans {x}"
    return owned


# what « ce dispositif », « cette démarche » may stand for, whatever the thing's own noun
_KINDS_OF_THING = {
    "dispositif", "programme", "projet", "plan", "document", "texte", "outil", "démarche",
    "opération", "fonds", "structure", "organisme", "instance", "action", "label", "réseau",
    "initiative", "politique", "contrat", "convention", "appel", "rapport", "étude", "service",
    "association", "agence", "établissement", "mesure", "aide", "instrument", "cadre",
}


def _named_phrase(previous: str) -> str | None:
    """The previous question's first phrase whose head is a name (« les Cités de l'emploi »,
    not « l'objectif des Cités de l'emploi »)."""
    for text, *_ in _phrases(previous):
        head = re.sub(r"^(?:(?:les|le|la|un|une|des|du|aux|au)\s+|l'|l’)", "", text, flags=re.I)
        if head[:1].isupper() and head != text:
            return _without_article_case(text)
    return None


def _owned_end(doc, i: int) -> int:
    """The end of the phrase a possessive owns from token i: its adjectives and its bare « de »
    complements (« montant d'investissement total », not « montant de la commune »)."""
    j = i + 1
    while j < len(doc):
        if doc[j].pos_ == "ADJ" and not _named(doc[j]):
            j += 1
        elif doc[j].lower_ in _BARE_DE and j + 1 < len(doc) and \
                doc[j + 1].pos_ == "NOUN":
            j += 2
        else:
            break
    return j


def _has_plural_owner(before: str) -> bool:
    """« Comment les communes gèrent-elles leur… »: a plural noun before « leur » owns it."""
    return before.strip() != "" and any(
        t.pos_ in {"NOUN", "PROPN"} and "Plur" in t.morph.get("Number") for t in _parse(before))


def _has_subject(before: str) -> bool:
    doc = _parse(before) if before.strip() else []
    tokens = list(doc)
    for i, token in enumerate(tokens):
        if token.pos_ == "PROPN" or token.text[:1].isupper() and i > 0:
            return True
        if token.pos_ == "DET" and token.lower_ not in {"quel", "quelle", "quels", "quelles"} \
                and i + 1 < len(tokens) and tokens[i + 1].pos_ in {"NOUN", "PROPN", "ADJ"} \
                and not (i > 0 and tokens[i - 1].pos_ == "ADP"):
            return True
    return False


def _without_article_case(phrase: str) -> str:
    return phrase[:1].lower() + phrase[1:] if phrase[:2].lower() in {"le", "la", "l'", "un",
                                                                    "de"} else phrase


def _at(text: str, match: re.Match, replacement: str) -> str:
    return text[:match.start()] + replacement + text[match.end():]


def _drop_and_insert(text: str, doc, i: int, phrase: str, after_object: bool = False,
                     verb_at_least: bool = False) -> str:
    """Remove the pronoun at token i; put `phrase` after its verb (and, for « en », after the
    verb's object: « attribue les crédits » + « de la DPV »)."""
    token = doc[i]
    j = i + 1
    while j < len(doc) and (doc[j].pos_ in {"VERB", "AUX"} or doc[j].text.startswith("-")
                            or verb_at_least and j == i + 1):
        j += 1
    if after_object:
        k = j
        while k < len(doc) and doc[k].pos_ in {"DET", "ADJ", "NOUN"}:
            k += 1
        if k > j and any(t.pos_ == "NOUN" for t in doc[j:k]):
            j = k
    end_char = doc[j - 1].idx + len(doc[j - 1])
    return (text[:token.idx] + text[token.idx + len(token):end_char].lstrip() + " " + phrase
            + text[end_char:]).replace("  ", " ")


def _capital(text: str) -> str:
    text = re.sub(r"\bde les\b", "des", text.strip())
    text = re.sub(r"\bde le\b(?= [a-zà-ÿ]+(?: |$))", "du", text)
    text = re.sub(r"\bà les\b", "aux", text)
    return text[:1].upper() + text[1:]
