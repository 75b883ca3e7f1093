"""Publishing: statistics, disclosure control, figures and the static dashboard site."""
