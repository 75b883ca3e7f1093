"""The data each page's template is filled from, prepared from the Publication alone (already
disclosure-controlled): numbers formatted as the tables show them, rows of cells, figures to draw.
No page markup here: the HTML, headings, prose and captions are in dashboards/templates/."""
