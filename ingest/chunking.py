"""Structure-aware chunking: headings and French legal units start new chunks.

Chunks are sized with the embedder's own tokenizer, so nothing is silently truncated.
"""

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from llama_index.core import Document
from llama_index.core.schema import TextNode

from ingest.text import article_key, split_sentences

TokenCounter = Callable[[str], int]

_ROMAN = r"(?:[IVXLC]+|premier|première|Ier|unique|préliminaire|PRÉLIMINAIRE|\d+)"
# (level, pattern) - a lower level is a bigger unit. A heading closes every unit at its level or
# below. Articles must be followed by nothing or by a short tail ("(Code…)", ": …", "- …").
_LEGAL_HEADINGS = [
    (1, re.compile(rf"^(?:LIVRE|Livre)\s+{_ROMAN}\b")),
    (2, re.compile(rf"^(?:TITRE|Titre)\s+{_ROMAN}\b")),
    (3, re.compile(rf"^(?:CHAPITRE|Chapitre)\s+{_ROMAN}\b")),
    (4, re.compile(rf"^(?:SECTION|Section)\s+{_ROMAN}\b")),
    (5, re.compile(rf"^(?:Sous-section|SOUS-SECTION)\s+{_ROMAN}\b")),
    (6, re.compile(rf"^(?:Paragraphe|PARAGRAPHE)\s+{_ROMAN}\b")),
    (7, re.compile(
        r"^(?:Article|ARTICLE|Art\.)\s+(?P<num>premier|1er|unique|[LRDA]\.?\s?\*?\d+(?:[-.]\d+)*"
        r"|\d+(?:-\d+)*(?:\s(?:bis|ter|quater|quinquies))?)\s*(?:$|[(:—–.-]\s*.{0,120}$)"
    )),
]
# Lines of legal exports that locate a text rather than say anything: an italic breadcrumb
# (« *Livre premier : … > Titre premier : …* ») or the last-modification note.
_NAVIGATION = re.compile(r"^\s*\*[^*]*(?: > [^*]*|Dernière modification[^*]*)\*\s*$")
_MARKDOWN_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*$")
_BULLET = re.compile(r"^\s*(?:[•●▪◦*-]|\d+°|[IVX]+\.\s?[―—-]|[a-z]\))\s")


@dataclass
class _Sentence:
    text: str
    page: int | None
    tokens: int
    starts_paragraph: bool = False


@dataclass
class _Section:
    path: list[tuple[int, str]] = field(default_factory=list)
    sentences: list[_Sentence] = field(default_factory=list)


def heading_level(line: str) -> tuple[int, str] | None:
    """(level, label) when `line` is a heading or a French legal unit, else None."""
    text = line.strip().strip("*_").strip()
    markdown = _MARKDOWN_HEADING.match(text)
    if markdown:
        text = markdown.group(2).strip().strip("*_").strip()
    for level, pattern in _LEGAL_HEADINGS:
        if pattern.match(text):
            return level, text[:160]
    if markdown:
        # Generic headings sit between the document title (0) and legal units; `#` is the title.
        return max(0, len(markdown.group(1)) - 1), text[:160]
    return None


def split(documents: list[Document], count_tokens: TokenCounter, chunk_size: int,
          chunk_overlap: int, max_tokens: int = 512) -> list[TextNode]:
    """Split the Documents of ONE file (its pages, in order) into TextNodes.

    Each node carries the file metadata plus `section`, `section_path`, `article`,
    `page_start`/`page_end` (1-based, PDFs only) and `chunk_index`.
    """
    if not documents:
        return []
    base = {k: v for k, v in documents[0].metadata.items() if k != "page"}

    def budget_for(labels: list[str]) -> int:
        # The title and section path are embedded with every chunk: they share its budget.
        return max(48, chunk_size - count_tokens(_embed_header(base.get("title"), labels)))

    nodes: list[TextNode] = []
    for section in _sections(documents, count_tokens, budget_for):
        labels = [label for _, label in section.path]
        for sentences in _pack(section.sentences, budget_for(labels), chunk_overlap):
            text, breaks = _join(sentences)
            pages = [s.page for s in sentences if s.page is not None]
            metadata = {
                **base,
                "section": labels[-1] if labels else None,
                "section_path": " › ".join(labels) or None,
                "article": _article_of(section.path),
                "page_start": min(pages) if pages else None,
                "page_end": max(pages) if pages else None,
                "page_breaks": breaks if len(breaks) > 1 else None,
                "chunk_index": len(nodes),
            }
            node = TextNode(id_=f"{base['document_id']}::{len(nodes):04d}", text=text,
                            metadata=metadata)
            node.excluded_embed_metadata_keys = [
                k for k, v in metadata.items() if k not in EMBED_KEYS or v is None
            ]
            node.excluded_llm_metadata_keys = list(metadata)
            node.metadata_template = "{value}"
            embed_tokens = count_tokens(embed_text(node))
            if embed_tokens > max_tokens:
                raise AssertionError(f"chunk of {embed_tokens} tokens exceeds {max_tokens}")
            nodes.append(node)
    return nodes


