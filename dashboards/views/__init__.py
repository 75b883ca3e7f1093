"""The data each page's template is filled from, prepared from the Publication alone (already
disclosure-controlled): numbers formatted as the tables show them, rows of cells, figures to draw.
No markup here: the wording and the HTML are in dashboards/templates/."""
