"""Follow-up questions made stand-alone (the dataset's test split is measured by bench/answers.py;
these are the issue's own examples and each device once)."""

import pytest

from assistant.rewrite import rewrite, standalone_turns


@pytest.mark.parametrize("previous,follow_up,expected", [
    ("Qu'est-ce qu'un conseil citoyen ?", "Et qui en fait partie ?",
     "Qui fait partie d'un conseil citoyen ?"),
    ("Combien de quartiers prioritaires compte la région ?", "Et combien en compte le Nord ?",
     "Combien de quartiers prioritaires compte le Nord ?"),
    ("Combien de quartiers prioritaires compte la région ?", "Et combien de communes ?",
     "Combien de communes compte la région ?"),
    ("Combien de participants les actions de l'IREV ont-elles réunis en 2022 ?", "Et en 2024 ?",
     "Combien de participants les actions de l'IREV ont-elles réunis en 2024 ?"),
    ("Quelle loi a créé les contrats de ville ?", "Que prévoit-elle pour les conseils citoyens ?",
     "Que prévoit la loi qui a créé les contrats de ville pour les conseils citoyens ?"),
    ("Que dit la loi Lamy sur les contrats de ville ?", "et pour les conseils citoyens ?",
     "Que dit la loi Lamy sur les conseils citoyens ?"),
    ("Qu'est-ce que les conseils citoyens ?", "Quel est leur rôle ?",
     "Quel est le rôle des conseils citoyens ?"),
    ("Qui signe les contrats de ville ?", "Quelle est leur échéance ?",
     "Quelle est l'échéance des contrats de ville ?"),
    ("Qu'est-ce qu'un contrat de ville ?", "Qui le signe ?", "Qui signe un contrat de ville ?"),
    ("Qu'est-ce qu'un contrat de ville ?", "Combien de temps dure-t-il ?",
     "Combien de temps un contrat de ville dure-t-il ?"),
    ("Qu'est-ce que le Conseil national des villes ?", "Qui y siège ?",
     "Qui siège dans le Conseil national des villes ?"),
    ("Qu'est-ce que la dotation politique de la ville ?",
     "Quelles communes peuvent bénéficier de celle-ci ?",
     "Quelles communes peuvent bénéficier de la dotation politique de la ville ?"),
    ("Qu'est-ce que le programme de réussite éducative ?",
     "Ce programme concerne-t-il les lycéens ?",
     "Le programme de réussite éducative concerne-t-il les lycéens ?"),
    ("Qu'est-ce que l'Observatoire national de la politique de la ville ?",
     "Que publie-t-il chaque année ?",
     "Que publie l'Observatoire national de la politique de la ville chaque année ?"),
    ("Combien de quartiers prioritaires compte la région ?",
     "Et dans combien de communes se trouvent-ils ?",
     "Dans combien de communes les quartiers prioritaires se trouvent-ils ?"),
    ("Les bailleurs sociaux bénéficient-ils d'un abattement de taxe foncière ?",
     "À qui doivent-ils rendre compte chaque année ?",
     "À qui les bailleurs sociaux doivent-ils rendre compte chaque année ?"),
    # what « avoir » has belongs to its subject; the subject of an inverted question ends
    # before its verb; the article « des » spaCy reads as a preposition stays
    ("Le Conseil national des villes a-t-il des vice-présidents ?", "Qui les désigne ?",
     "Qui désigne les vice-présidents du Conseil national des villes ?"),
    ("Les communes ont-elles des conseils citoyens ?", "Qui les compose ?",
     "Qui compose les conseils citoyens des communes ?"),
    ("Le contrat de ville dure-t-il six ans ?", "Qui le signe ?",
     "Qui signe le contrat de ville ?"),
    # a name after its noun is one phrase with it; a plural pronoun takes a plural phrase
    ("Que dit la loi Lamy sur les conseils citoyens ?", "Et qui les compose ?",
     "Qui compose les conseils citoyens ?"),
    ("Que dit la loi Lamy sur les conseils citoyens ?", "Que prévoit-elle pour les quartiers ?",
     "Que prévoit la loi Lamy pour les quartiers ?"),
    # the term a « qu'est-ce que » defines is the antecedent of an object pronoun too
    ("Qu'est-ce qu'un conseil local de sécurité et de prévention de la délinquance ?",
     "Dans quelles communes le maire doit-il le présider ?",
     "Dans quelles communes le maire doit-il présider un conseil local de sécurité et de "
     "prévention de la délinquance ?"),
    # a quoted name belongs to the noun phrase before it; an article starts another phrase
    ("En quelle année les contrats de ville « quartiers 2030 » ont-ils été signés ?",
     "Qui les signe ?", "Qui signe les contrats de ville « quartiers 2030 » ?"),
    # a possessive names its owner; a name is whole (capitals, « et », a hyphen)
    ("Quand l'Observatoire national de la politique de la ville a-t-il été créé ?",
     "Qui est son président ?",
     "Qui est le président de l'Observatoire national de la politique de la ville ?"),
    ("Où se situe le centre de ressources Pays et Quartiers de Nouvelle-Aquitaine ?",
     "Quand a-t-il été créé ?",
     "Quand le centre de ressources Pays et Quartiers de Nouvelle-Aquitaine a-t-il été créé ?"),
    # « combien en » counts the plural phrase, a complement if need be
    ("Que prévoit la loi Lamy au sujet des conseils citoyens ?", "Combien en compte la région ?",
     "Combien de conseils citoyens compte la région ?"),
    # a place keeps its own preposition; « y » is a place
    ("Quel est le taux de chômage en quartier prioritaire ?",
     "Et dans le reste de l'agglomération ?",
     "Quel est le taux de chômage dans le reste de l'agglomération ?"),
    ("Quel organisme gère la maison du projet de Roubaix ?", "Qui y travaille ?",
     "Qui travaille dans la maison du projet de Roubaix ?"),
    # « leur » before a verb is « à eux »; « ces derniers » the last phrase; a name's gender is
    # not spaCy's guess
    ("Quelles communes reçoivent la dotation politique de la ville ?",
     "Quel montant l'État leur verse-t-il ?",
     "Quel montant l'État verse-t-il aux communes qui reçoivent la dotation politique de la "
     "ville ?"),
    ("Quels liens la convention établit-elle entre les bailleurs et les associations ?",
     "Que doivent faire ces derniers ?", "Que doivent faire les associations ?"),
    ("Depuis quand Amiens Métropole pilote-t-elle le contrat de ville ?",
     "Combien a-t-elle investi ?", "Combien Amiens Métropole a-t-elle investi ?"),
    ("Autour de combien d'axes l'IREV a-t-il construit son programme ?", "Quels sont-ils ?",
     "Quels sont les axes (Autour de combien d'axes l'IREV a-t-il construit son programme) ?"),
    # the counted phrase stops before an inverted subject, which then owns it; a replaced place
    # stops at its verb; a fragment that is no noun phrase replaces nothing
    ("Combien de demi-journées l'IREV a-t-il mises en œuvre en 2022 ?",
     "Combien en étaient consacrées à la qualification ?",
     "Combien de demi-journées de l'IREV étaient consacrées à la qualification ?"),
    ("Combien de demi-journées l'IREV a-t-il mises en œuvre en 2022 ?",
     "Et combien de séminaires ?",
     "Combien de séminaires l'IREV a-t-il mises en œuvre en 2022 ?"),
    ("Combien de QPV la région compte-t-elle ?", "Et combien en compte le Nord ?",
     "Combien de QPV compte le Nord ?"),
    ("Quelle part des femmes résidant en QPV est sans emploi ?",
     "Et dans les quartiers environnants ?",
     "Quelle part des femmes résidant dans les quartiers environnants est sans emploi ?"),
    # a possessive's owner goes after the whole phrase it owns; « la mise en œuvre » is one
    # noun; an interrogative phrase stops before the name that follows it (the subject)
    ("Quels quartiers le nouveau programme de renouvellement urbain concerne-t-il ?",
     "Quel est son coût d'objectif global ?",
     "Quel est le coût d'objectif global du nouveau programme de renouvellement urbain ?"),
    ("Qui suit la mise en œuvre du plan de relance ?", "Quand doit-elle s'achever ?",
     "Quand la mise en œuvre du plan de relance doit-elle s'achever ?"),
    ("Sur quels dispositifs Amiens Métropole s'appuie-t-elle ?", "Qui sont ses partenaires ?",
     "Qui sont les partenaires d'Amiens Métropole ?"),
    # a word glued to « -t-elle » is the verb, whatever spaCy's tag
    ("Quelles actions de prévention la métropole finance-t-elle ?", "Qui sont ses partenaires ?",
     "Qui sont les partenaires de la métropole ?"),
    # a place keeps the preposition spaCy put in the old one's entity, and contracts with the
    # new one's article
    ("Quel est le budget de la ville de Lille ?", "Et Roubaix ?",
     "Quel est le budget de la ville de Roubaix ?"),
    ("Quel est le budget de la ville de Lille ?", "Et le Havre ?",
     "Quel est le budget de la ville du Havre ?"),
    ("Où s'est tenu le séminaire du 28 novembre ?", "Sous l'égide de qui ?",
     "Sous l'égide de qui (Où s'est tenu le séminaire du 28 novembre) ?"),
    # « ce dispositif » stands for the named thing, whatever its own noun
    ("Quel est l'objectif des Cités de l'emploi ?", "Sous quel pilotage ce dispositif est-il "
     "placé ?", "Sous quel pilotage le dispositif des Cités de l'emploi est-il placé ?"),
    # an object pronoun before an inverted verb, even when spaCy reads it as an article
    ("Comment la DIV définit-elle la gestion urbaine de proximité ?",
     "En combien de sous-ensembles l'auteure la décompose-t-elle ?",
     "En combien de sous-ensembles l'auteure décompose-t-elle la gestion urbaine de "
     "proximité ?"),
    # « leur » owned by the previous question's plural, not by a noun of its own question
    ("Combien de communes ont perdu leur éligibilité à la DPV en 2017 ?",
     "Jusqu'à quand court leur garantie ?",
     "Jusqu'à quand court la garantie des communes ?"),
    ("Quel texte a fixé le cadre de référence des Ateliers santé ville ?",
     "Quand le gouvernement a-t-il décidé de généraliser leur démarche ?",
     "Quand le gouvernement a-t-il décidé de généraliser la démarche des Ateliers santé "
     "ville ?"),
])
def test_follow_up_becomes_stand_alone(previous, follow_up, expected):
    assert rewrite(follow_up, [previous]) == expected


def test_a_complete_question_is_left_alone():
    question = "Combien de participants les actions de l'IREV avaient-elles rassemblés en 2021 ?"
    assert rewrite(question, ["Qu'est-ce que l'IREV ?"]) == question
    assert rewrite("Qu'est-ce qu'un contrat de ville ?", []) == "Qu'est-ce qu'un contrat de ville ?"
    # « leur » owned inside the question itself
    own = "Quelles villes ont signé leur contrat de ville en 2015 ?"
    assert rewrite(own, ["Qu'est-ce qu'un conseil citoyen ?"]) == own


def test_turns_are_resolved_one_after_another():
    turns = ["Qu'est-ce qu'un contrat de ville ?", "Qui le signe ?"]
    assert standalone_turns(turns)[1] == "Qui signe un contrat de ville ?"


def test_a_bare_noun_after_de_is_no_antecedent():
    # « les piliers d'intervention »: « intervention » names no thing « celle-ci » could be
    rewritten = rewrite("Par quoi celle-ci les remplace-t-elle ?",
                        ["Quels étaient les piliers d'intervention décidés au niveau national ?"])
    assert "intervention les" not in rewritten and "quoi intervention" not in rewritten