EMBED_KEYS = ("title", "section_path")


def _join(sentences: list[_Sentence]) -> tuple[str, list[list[int]]]:
    """The chunk's text, and [offset, page] wherever its page changes: a citation then gives
    the page of the sentence it quotes, not the page the chunk starts on."""
    parts, breaks, offset, page = [], [], 0, None
    for i, sentence in enumerate(sentences):
        separator = "" if i == 0 else ("\n" if sentence.starts_paragraph else " ")
        offset += len(separator)
        if sentence.page is not None and sentence.page != page:
            breaks.append([offset, sentence.page])
            page = sentence.page
        parts.append(separator + sentence.text)
        offset += len(sentence.text)
    return "".join(parts).rstrip(), breaks


def embed_text(node: TextNode) -> str:
    """The exact text the embedder sees: title and section path, then the passage."""
    from llama_index.core.schema import MetadataMode

    return node.get_content(metadata_mode=MetadataMode.EMBED)


def _embed_header(title: str | None, labels: list[str]) -> str:
    return "\n".join(filter(None, [title, " › ".join(labels)])) + "\n\n"


def _sections(documents: list[Document], count_tokens: TokenCounter,
              budget_for: Callable[[list[str]], int]) -> Iterator[_Section]:
    section = _Section()
    budget = budget_for([])
    paragraph: list[str] = []
    page: int | None = None

    def flush() -> None:
        text = " ".join(paragraph).strip()
        paragraph.clear()
        for position, sentence in enumerate(_sentences(text)):
            pieces = _fit(sentence, page, count_tokens, budget)
            pieces[0].starts_paragraph = position == 0
            section.sentences.extend(pieces)

    for document in documents:
        page = document.metadata.get("page")
        for line in document.text.splitlines():
            if _NAVIGATION.match(line):
                continue
            heading = heading_level(line)
            if heading:
                flush()
                if section.sentences:
                    yield section
                level, label = heading
                path = [(lvl, lab) for lvl, lab in section.path if lvl < level]
                section = _Section(path=[*path, (level, label)])
                budget = budget_for([lab for _, lab in section.path])
            elif not line.strip():
                flush()
            else:
                if _BULLET.match(line) or paragraph and _stands_alone(paragraph[-1], line):
                    flush()
                paragraph.append(line.strip())
        flush()
    if section.sentences:
        yield section


# A short line without final punctuation, followed by a line that starts a sentence, is a title
# of its own (« Préparer les contrats et renouveler les coopérations » above its first
# paragraph), not the first half of a wrapped sentence: lines of a wrapped paragraph are long, or
# end on a word that needs the next line (« de », « la », « et »…).
_OPEN_END = re.compile(r"(?:[.!?:;,…»)\]]|\b(?:de|du|des|d'|l'|la|le|les|et|ou|à|au|aux|en|par|"
                       r"pour|sur|dans|avec|un|une|que|qui|dont))\s*$", re.I)


def _stands_alone(line: str, following: str) -> bool:
    following = following.strip()
    return (len(line.split()) <= 10 and not _OPEN_END.search(line)
            and following[:1].isupper())


def _sentences(text: str) -> list[str]:
    return split_sentences(text) if text else []


def _fit(sentence: str, page: int | None, count_tokens: TokenCounter,
         budget: int) -> list[_Sentence]:
    """A sentence longer than the budget is cut into word windows: never truncated."""
    tokens = count_tokens(sentence)
    if tokens <= budget:
        return [_Sentence(sentence, page, tokens)]
    words, pieces, current = sentence.split(), [], []
    for word in words:
        if current and count_tokens(" ".join([*current, word])) > budget:
            pieces.append(" ".join(current))
            current = []
        if count_tokens(word) > budget:  # a huge "word" (base64, URL): cut by characters
            pieces.extend(word[i:i + budget] for i in range(0, len(word), budget))
            continue
        current.append(word)
    if current:
        pieces.append(" ".join(current))
    return [_Sentence(p, page, count_tokens(p)) for p in pieces]


def _pack(sentences: list[_Sentence], budget: int, overlap: int) -> Iterator[list[_Sentence]]:
    """Greedy packing under `budget` tokens, carrying up to `overlap` tokens into the next chunk."""
    current: list[_Sentence] = []
    for sentence in sentences:
        # +1 per sentence for the joining space
        if current and sum(s.tokens + 1 for s in current) + sentence.tokens > budget:
            yield current
            carried: list[_Sentence] = []
            for previous in reversed(current):
                if sum(s.tokens for s in carried) + previous.tokens > overlap:
                    break
                carried.insert(0, previous)
            current = carried
            while current and sum(s.tokens + 1 for s in current) + sentence.tokens > budget:
                current.pop(0)
        current.append(sentence)
    if current:
        yield current


def _article_of(path: list[tuple[int, str]]) -> str | None:
    for level, label in reversed(path):
        if level == 7:
            match = _LEGAL_HEADINGS[-1][1].match(label)
            return article_key(match.group("num")) if match else None
    return None
