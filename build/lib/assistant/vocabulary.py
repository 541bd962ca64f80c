"""The field's acronyms and shorthands, spelled out so both retrievers can match the documents.

« Combien de QPV dans la région ? » also searches « quartiers prioritaires de la politique de la
ville » and « Hauts-de-France » (the region this assistant serves)."""

import re

EXPANSIONS = {
    r"qpv": "quartiers prioritaires de la politique de la ville",
    r"quartiers? prioritaires?": "QPV quartiers politique de la ville",
    r"(?:la|notre|cette) région": "Hauts-de-France",
    r"anru": "Agence nationale pour la rénovation urbaine",
    r"npnru": "nouveau programme national de renouvellement urbain",
    r"pru": "projet de renouvellement urbain",
    r"epci": "établissement public de coopération intercommunale",
    r"cgct": "code général des collectivités territoriales",
    r"cch": "code de la construction et de l'habitation",
    r"tfpb": "taxe foncière sur les propriétés bâties",
    r"dsu": "dotation de solidarité urbaine",
    r"dpv": "dotation politique de la ville",
    r"cnv": "Conseil national des villes",
    r"civ": "comité interministériel des villes",
    r"onpv": "Observatoire national de la politique de la ville",
    r"pre": "programme de réussite éducative",
    r"gusp": "gestion urbaine et sociale de proximité",
    r"crpv": "centre de ressources politique de la ville",
    r"anct": "Agence nationale de la cohésion des territoires",
    r"gip": "groupement d'intérêt public",
    r"(?:loi )?lamy": "loi de programmation pour la ville et la cohésion urbaine 2014-173",
    r"(?:loi )?borloo": "loi d'orientation et de programmation pour la ville et la rénovation "
                        r"urbaine 2003-710",
}
_PATTERNS = [(re.compile(rf"\b{p}\b", re.I), text) for p, text in EXPANSIONS.items()]


def expand(query: str) -> str:
    """`query` followed by the spelled-out forms of the shorthands it uses (if any)."""
    extra = [text for _, text in spelled_forms(query)]
    return f"{query} ({'; '.join(extra)})" if extra else query


def spelled_forms(query: str) -> list[tuple[str, str]]:
    """(shorthand as written, spelled-out form) for each shorthand `query` uses."""
    return [(match.group(0), text) for pattern, text in _PATTERNS
            for match in [pattern.search(query)] if match]
