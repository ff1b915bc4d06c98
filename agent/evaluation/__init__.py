"""Answer quality on a question set (``zoomqa eval answers`` / ``eval nuggets``): structure,
citations, support, nugget recall, anchor accuracy, refusals, tool accuracy, latency."""
