"""Follow-up questions rewritten into stand-alone ones, without an LLM.

« Qu'est-ce qu'un conseil citoyen ? » then « Et qui en fait partie ? » becomes « Qui fait partie
d'un conseil citoyen ? »; « Que publie-t-il chaque année ? » after a question on the
Observatoire becomes « Que publie l'Observatoire … chaque année ? »; « Et en 2024 ? » after
« Combien de participants … en 2022 ? » becomes the same question for 2024.

The antecedent is a noun phrase of the previous question, chosen by spaCy (`fr_core_news_md`)
for gender and number agreement with the pronoun; the pronoun (il, elle, le, la, les, en, y,
leur, celle-ci, ce dispositif…) is replaced where it stands. A fragment without a verb (« Et
pour les conseils citoyens ? ») replaces the part of the previous question it corresponds to: a
year, a date, a preposition group, a place, or the subject."""

import re
from functools import lru_cache

_LEAD = re.compile(r"^\s*(?:et|mais|ou|alors|puis|aussi|idem|même question)\b[\s,]*", re.I)
_GROUPS = [
    r"sur|pour|concernant|quant à|s'agissant de|à propos de|en ce qui concerne",
    r"en|dans|à|au|aux|chez",
]
_PRONOUNS = re.compile(r"\b(?:il|elle|ils|elles|le|la|les|l'|en|y|leur|leurs|celui-ci|celle-ci|"
                       r"ceux-ci|celles-ci|celui|celle|ceux|celles|ce|cet|cette|ces)\b|"
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
    articles = {"le", "la", "les", "l'", "leur", "leurs"}  # « ce N » stays: it refers back
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
    asks = re.match(r"^(?:qui|que|qu'|quel|quelle|quels|quelles|combien|où|quand|comment|"
                    r"pourquoi|à qui|avec qui|par qui|dans quel|est-ce)\b", body, re.I)
    verbless = not any(t.pos_ in {"VERB", "AUX"} for t in doc) and not asks and \
        not re.search(r"-(?:t-)?(?:il|elle|ils|elles)\b", body, re.I)
    if verbless or re.match(r"^(?:celui|celle|ceux|celles)\s+d", body, re.I):
        return _capital(_ellipsis(body, previous)) + " ?"
    replaced = _replace_pronouns(body, previous)
    if replaced is None:  # a short question leans on the previous one; a long one stands alone
        return f"{_capital(body)} ? ({previous})" if len(body.split()) <= 6 else question
    return _capital(replaced) + " ?"


def _counted_follow_up(body: str, previous: str) -> str | None:
    """« combien en compte le Nord » after « Combien de quartiers prioritaires compte… »."""
    if not re.match(r"^combien\s+en\b", body, re.I):
        return None
    counted = re.search(r"\bcombien\s+(d(?:e\s+|')[^?]+?)\s+(?:compte|comptent|y|sont|a|ont|"
                        r"existe|existent|faut|[a-zé]+ent)\b", previous, re.I)
    if not counted:
        return None
    return re.sub(r"^combien\s+en\b", f"combien {counted.group(1)}", body, flags=re.I)


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
        if old:
            rest = previous[old.end():]
            tail = re.search(r"\s(?:et|ou|qui|que|dont|pour|dans|sur|en|à|au|aux)\s", rest)
            end = old.end() + (tail.start() if tail else len(rest))
            return f"{previous[:old.end()]}{new.group('topic')}{previous[end:]}"
        return f"{previous} {fragment}"
    place = [e for e in _parse(fragment).ents if e.label_ == "LOC"]
    old_places = [e for e in _parse(previous).ents if e.label_ == "LOC"]
    if place and old_places:
        old = old_places[-1]
        return previous[:old.start_char] + fragment + previous[old.end_char:]
    phrase = _antecedent(previous, _agreement_of(fragment))
    if phrase and not re.match(r"^(?:celui|celle|ceux|celles)\b", fragment, re.I):
        start = previous.find(phrase)
        if start >= 0:
            return previous[:start] + fragment + previous[start + len(phrase):]
    return f"{fragment} ({previous})"


def _agreement_of(phrase: str) -> tuple[str | None, str | None]:
    doc = _parse(phrase)
    nouns = [t for t in doc if t.pos_ in {"NOUN", "PROPN"}]
    if not nouns:
        return (None, None)
    morph = nouns[0].morph
    return ((morph.get("Gender") or [None])[0], (morph.get("Number") or [None])[0])


# -- antecedents -------------------------------------------------------------------------------

def _phrases(previous: str) -> list[tuple[str, str | None, str | None, bool | None]]:
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
    covered: set[int] = set()
    inverted = _INVERTED.match(previous)
    chunks = list(doc.noun_chunks)
    # a noun with its article that spaCy's chunker missed (« les contrats » before « de ville »)
    heads = sorted([(c.start, c.end, c.root) for c in chunks] + [
        (t.i - 1, t.i + 1, t) for t in doc
        if t.pos_ == "NOUN" and t.i and doc[t.i - 1].pos_ == "DET"
        and doc[t.i - 1].head == t and not any(c.start <= t.i < c.end for c in chunks)])
    for start, end, root in heads:
        if root.pos_ not in {"NOUN", "PROPN"} or start in covered:
            continue
        # a chunk runs on over a following « l'IREV »: it ends before another article (not the
        # one of a complement: « de la ville »)
        end = next((t.i for t in doc[root.i + 1:end]
                    if t.pos_ == "DET" and doc[t.i - 1].pos_ != "ADP"), end)
        while True:
            if end < len(doc) and doc[end].pos_ == "PROPN" and doc[end - 1].pos_ == "NOUN":
                end += 1  # « la loi » + « Lamy »: one name
            elif end + 1 < len(doc) and doc[end].text == "«":  # a quoted name: « quartiers 2030 »
                close = next((t.i for t in doc[end + 1:] if t.text == "»"), None)
                if close is None:
                    break
                end = close + 1
            elif end + 1 < len(doc) and doc[end].lower_ in {"de", "du", "des", "d'", "d’"} \
                    and doc[end + 1].pos_ in {"NOUN", "PROPN", "DET", "ADJ"}:
                nxt = next((c for c in chunks if c.start in {end + 1, end + 2}), None)
                if nxt is None:
                    break
                end = nxt.end
            else:
                break
        if inverted and doc[start].idx < inverted.end("subject") < doc[end - 1].idx + 1:
            # « Le contrat de ville dure-t-il… »: the subject ends before its verb
            end = next(t.i for t in doc[start:end] if t.idx >= inverted.end("subject"))
        covered.update(range(start, end))
        span = doc[start:end]
        text = span.text
        first = span[0].lower_
        before = doc[start - 1].lower_ if start else ""
        counted = before in {"d'", "d’", "de"} and start > 1 and \
            doc[start - 2].lower_ == "combien"  # « combien d' » + « axes opérationnels »
        if before == "combien" or counted:
            text = "les " + re.sub(r"^(?:de\s+|d')", "", text)
        elif first == "combien":  # « Combien de quartiers prioritaires » as one chunk
            text = "les " + re.sub(r"^combien\s+(?:de\s+|d')", "", text, flags=re.I)
        elif before == "des" and span[0].pos_ != "DET" and start > 1 and \
                doc[start - 2].pos_ in {"VERB", "AUX", "PRON"}:  # « ont-elles des conseils »
            text = f"des {text}"
        elif first in {"quel", "quelle", "quels", "quelles"}:
            text = _definite(span)
            if end < len(doc) and doc[end].pos_ in {"VERB", "AUX"}:  # « Quelle loi a créé X »
                text = f"{text} qui {doc[end:].text}"
        morph = root.morph
        subject, owner = _roles(inverted, span)
        if subject is None:
            subject = root.dep_.startswith("nsubj")
        if owner:  # « Le CNV a-t-il des vice-présidents ? »: « les vice-présidents du CNV »
            text = f"{text} {_contract('de', _without_article_case(owner))}"
        found.append((text, (morph.get("Gender") or [None])[0],
                      (morph.get("Number") or [None])[0], subject))
    return found


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
    if number == "Plur":
        article = "les "
    elif rest[:1].lower() in "aeiouéèêhâî":
        article = "l'"
    else:
        article = "la " if gender == "Fem" else "le "
    return article + rest


def _antecedent(previous: str, agreement: tuple[str | None, str | None],
                as_subject: bool = True) -> str | None:
    gender, number = agreement
    best = None
    for rank, (text, g, n, subject) in enumerate(_phrases(previous)):
        fits = (gender is None or g in (None, gender)) and (number is None or n in (None, number))
        # a phrase whose number is known and agrees beats one of unknown number (« Lamy »)
        score = (fits, subject in (None, as_subject), number is not None and n == number, -rank)
        if best is None or score > best[0]:
            best = (score, text)
    return best[1] if best and best[0][0] else None


# -- pronoun replacement -----------------------------------------------------------------------

def _referent(previous: str, agreement: tuple[str | None, str | None],
              as_subject: bool = True) -> str | None:
    """The antecedent as it reads in place of a pronoun: a definite phrase in lower case inside
    the question (« À qui les bailleurs sociaux doivent-ils… », not « À qui Les… »; « Qui
    désigne les vice-présidents… ? », not « … des vice-présidents… »)."""
    phrase = _antecedent(previous, agreement, as_subject)
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
    demo = re.search(r"\b(ce|cet|cette|ces)\s+([\wéèêàç-]+)", text, re.I)
    if demo:
        x = _referent(previous, _agreement_of(demo.group(2)))
        head = demo.group(2).lower().rstrip("s")
        if x and head[:5] in x.lower():
            return _at(text, demo, x)
    # « leur rôle » → « le rôle des conseils citoyens »
    leur = re.search(r"\b(leurs?)\s+([\wéèêàç-]+)", text, re.I)
    if leur:
        x = _referent(previous, (None, None))
        if x:
            plural = leur.group(1).lower() == "leurs"
            gender = _agreement_of(leur.group(2))[0]
            article = "les" if plural else ("la" if gender == "Fem" else "le")
            return _at(text, leur, f"{article} {leur.group(2)} {_contract('de', x)}")
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
        verb_next = nxt is not None and nxt.pos_ in {"VERB", "AUX"}
        after_qui = i == 1 and doc[0].lower_ in {"qui", "que", "qu'"}
        if nxt is not None and i > 0 and (doc[i - 1].pos_ in {"VERB", "AUX"} or
                                          doc[i - 1].text.startswith("-")) \
                and re.search(r"(?:er|ir|re|oir)$", nxt.lower_):
            verb_next = True  # « doit-il le présider »: an infinitive, whatever spaCy says
        if word in {"le", "la", "les", "l'"} and nxt is not None and (
                verb_next and (token.pos_ == "PRON" or doc[i - 1].pos_ in {"VERB", "AUX"}
                               or doc[i - 1].text.startswith("-")) or after_qui):
            x = _referent(previous, _AGREEMENT[word], as_subject=False)
            if x:
                return _drop_and_insert(text, doc, i, x, verb_at_least=True)
        if word == "en" and (verb_next or token.pos_ == "PRON") and nxt is not None:
            counted = re.search(r"\bcombien\s+(d(?:e\s+|')[^?]+?)\s+(?:compte|y|sont|a|ont|"
                                r"existe|faut|[a-zé]+ent)\b", previous, re.I)
            if i > 0 and doc[i - 1].lower_ == "combien" and counted:
                return text[:token.idx] + counted.group(1) + text[token.idx + len(token):]
            x = _referent(previous, (None, None))
            if x:
                return _drop_and_insert(text, doc, i, _contract("de", x), after_object=True)
        if word == "y" and (verb_next or token.pos_ == "PRON"):
            x = _referent(previous, (None, None))
            if x:
                cut = text[:token.idx] + text[token.idx + len(token):]
                return re.sub(r"\bqu'\s*", "que ", re.sub(r"\s{2,}", " ", cut),
                              flags=re.I).strip() + \
                    f" dans {x}"
    return None


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
