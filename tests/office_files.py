"""Office files written by the tests themselves (python-docx, odfpy, python-pptx): a note from a
partner, a LibreOffice report, a training-day slide deck."""

import datetime as dt
from pathlib import Path


def make_docx(path: Path) -> Path:
    import docx

    document = docx.Document()
    document.core_properties.title = "Note de cadrage du conseil citoyen de Roubaix"
    document.core_properties.created = dt.datetime(2024, 3, 12)
    document.add_heading("Note de cadrage", level=0)
    document.add_heading("Composition du conseil citoyen", level=1)
    document.add_paragraph("Le conseil citoyen du quartier de l'Alma réunit 24 habitants tirés "
                           "au sort et 8 représentants d'associations locales.")
    document.add_heading("Calendrier", level=1)
    table = document.add_table(rows=3, cols=2)
    for row, (step, date) in zip(table.rows, [("Étape", "Date"),
                                               ("Tirage au sort", "15 avril 2024"),
                                               ("Première séance plénière", "3 juin 2024")],
                                 strict=True):
        row.cells[0].text, row.cells[1].text = step, date
    document.save(str(path))
    return path


def make_odt(path: Path) -> Path:
    from odf import dc, meta, table, text
    from odf.opendocument import OpenDocumentText

    document = OpenDocumentText()
    document.meta.addElement(dc.Title(text="Bilan 2023 de la gestion urbaine de proximité"))
    document.meta.addElement(meta.CreationDate(text="2024-01-30T10:00:00"))
    document.text.addElement(text.H(outlinelevel=1, text="Bilan de la GUSP"))
    document.text.addElement(text.P(text="En 2023, la gestion urbaine et sociale de proximité "
                                          "a organisé 14 diagnostics en marchant dans les "
                                          "quartiers de Lens et de Liévin."))
    grid = table.Table(name="Chiffres")
    grid.addElement(table.TableColumn(numbercolumnsrepeated=2))
    for cells in (("Indicateur", "Valeur"), ("Signalements traités", "312")):
        row = table.TableRow()
        for value in cells:
            cell = table.TableCell()
            cell.addElement(text.P(text=value))
            row.addElement(cell)
        grid.addElement(row)
    document.text.addElement(grid)
    document.save(str(path))
    return path


def make_pptx(path: Path) -> Path:
    import pptx

    deck = pptx.Presentation()
    deck.core_properties.title = "Journée de formation : les contrats de ville 2024-2030"
    deck.core_properties.created = dt.datetime(2024, 5, 14)
    slides = [("Les contrats de ville 2024-2030", "Journée de formation des chefs de projet"),
              ("Calendrier de signature", "Les nouveaux contrats de ville « Engagements "
                                          "Quartiers 2030 » devaient être signés avant le "
                                          "30 juin 2024."),
              ("Gouvernance", "Le pilotage est assuré par l'intercommunalité et le préfet, "
                              "avec un comité de pilotage réuni deux fois par an.")]
    for title, body in slides:
        slide = deck.slides.add_slide(deck.slide_layouts[1])
        slide.shapes.title.text = title
        slide.placeholders[1].text = body
    deck.save(str(path))
    return path
